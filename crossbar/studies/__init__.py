"""Uses: hardware-aware training, drift evaluation, sweeps over many chips, device studies, energy
estimates, ANN-to-SNN conversion curves, the STDP digits study, and their text reports.
"""

from ._conversion_study import ann_accuracy as ann_accuracy
from ._conversion_study import conversion_curve as conversion_curve
from ._conversion_study import format_conversion as format_conversion
from ._conversion_study import plot_conversion as plot_conversion
from ._conversion_study import train_ann as train_ann
from ._device_study import STUDY_TIMES as STUDY_TIMES
from ._device_study import device_study as device_study
from ._device_study import format_study as format_study
from ._energy import EnergyModel as EnergyModel
from ._energy import estimate_energy as estimate_energy
from ._energy_report import EnergyReport as EnergyReport
from ._predict import Predict as Predict
from ._reports import DRIFT_TIMES as DRIFT_TIMES
from ._reports import format_drift_table as format_drift_table
from ._reports import format_duration as format_duration
from ._stdp_study import stdp_digits as stdp_digits
from ._sweep import sweep as sweep
from ._sweep_result import SweepResult as SweepResult
from ._train import TrainStep as TrainStep
from ._train import evaluate_drift as evaluate_drift
from ._train import train as train
