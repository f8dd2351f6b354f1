"""crossbar-jax: everything built from devices.

Mapping, periphery, tiles, layers, training, evaluation, energy, studies, data and the command
line. Device physics lives in the sibling package `devices`.
"""

from . import allocator
from . import data as data
from . import models as models
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
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
from ._conv import AnalogConv2d as AnalogConv2d
from ._conv import ChannelNorm as ChannelNorm
from ._conv import fold_norms as fold_norms
from ._conversion_study import ann_accuracy as ann_accuracy
from ._conversion_study import conversion_curve as conversion_curve
from ._conversion_study import format_conversion as format_conversion
from ._conversion_study import plot_conversion as plot_conversion
from ._conversion_study import train_ann as train_ann
from ._convert import convert as convert
from ._converters import ADC as ADC
from ._converters import DAC as DAC
from ._demo import format_drift_table as format_drift_table
from ._device_study import DEMO_TIMES as DEMO_TIMES
from ._device_study import device_study as device_study
from ._device_study import format_study as format_study
from ._encoders import Encoder as Encoder
from ._encoders import direct_encode as direct_encode
from ._encoders import latency_encode as latency_encode
from ._encoders import rate_encode as rate_encode
from ._energy import EnergyModel as EnergyModel
from ._energy import estimate_energy as estimate_energy
from ._energy_report import EnergyReport as EnergyReport
from ._io import atomic_write_bytes as atomic_write_bytes
from ._io import atomic_write_json as atomic_write_json
from ._layer import AbstractAnalogLayer as AbstractAnalogLayer
from ._layer import AbstractAnalogWrapper as AbstractAnalogWrapper
from ._layer import AnalogState as AnalogState
from ._lif import LIF as LIF
from ._lif import AbstractNeuron as AbstractNeuron
from ._lif import AbstractSurrogate as AbstractSurrogate
from ._lif import arctan as arctan
from ._lif import fast_sigmoid as fast_sigmoid
from ._lif import straight_through as straight_through
from ._lif import triangle as triangle
from ._linear import AnalogLinear as AnalogLinear
from ._mapping import AbstractMapping as AbstractMapping
from ._mapping import BitSliced as BitSliced
from ._mapping import Differential as Differential
from ._mapping import Offset as Offset
from ._network import SpikingNetwork as SpikingNetwork
from ._nir import export_nir as export_nir
from ._nir import import_nir as import_nir
from ._pooling import Flatten as Flatten
from ._pooling import MaxPool2d as MaxPool2d
from ._stdp import STDP as STDP
from ._stdp import PlasticLinear as PlasticLinear
from ._stdp import to_pulses as to_pulses
from ._stdp_study import stdp_digits as stdp_digits
from ._sweep import sweep as sweep
from ._sweep_result import SweepResult as SweepResult
from ._tile import Tile as Tile
from ._tile import ideal_tile as ideal_tile
from ._train import TrainStep as TrainStep
from ._train import evaluate_drift as evaluate_drift
from ._train import train as train
from .models import spiking_cnn as spiking_cnn

allocator.tune()
