"""One crossbar's configuration, and the analog matrix-vector product of a grid of tiles."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Literal

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

import devices
from devices.checks import (
    check_int,
    check_nonnegative,
    check_positive,
    is_real,
    is_zero,
    scalar_value,
)

from ._circuit import IRDrop, ideal_currents, ir_drop_aihwkit, solve_ir_drop
from ._converters import ADC, DAC, clip_symmetric
from ._mapping import AbstractMapping, Differential
from ._product import _mvm

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


def _per_tile(fn: Callable, w: Array, x: Array) -> Array:
    """`fn(w_tile (R, C), x_tile (R,)) -> (C,)` for every tile: `w (T_r, T_c, C, R)`, `x
    (T_r, T_c, R)` -> `(T_r, T_c, C)`."""
    return jax.vmap(jax.vmap(lambda w, x: fn(w.T, x)))(w, x)


def _noise_var(tile: Tile, x: Array, w_r: Array) -> Array | None:
    """The variance of the output-referred noise (weight noise and output noise) of each
    output, broadcastable to `(n, T_r, T_c, C)`, or None when there is none."""
    var = None
    if tile.has("w_noise"):
        if tile.w_noise_type == "additive":
            x2 = jnp.sum(x * x, axis=-1)  # (T_r,) or (T_r, T_c)
            var = tile.w_noise**2 * (x2[:, None, None] if x.ndim == 2 else x2[..., None])
        else:
            var = tile.w_noise**2 * _mvm(x * x, jnp.abs(w_r))
    if tile.has("out_noise"):
        var = jnp.asarray(tile.out_noise**2, x.dtype) if var is None else var + tile.out_noise**2
    return var


def _circuit_mvm(tile: Tile, g: Array, xq: Array) -> Array:
    """Step 3 from currents: `(n_readouts, T_r, T_c, C)` in tile units.

    `g`: conductances `(n_arrays, T_r, T_c, C, R)`, uS; `xq`: converted inputs `(T_r, T_c, R)`.
    """
    device = tile.device
    current = device.current if tile.nonlinear_iv else None
    v = tile.v_read * xq
    ir = tile.ir_drop
    if ir is not None and ir.method == "exact":

        def solve(g, v):
            return solve_ir_drop(
                g,
                v,
                ir.r_wire,
                current=current,
                rtol=ir.rtol,
                max_iter=ir.max_iter,
                newton_steps=ir.newton_steps,
            )
    else:

        def solve(g, v):
            return ideal_currents(g, v, current)

    i = jax.vmap(lambda g: _per_tile(solve, g, v))(g)  # (n_arrays, T_r, T_c, C), uA
    if tile.i_max is not None:
        i = clip_symmetric(i, tile.i_max)
    return tile.readout_weights(i / tile.v_read)


def adc_readouts(
    tile: Tile,
    w_r: Array,
    x: Array,
    scale: Array,
    key: PRNGKeyArray | None,
    g: Array | None = None,
    adc_errors: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:
    """Steps 2 to 5 for every tile, up to the ADC's rounding (before its clip): `(y
    (n_readouts, T_r, T_c, C), converted inputs (T_r, R) or (T_r, T_c, R))`.

    `w_r`: `(n_readouts, T_r, T_c, C, R)`; `x`: `(T_r, R)`; `scale`: the reciprocal input
    scale, `(T_r,)` for one per row tile or `(T_r, T_c)` for one per tile; `g`: the
    conductances, needed by circuit tiles; `adc_errors`: each ADC's `(gain, offset)`,
    `(n_readouts, T_r, T_c, C)`.
    """
    xq = tile.dac(x if scale.ndim == 1 else x[:, None, :], scale)
    # the circuit and aihwkit's IR drop see each tile's own inputs, (T_r, T_c, R)
    t_r, t_c = w_r.shape[1], w_r.shape[2]
    ir = tile.ir_drop
    aihwkit_ir = ir is not None and ir.method == "aihwkit"
    if tile.is_circuit or aihwkit_ir:
        per_tile = xq if xq.ndim == 3 else jnp.broadcast_to(xq[:, None], (t_r, t_c, xq.shape[-1]))
    if tile.is_circuit:
        y = _circuit_mvm(tile, g, per_tile)
    else:
        y = _mvm(xq, w_r)
    if aihwkit_ir:

        def approx(w, x):
            return ir_drop_aihwkit(w, x, ir.scale, ir.g_ratio)

        y = y - jax.vmap(lambda w: _per_tile(approx, w, per_tile))(w_r)
    var = _noise_var(tile, xq, w_r)
    if var is not None:
        std = jnp.sqrt(var)
        y = y + jnp.broadcast_to(std, y.shape) * devices.normal(key, y.shape, y.dtype)
    if adc_errors is not None:
        gain, offset = adc_errors
        y = y * gain + offset
    return tile.adc.round(y), xq


def _one_pass(
    tile: Tile,
    w_r: Array,
    x: Array,
    scale: Array,
    key: PRNGKeyArray | None,
    g: Array | None = None,
    adc_errors: tuple[Array, Array] | None = None,
):
    """Steps 2 to 5 for every tile: `(combined y (T_r, T_c, C), clipped (T_r, T_c))` (the
    arguments of `adc_readouts`)."""
    y, xq = adc_readouts(tile, w_r, x, scale, key, g, adc_errors)
    y_clip = tile.adc.clip(y)
    clipped = jnp.any(y_clip != y, axis=(0, 3))  # beyond the bound after rounding
    y = y_clip
    x_sum = jnp.sum(xq, axis=-1, keepdims=True)
    if x_sum.ndim == 2:
        x_sum = x_sum[:, None]  # (T_r, 1, 1)
    return tile.mapping.combine(y, x_sum, tile.device.g_min, tile.device.g_max), clipped


def analog_mvm(
    tile: Tile,
    w_r: Array,
    x: Array,
    key: PRNGKeyArray | None,
    g: Array | None = None,
    adc_errors: tuple[Array, Array] | None = None,
) -> Array:
    """The analog outputs of a grid of tiles for one input vector, before digital rescaling.

    **Arguments:**

    - `tile`: the configuration.
    - `w_r`: effective weights of every readout, `(n_readouts, T_r, T_c, cols, rows)`, tile
      units (from the read conductances through `tile.mapping.readout_weights`): each tile's
      block of the `(out, in)` weight matrix, padded.
    - `x`: the input, split over row tiles and zero-padded, `(T_r, rows)`.
    - `key`: for the periphery noise, or None when the tile has none.
    - `g`: the read conductances `(n_arrays, T_r, T_c, cols, rows)`, uS (circuit tiles).
    - `adc_errors`: each ADC's `(gain, offset)` drawn for this chip, or None.

    **Returns:** `(T_r, T_c, cols)`: each tile's output times its input scale and bound
    management reduction, in tile units (the DAC scale undone, the weight scale not yet).
    """
    t_r, t_c = w_r.shape[1], w_r.shape[2]
    # The input scale is a constant for the gradient, as aihwkit treats it: with the
    # straight-through DAC the gradient of y with respect to x is then exactly W.
    nm = jax.lax.stop_gradient(tile.dac.input_scale(x))  # (T_r,)
    zero = nm <= 0
    inv = jnp.where(zero, 1.0, 1.0 / jnp.where(zero, 1.0, nm))  # aihwkit: scale = 1 / nm

    if tile.bound_management == "none":  # one scale per row tile
        y, _ = _one_pass(tile, w_r, x, inv, key, g, adc_errors)
        y = y * (1.0 / inv)[:, None, None]  # aihwkit: y * (out_scale / scale)
    else:
        limit = float(tile.max_bm_factor)
        res = tile.dac.res

        def cond(carry):
            return ~jnp.all(carry[2])

        def body(carry):
            k, red, done, y_out = carry
            scale = inv[:, None] / red
            sub = None if key is None else devices.fold(key, k)
            y, clipped = _one_pass(tile, w_r, x, scale, sub, g, adc_errors)
            passed = ~clipped | (red > limit)
            if not is_zero(res):
                passed = passed | (red > tile.max_bm_res / res)
            take = ~done
            y_out = jnp.where(take[..., None], y * (1.0 / scale)[..., None], y_out)
            done = done | passed
            red = jnp.where(done, red, red * 2.0)
            return k + 1, red, done, y_out

        init = (
            jnp.asarray(0),
            jnp.ones((t_r, t_c), x.dtype),
            jnp.zeros((t_r, t_c), bool),
            jnp.zeros((t_r, t_c, w_r.shape[3]), x.dtype),
        )
        _, _, _, y = eqxi.while_loop(
            cond, body, init, max_steps=tile.bm_rounds, kind="checkpointed"
        )
    return jnp.where(jnp.broadcast_to(zero[:, None, None], y.shape), 0.0, y)


def split_rows(x: Array, t_r: int, rows: int) -> Array:
    """An input `(in,)` zero-padded and split over row tiles: `(T_r, rows)`."""
    pad = t_r * rows - x.shape[-1]
    return jnp.pad(x, (0, pad)).reshape(t_r, rows)


def tiled(w: Array, t_r: int, rows: int, t_c: int, cols: int) -> Array:
    """A weight matrix `(out, in)` zero-padded and split over tiles, `(T_r, T_c, cols,
    rows)`: the layout of every tiled array (targets, device states, conductances, readout
    weights). Each tile's block keeps the `(out, in)` order of `eqx.nn.Linear`'s weight."""
    pad = ((0, t_c * cols - w.shape[0]), (0, t_r * rows - w.shape[1]))
    return jnp.pad(w, pad).reshape(t_c, cols, t_r, rows).transpose(2, 0, 1, 3)


def untiled(w: Array, n_out: int, n_in: int) -> Array:
    """A tiled `(..., T_r, T_c, cols, rows)` array back to `(..., out, in)`."""
    t_r, t_c, cols, rows = w.shape[-4:]
    w = jnp.moveaxis(w, -4, -2).reshape(w.shape[:-4] + (t_c * cols, t_r * rows))
    return w[..., :n_out, :n_in]


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
