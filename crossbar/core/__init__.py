"""The crossbar core: converters, mappings, the tile and its MVM kernels, the circuit (IR drop),
drift compensation, the analog-layer interface, and programming and reading a chip.

Data flows `weights -> mapping -> device -> conductances -> DAC -> crossbar -> ADC -> outputs`;
every module here sits below the layers (`crossbar.nn`) and imports none of them.
"""

from ._analog_mvm import analog_mvm as analog_mvm
from ._checks import value_checks as value_checks
from ._chip import analog_layers as analog_layers
from ._chip import as_digital as as_digital
from ._chip import at_time as at_time
from ._chip import map_tiles as map_tiles
from ._chip import program as program
from ._chip import sample_chip as sample_chip
from ._circuit import IRDrop as IRDrop
from ._circuit import ir_drop_aihwkit as ir_drop_aihwkit
from ._circuit import solve_ir_drop as solve_ir_drop
from ._converters import ADC as ADC
from ._converters import DAC as DAC
from ._layer import AbstractAnalogLayer as AbstractAnalogLayer
from ._layer import AbstractAnalogWrapper as AbstractAnalogWrapper
from ._layer import AnalogState as AnalogState
from ._mapping import AbstractMapping as AbstractMapping
from ._mapping import BitSliced as BitSliced
from ._mapping import Differential as Differential
from ._mapping import Offset as Offset
from ._tile import Tile as Tile
from ._tile import ideal_tile as ideal_tile
