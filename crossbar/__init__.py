"""crossbar-jax: everything built from devices.

Mapping, periphery, tiles, layers, training, evaluation, energy, studies, data and the command
line. Device physics lives in the sibling package `devices`.
"""

from ._chip import analog_layers as analog_layers
from ._chip import at_time as at_time
from ._chip import program as program
from ._chip import sample_chip as sample_chip
from ._converters import ADC as ADC
from ._converters import DAC as DAC
from ._device_study import DEMO_TIMES as DEMO_TIMES
from ._device_study import device_study as device_study
from ._device_study import format_study as format_study
from ._io import atomic_write_bytes as atomic_write_bytes
from ._io import atomic_write_json as atomic_write_json
from ._linear import AbstractAnalogLayer as AbstractAnalogLayer
from ._linear import AnalogLinear as AnalogLinear
from ._linear import AnalogState as AnalogState
from ._mapping import AbstractMapping as AbstractMapping
from ._mapping import BitSliced as BitSliced
from ._mapping import Differential as Differential
from ._mapping import Offset as Offset
from ._tile import Tile as Tile
