"""crossbar-jax: everything built from devices.

Mapping, periphery, tiles, layers, training, evaluation, energy, studies, data and the command
line. Device physics lives in the sibling package `devices`.
"""

from ._device_study import DEMO_TIMES as DEMO_TIMES
from ._device_study import device_study as device_study
from ._device_study import format_study as format_study
from ._io import atomic_write_bytes as atomic_write_bytes
from ._io import atomic_write_json as atomic_write_json
