"""One crossbar's configuration (`Tile`), the grid of tiles a layer needs, and the ideal tile.
The analog matrix-vector product itself is `crossbar._analog_mvm`."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import equinox as eqx
import jax
from jaxtyping import Array

import devices
from devices.checks import (
    check_int,
    check_nonnegative,
    check_positive,
    is_real,
    is_zero,
    scalar_value,
)

from ._circuit import IRDrop
from ._converters import ADC, DAC
from ._mapping import AbstractMapping, Differential

#: The largest output or weight noise a Tile accepts, tile units.
MAX_NOISE = 1e3
#: The float fields of a Tile whose value 0 turns their part off (nothing drawn).
OPTIONAL = ("out_noise", "w_noise", "adc_offset", "adc_gain")


class Tile(eqx.Module):
    """The configuration of one crossbar array and its periphery.

    A layer larger than `rows x cols` weights is split over a grid of such tiles, each with
    its own DAC scaling, ADC and bound management; the partial outputs are summed digitally.
    The forward pass of one tile, in aihwkit's order (`forwardVector` of its
    `InferenceRPUConfig`):

    1. input scale `alpha` of the tile's input slice (`dac.scaling`); an all-zero input gives
       an exact zero output;
    2. DAC: `x~ = clip(rint((x / alpha) / r_in) r_in, -b_in, b_in)`;
    3. `y = W x~` with `W` the conductances in tile units (`mapping`);
    4. short-term weight noise, output-referred: `"additive"`: `y += w_noise ||x~|| xi`;
       `"pcm"`: `y += w_noise sqrt(sum_j |W_ij| x~_j^2) xi` (no per-example weight copies);
    5. output noise `y += out_noise xi`, then the ADC (round, then clip);
    6. `bound_management="iterative"`: while an output clips, repeat from 2 with the input
       scale halved, until the reduction exceeds `max_bm_res / r_in` or `max_bm_factor`;
    7. `y * alpha * reduction`, then the digital periphery: times the weight scale, sum over
       row tiles, drift compensation, bias.

    **Arguments:**

    - `device`: the `devices` model of every cell (default `devices.Ideal()`).
    - `mapping`: `Differential()` (default), `Offset()` or `BitSliced()`.
    - `dac`, `adc`: the converters (defaults: aihwkit's 7-bit DAC and 9-bit ADC, bound 12).
    - `out_noise`: standard deviation of the output noise in tile units (default 0).
    - `w_noise`, `w_noise_type`: short-term weight noise and its kind, `"additive"` or `"pcm"`.
    - `bound_management`: `"none"` (default) or `"iterative"`; `max_bm_factor` (1000) and
      `max_bm_res` (0.25) bound its reductions as in aihwkit.
    - `rows`, `cols`: the tile size in weights (default 512 x 512).
    - `v_read`: the read voltage of a full-scale input, V (default 0.2); `read_time`: the
      duration of one read, s (default 10 ns); both for energy estimates.
    - `train_time`: `(t_min, t_max)`, seconds: before programming, each forward pass reads the
      sampled chip at a time drawn log-uniformly from this range (default `(1.0, 1.0)`).
    - `drift_compensation`: `"global"` (default), `"column"` or `"none"`: how `at_time`
      rescales outputs, `alpha = r0 / r_t`, from a reference readout right after
      programming (`r0`) and at the read (`r_t`): one factor per layer, or one per output.
    - `drift_reference`: what the reference reads (see `crossbar._drift`).
      `"calibration"` (default): `CALIBRATION_VECTORS` calibration inputs drive every row of
      every tile at once (random signs, an amplitude that fills a third of the ADC range),
      through the tile's own DAC, noise, circuit and ADC, and `r` is the least-squares gain
      of what the ADC reads on what the programmed targets should give. Many rows per output
      make the readouts many ADC steps large, so `r` is well conditioned at every ADC
      resolution (tested at 3 to 8 bits: the factor within a few percent of the true mean
      drift). `"one_hot"`: aihwkit's `GlobalDriftCompensation` readout, mean `|y|` of the
      responses to one-hot inputs, for equivalence with aihwkit; it breaks at coarse ADCs,
      where one weight against one ADC step rounds to zero (at 4 bits, bound 10, a factor of
      20 to 1000 instead of 2), and is why it is not the default.

    The circuit (step 3 computed from currents instead of `W x~`):

    - `ir_drop`: `crossbar.IRDrop(r_wire=...)` for resistive wires (the exact nodal solve, or
      aihwkit's approximation), or None (default: ideal wires).
    - `nonlinear_iv`: the cells follow `device.current(g, v)` at `v = v_read x~` instead of
      Ohm's law (default False), in the ideal and in the IR-drop solve.
    - `i_max`: the largest current a column amplifier takes, uA (saturating beyond; default
      None, no limit).
    - `adc_offset`, `adc_gain`: standard deviations of each ADC's offset (tile output units)
      and relative gain error, drawn once per chip at programming (default 0).

    **Data and structure.** Every float (noise levels, bounds, voltages, times, the device's
    coefficients) is a leaf of the tree and may be an array: `jax.vmap` runs over its values
    and a new value is no new program under `eqx.filter_jit` when it is an array
    (`crossbar.sweep` does this). What shapes the program is static: modes, tile sizes, bit
    counts, the device's class, the mapping, `train_time`, whether `i_max` / `ir_drop` are
    set, and whether each of `OPTIONAL` is on (off where its value is the number 0; see
    `Tile.has`). Train with `eqx.filter_grad` / `eqx.is_inexact_array` (as `crossbar.train`
    does): Python floats are not arrays, so the configuration is not trained.

    With any of `ir_drop` (exact), `nonlinear_iv` or `i_max`, every array of a tile is solved
    as a circuit: row `i` driven at `v_read x~_i`, the column currents divided by `v_read` and
    mapped back to tile units as the conductances are. The drift compensation's
    calibration reference is read through the circuit like any input; aihwkit's one-hot
    reference stays elementwise (no IR drop on a single active row: small by construction).
    """

    device: devices.AbstractDevice = devices.Ideal()
    mapping: AbstractMapping = Differential()
    dac: DAC = DAC()
    adc: ADC = ADC()
    out_noise: float | Array = 0.0
    w_noise: float | Array = 0.0
    w_noise_type: Literal["additive", "pcm"] = eqx.field(static=True, default="additive")
    bound_management: Literal["none", "iterative"] = eqx.field(static=True, default="none")
    max_bm_factor: int = eqx.field(static=True, default=1000)
    max_bm_res: float | Array = 0.25
    rows: int = eqx.field(static=True, default=512)
    cols: int = eqx.field(static=True, default=512)
    v_read: float | Array = 0.2
    read_time: float | Array = 10e-9
    train_time: tuple[float, float] = eqx.field(static=True, default=(1.0, 1.0))
    drift_compensation: Literal["global", "column", "none"] = eqx.field(
        static=True, default="global"
    )
    drift_reference: Literal["calibration", "one_hot"] = eqx.field(
        static=True, default="calibration"
    )
    ir_drop: IRDrop | None = None
    nonlinear_iv: bool = eqx.field(static=True, default=False)
    i_max: float | Array | None = None
    adc_offset: float | Array = 0.0
    adc_gain: float | Array = 0.0
    # Which optional parts are on: those of `OPTIONAL` whose value is not the number 0. Static
    # (part of the program's structure), set from the values at construction, so that the
    # float fields themselves can be arrays (swept under `jax.vmap`) or traced (`jax.grad` of
    # a whole model) without turning a part on or off.
    _on: tuple[str, ...] = eqx.field(static=True, init=False, repr=False)

    def __post_init__(self):
        self._on = tuple(name for name in OPTIONAL if not is_zero(getattr(self, name)))

    def __check_init__(self):
        check_int("Tile", "rows", self.rows)
        check_int("Tile", "cols", self.cols)
        for name in ("out_noise", "w_noise"):
            check_nonnegative("Tile", name, getattr(self, name))
            value = scalar_value(getattr(self, name))
            if value is not None and value > MAX_NOISE:
                raise ValueError(
                    f"Tile: `{name}` (tile units: a weight of 1 driven at 1 reads 1) must be at "
                    f"most {MAX_NOISE:g}; got {getattr(self, name)!r}."
                )
        if self.w_noise_type not in ("additive", "pcm"):
            raise ValueError(
                f'Tile: `w_noise_type` must be "additive" or "pcm"; got {self.w_noise_type!r}.'
            )
        if self.bound_management not in ("none", "iterative"):
            raise ValueError(
                f'Tile: `bound_management` must be "none" or "iterative"; '
                f"got {self.bound_management!r}."
            )
        if self.drift_compensation not in ("global", "column", "none"):
            raise ValueError(
                f'Tile: `drift_compensation` must be "global", "column" or "none"; '
                f"got {self.drift_compensation!r}."
            )
        if self.drift_reference not in ("calibration", "one_hot"):
            raise ValueError(
                f'Tile: `drift_reference` must be "calibration" or "one_hot"; '
                f"got {self.drift_reference!r}."
            )
        check_int("Tile", "max_bm_factor", self.max_bm_factor)
        check_nonnegative("Tile", "adc_offset", self.adc_offset)
        check_nonnegative("Tile", "adc_gain", self.adc_gain)
        if self.i_max is not None:
            check_positive("Tile", "i_max", self.i_max)
        if self.ir_drop is not None and not isinstance(self.ir_drop, IRDrop):
            raise ValueError(
                f"Tile: `ir_drop` must be a crossbar.IRDrop or None; got {self.ir_drop!r}."
            )
        if not isinstance(self.nonlinear_iv, bool):
            raise ValueError(
                f"Tile: `nonlinear_iv` must be True or False; got {self.nonlinear_iv!r}."
            )
        for name in ("max_bm_res", "v_read", "read_time"):
            check_positive("Tile", name, getattr(self, name))
        tt = self.train_time
        if (
            not isinstance(tt, tuple)
            or len(tt) != 2
            or not all(is_real(v) and math.isfinite(v) for v in tt)
            or not 0 <= tt[0] <= tt[1]
            or (tt[0] == 0 < tt[1])
        ):
            raise ValueError(
                f"Tile: `train_time` must be a pair (t_min, t_max) of seconds with "
                f"0 < t_min <= t_max (the time is drawn log-uniformly between them), or "
                f"t_min = t_max >= 0 for one fixed time; got {tt!r}."
            )
        for name in ("device", "mapping", "dac", "adc"):
            kind = {
                "device": devices.AbstractDevice,
                "mapping": AbstractMapping,
                "dac": DAC,
                "adc": ADC,
            }[name]
            if not isinstance(getattr(self, name), kind):
                raise ValueError(
                    f"Tile: `{name}` must be a {kind.__name__}; got {getattr(self, name)!r}."
                )

    @classmethod
    def from_aihwkit(cls, rpu_config, *, ignore: tuple[str, ...] = ()) -> Tile:
        """The tile of an aihwkit `InferenceRPUConfig` or `TorchInferenceRPUConfig` (aihwkit
        1.x, or a preset derived from them); aihwkit itself is not imported.

        What is translated:

        - `forward`: `inp_res` / `out_res` (a resolution, or a number of steps where above 1)
          as `bits` (`2**bits - 2` steps; another count is refused), `inp_bound` /
          `out_bound` (0: no bound), `out_noise`, `noise_management` (`NONE`, `ABS_MAX`,
          `CONSTANT` with `nm_thres` as `DAC(scaling="constant")`), `bound_management`
          (`NONE`, `ITERATIVE`, with `max_bm_factor`, `max_bm_res`), `w_noise` of type
          `ADDITIVE_CONSTANT` or `PCM_READ`, `ir_drop` and `ir_drop_g_ratio` as
          `IRDrop(method="aihwkit")`, `is_perfect` as ideal converters;
        - `mapping`: `weight_scaling_omega` 0 (`scaling="none"`) or 1 (`"layer"`, or
          `"column"` with `weight_scaling_columnwise`), `max_input_size` / `max_output_size`
          as `rows` / `cols` (0: one tile for the layer); `learn_out_scaling` is accepted
          where omega is 1: our mapping keeps that scale digitally, derived from the weights;
          `remap` of type `LAYERWISE_SYMMETRIC` / `CHANNELWISE_SYMMETRIC` to a `wmax` of 1 is
          what our mapping does at every forward pass;
        - `noise_model`: None (no device model), `PCMLikeNoiseModel` (its coefficients, `g_max`,
          `g_min`, `t_0`, `t_read`, scales), `HermesNoiseModel`, `ReRamWan2022NoiseModel`,
          `ReRamCMONoiseModel` (with the one-device `Offset` mapping), as `devices` models;
        - `drift_compensation`: None, `GlobalDriftCompensation`, `PerColumnDriftCompensation`,
          with aihwkit's one-hot reference (`drift_reference="one_hot"`).

        Every other field must hold aihwkit's default (that of `IOParameters()`,
        `MappingParameter()`, ..., not of a preset). Otherwise the call raises a ValueError
        that names each such field with its value, e.g. the weight clipping (`clip`), the
        weight modifier (`modifier`) and the learned input range (`pre_post.input_range`)
        of hardware-aware training in aihwkit, which training here does differently. Pass
        their names (or a part, such as `"pre_post"`) in `ignore` to translate the rest
        without them; a name that nothing needs dropped is an error too.
        """
        from ._aihwkit import tile_from_aihwkit

        return tile_from_aihwkit(rpu_config, ignore=ignore)

    def has(self, name: str) -> bool:
        """Whether the optional part `name` (one of `OPTIONAL`) is on: off where its value is
        the number 0, on where it is any other concrete value (a number, or an array: even
        of zeros, which a sweep may hold); for a traced value (a whole model under
        `jax.grad` or `jax.jit`, or a swept value under `jax.vmap`) as at construction."""
        value = getattr(self, name)
        if is_zero(value):
            return False
        if not isinstance(value, jax.core.Tracer):
            return True
        return name in self._on

    @property
    def periphery_is_noisy(self) -> bool:
        """Whether a forward pass through programmed conductances draws random numbers."""
        return self.has("out_noise") or self.has("w_noise")

    def readout_weights(self, g: Array) -> Array:
        """The mapping's effective weights `(n_readouts, ...)` in tile units of conductances (or
        currents over `v_read`) `(n_arrays, ...)`, uS, for this tile's device range."""
        return self.mapping.readout_weights(g, self.device.g_min, self.device.g_max)

    @property
    def is_circuit(self) -> bool:
        """Whether the MVM is computed from solved currents (conductances needed)."""
        exact = self.ir_drop is not None and self.ir_drop.method == "exact"
        return exact or self.nonlinear_iv or self.i_max is not None

    @property
    def has_adc_errors(self) -> bool:
        return self.has("adc_offset") or self.has("adc_gain")

    @property
    def bm_rounds(self) -> int:
        """The most passes iterative bound management can take."""
        limit = float(self.max_bm_factor)
        res, res_max = self.dac.res, self.max_bm_res
        # (an array step or resolution limit, e.g. swept: the factor's bound on the rounds;
        # the loop itself stops at the resolution limit)
        if is_real(res) and is_real(res_max) and res > 0:
            limit = min(limit, res_max / res)
        # reductions 1, 2, 4, ...: the loop stops after the first reduction beyond the limit
        return int(math.floor(math.log2(max(limit, 1.0)))) + 2


def grid(n_in: int, n_out: int, tile: Tile) -> tuple[int, int, int, int]:
    """`(row tiles, column tiles, rows used, columns used)` for a weight matrix `(n_out, n_in)`.

    A layer smaller than a tile uses only the rows and columns it needs: the unused ones
    would hold zero weights and see zero inputs, and change nothing.
    """
    rows, cols = min(tile.rows, n_in), min(tile.cols, n_out)
    return -(-n_in // rows), -(-n_out // cols), rows, cols


def ideal_tile(tile: Tile) -> Tile:
    """The same tile with an ideal device and periphery: what a digital network computes."""
    return dataclasses.replace(
        tile,
        device=devices.Ideal(),
        dac=DAC(bits=None),
        adc=ADC(bits=None, bound=math.inf),
        out_noise=0.0,
        w_noise=0.0,
        bound_management="none",
        drift_compensation="none",
        ir_drop=None,
        nonlinear_iv=False,
        i_max=None,
        adc_gain=0.0,
        adc_offset=0.0,
    )
