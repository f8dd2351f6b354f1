"""Physics of one population of memristive cells. Knows nothing of crossbars.

Every model has `program(key, g_target) -> state` and `read(key, state, t) -> g`, conductances
in microsiemens and `t` in seconds since programming; see `AbstractDevice`.
"""

from . import checks as checks
from ._abstract import AbstractDevice as AbstractDevice
from ._abstract import ohmic as ohmic
from ._effects import Quantised as Quantised
from ._effects import StuckAt as StuckAt
from ._effects import StuckAtState as StuckAtState
from ._effects import Variability as Variability
from ._effects import VariabilityState as VariabilityState
from ._effects import round_ste as round_ste
from ._fit import fit_clipped_line as fit_clipped_line
from ._fit import fit_drift as fit_drift
from ._fit import fit_pcm as fit_pcm
from ._fit import fit_programming_noise as fit_programming_noise
from ._ideal import Ideal as Ideal
from ._ideal import IdealState as IdealState
from ._pcm import PCM as PCM
from ._pcm import PCMState as PCMState
from ._pulse_models import ConstantStep as ConstantStep
from ._pulse_models import ExpStep as ExpStep
from ._pulse_models import LinearStep as LinearStep
from ._pulse_models import PowStep as PowStep
from ._pulse_models import SoftBounds as SoftBounds
from ._pulsed import AbstractPulsedDevice as AbstractPulsedDevice
from ._pulsed import PulsedParams as PulsedParams
from ._pulsed import PulsedState as PulsedState
from ._pulsed import PulseSpread as PulseSpread
from ._random import fold as fold
from ._random import normal as normal
from ._random import normal_slice as normal_slice
from ._random import uniform as uniform
from ._rram import RRAMCMO as RRAMCMO
from ._rram import RRAMMilo2021 as RRAMMilo2021
from ._rram import RRAMState as RRAMState
from ._rram import RRAMWan2022 as RRAMWan2022
from ._stats import AbstractStatistic as AbstractStatistic
from ._stats import LogLinear as LogLinear
from ._stats import Piecewise as Piecewise
from ._stats import Polynomial as Polynomial
from ._stats import PowerLaw as PowerLaw
