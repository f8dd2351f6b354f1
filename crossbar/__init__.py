"""crossbar-jax: memristor crossbars, from device physics to spiking networks and their energy.

The package is layered as the flow of data (README, "Architecture"); each layer is a public
namespace, and the names most programs use are re-exported here:

- `devices` (a sibling package): device physics, conductances in microsiemens.
- `crossbar.core`: converters, mappings, `Tile`, the MVM kernels, IR drop, drift compensation,
  the analog-layer interface, and programming and reading a chip.
- `crossbar.nn`: analog layers, spiking neurons, encoders, `SpikingNetwork`, plastic layers,
  conversion.
- `crossbar.io`: checkpoints, NIR, atomic writes; `crossbar.data`: the datasets.
- `crossbar.studies`: training, drift evaluation, sweeps, device studies, energy, reports.
- `crossbar.models`: the model factory the tools use; `crossbar.cli`: the command line and demo.
"""

import importlib

from . import allocator as allocator
from . import core as core
from . import data as data
from . import io as io
from . import models as models
from . import nn as nn
from . import studies as studies
from .core import ADC as ADC
from .core import DAC as DAC
from .core import AbstractAnalogLayer as AbstractAnalogLayer
from .core import AbstractAnalogWrapper as AbstractAnalogWrapper
from .core import AbstractMapping as AbstractMapping
from .core import AnalogState as AnalogState
from .core import BitSliced as BitSliced
from .core import Differential as Differential
from .core import IRDrop as IRDrop
from .core import Offset as Offset
from .core import Tile as Tile
from .core import as_digital as as_digital
from .core import at_time as at_time
from .core import map_tiles as map_tiles
from .core import program as program
from .core import sample_chip as sample_chip
from .core import solve_ir_drop as solve_ir_drop
from .core import value_checks as value_checks
from .io import export_nir as export_nir
from .io import import_nir as import_nir
from .io import load_checkpoint as load_checkpoint
from .io import save_checkpoint as save_checkpoint
from .nn import ALIF as ALIF
from .nn import LIF as LIF
from .nn import STDP as STDP
from .nn import AbstractNeuron as AbstractNeuron
from .nn import AbstractSurrogate as AbstractSurrogate
from .nn import AnalogConv2d as AnalogConv2d
from .nn import AnalogLinear as AnalogLinear
from .nn import ArcTan as ArcTan
from .nn import ChannelNorm as ChannelNorm
from .nn import Encoder as Encoder
from .nn import FastSigmoid as FastSigmoid
from .nn import Flatten as Flatten
from .nn import MaxPool2d as MaxPool2d
from .nn import PlasticLinear as PlasticLinear
from .nn import Recurrent as Recurrent
from .nn import SpikingNetwork as SpikingNetwork
from .nn import StraightThrough as StraightThrough
from .nn import Synaptic as Synaptic
from .nn import Triangle as Triangle
from .nn import convert as convert
from .nn import fold_norms as fold_norms
from .studies import EnergyModel as EnergyModel
from .studies import EnergyReport as EnergyReport
from .studies import Predict as Predict
from .studies import SweepResult as SweepResult
from .studies import TrainStep as TrainStep
from .studies import ann_accuracy as ann_accuracy
from .studies import conversion_curve as conversion_curve
from .studies import device_study as device_study
from .studies import estimate_energy as estimate_energy
from .studies import evaluate_drift as evaluate_drift
from .studies import stdp_digits as stdp_digits
from .studies import sweep as sweep
from .studies import train as train
from .studies import train_ann as train_ann

#: Names this namespace held before the layers had namespaces of their own: they keep working
#: (`crossbar.format_study`, `from crossbar import arctan`), each from its layer.
_MOVED = {
    "analog_layers": "core",
    "ideal_tile": "core",
    "ir_drop_aihwkit": "core",
    "arctan": "nn",
    "fast_sigmoid": "nn",
    "straight_through": "nn",
    "triangle": "nn",
    "direct_encode": "nn",
    "latency_encode": "nn",
    "rate_encode": "nn",
    "to_pulses": "nn",
    "atomic_write_bytes": "io",
    "atomic_write_json": "io",
    "format_conversion": "studies",
    "format_drift_table": "studies",
    "format_study": "studies",
    "plot_conversion": "studies",
    "spiking_cnn": "models",
}
_RENAMED = {"DEMO_TIMES": ("studies", "STUDY_TIMES")}


def __getattr__(name: str):
    if name in _MOVED:
        return getattr(importlib.import_module(f"{__name__}.{_MOVED[name]}"), name)
    if name in _RENAMED:
        where, new = _RENAMED[name]
        return getattr(importlib.import_module(f"{__name__}.{where}"), new)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


allocator.tune()
