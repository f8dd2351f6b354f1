"""Layers: analog linear and convolutional layers, spiking neurons and their surrogates, encoders,
pooling, the spiking network, plastic (STDP) layers, and ANN-to-SNN conversion.

A layer acts on one example; batch with `jax.vmap`.
"""

from ._cells import ALIF as ALIF
from ._cells import Synaptic as Synaptic
from ._conv import AnalogConv2d as AnalogConv2d
from ._convert import convert as convert
from ._encoders import Encoder as Encoder
from ._encoders import direct_encode as direct_encode
from ._encoders import latency_encode as latency_encode
from ._encoders import rate_encode as rate_encode
from ._lif import LIF as LIF
from ._lif import AbstractNeuron as AbstractNeuron
from ._lif import AbstractSurrogate as AbstractSurrogate
from ._lif import ArcTan as ArcTan
from ._lif import FastSigmoid as FastSigmoid
from ._lif import StraightThrough as StraightThrough
from ._lif import Triangle as Triangle
from ._lif import arctan as arctan
from ._lif import fast_sigmoid as fast_sigmoid
from ._lif import straight_through as straight_through
from ._lif import triangle as triangle
from ._linear import AnalogLinear as AnalogLinear
from ._network import SpikingNetwork as SpikingNetwork
from ._norms import ChannelNorm as ChannelNorm
from ._norms import fold_norms as fold_norms
from ._pooling import Flatten as Flatten
from ._pooling import MaxPool2d as MaxPool2d
from ._recurrent import Recurrent as Recurrent
from ._stdp import STDP as STDP
from ._stdp import PlasticLinear as PlasticLinear
from ._stdp import to_pulses as to_pulses
