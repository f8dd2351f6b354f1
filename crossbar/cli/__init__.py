"""The command line (`crossbar train | evaluate | energy | sweep | convert | study | demo`) and
the demo it runs.
"""

from ._demo import run_demo as run_demo
from ._main import build_parser as build_parser
from ._main import main as main
