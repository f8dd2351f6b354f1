"""Drift compensation: the reference readouts a chip takes to undo the mean drift.

A programmed layer reads a reference response `r` through its own periphery right after
programming (`r0`) and again at every read (`r_t`), and scales its outputs by
`alpha = r0 / r_t` (applied digitally). Two references:

- `"calibration"` (the default): a set of calibration inputs that drive every row at once,
  read through the tile's DAC, noise, circuit and ADC as any input is, and compared with
  what the programmed targets should give. Well conditioned at every ADC resolution.
- `"one_hot"`: IBM aihwkit's `GlobalDriftCompensation` readout, the mean `|y|` of the
  responses to one-hot inputs (the identity), kept for equivalence with aihwkit. A one-hot
  input drives a single row, so each output is one weight (`|W| <= 1` in tile units) against
  an ADC step of `2 b / (2**n - 2)` (1.43 at 4 bits, bound 10): most of them round to zero at
  coarse ADCs and `alpha` is then meaningless (a factor of tens to thousands instead of 2).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from ._analog_mvm import adc_readouts
from ._converters import clips
from ._tile import Tile

#: Calibration input vectors per row tile.
CALIBRATION_VECTORS = 64
#: The calibration amplitude puts the output standard deviation of a tile's widest readout
#: column at this fraction of the ADC bound (clipping about 5 % of that column's readouts:
#: the fit models the clip), so that after a year of PCM drift (outputs halved) a 3-bit ADC
#: still reads them over more than one step.
CALIBRATION_FILL = 0.5
#: Halvings of the bracket [r / 8, 8 r] (a width of ln 64 in log r) in `fitted_gain`: 22 leave
#: it 1.0e-6 wide, about the float32 resolution of the gain (more changed nothing).
BISECTIONS = 22


class Calibration(eqx.Module):
    """The calibration set of one programmed layer, chosen at programming and kept on the chip.

    - `signs`: `(K, T_r, rows)`, the sign (+-1) with which each calibration input drives each
      row; drawn once at programming.
    - `amplitude`: `(T_r, T_c)`, the DAC level at which every row of a tile is driven.
    - `expected`: `(n_readouts, K, T_r, T_c, cols)`, what each ADC should read for each
      calibration input (tile units, before the ADC), from the programmed targets: the
      controller knows the weights it programmed.
    """

    signs: Array
    amplitude: Array
    expected: Array


def calibration_set(tile: Tile, g_target: Array, key: PRNGKeyArray) -> Calibration:
    """The calibration inputs of a layer programmed to the targets `g_target`
    `(n_arrays, T_r, T_c, cols, rows)`, uS.

    `K = CALIBRATION_VECTORS` inputs per row tile, each driving every row at one amplitude with
    a random sign (Rademacher, from `key`): each output sums many cells, so it is many ADC
    steps large where a one-hot output is one weight. The amplitude of each tile is the DAC
    level nearest below the one that puts the output standard deviation of its widest
    readout column (the currents the ADC sees, offsets included) at `CALIBRATION_FILL` of the
    ADC bound; at most the DAC's bound, at least one DAC step.
    """
    t_r, rows = g_target.shape[1], g_target.shape[4]
    readouts = tile.readout_weights(jax.lax.stop_gradient(g_target))  # (n, T_r, T_c, C, R)
    widest = jnp.sqrt(jnp.max(jnp.sum(readouts * readouts, axis=4), axis=(0, 3)))  # (T_r, T_c)
    dac, adc = tile.dac, tile.adc
    amp = jnp.full(widest.shape, dac.bound, readouts.dtype)
    if clips(adc.bound):
        fill = CALIBRATION_FILL * adc.bound / jnp.where(widest > 0, widest, 1.0)
        amp = jnp.where(widest > 0, jnp.minimum(fill, dac.bound), amp)
    if dac.bits is not None:  # a level the DAC puts out exactly
        amp = jnp.maximum(jnp.floor(amp / dac.res), 1.0) * dac.res
    signs = jr.rademacher(key, (CALIBRATION_VECTORS, t_r, rows), readouts.dtype)
    expected = jnp.einsum("ktr,tc,ntcjr->nktcj", signs, amp, readouts)
    return Calibration(signs, amp, expected)


def calibration_readout(
    tile: Tile,
    cal: Calibration,
    w_r: Array,
    key: PRNGKeyArray | None,
    g: Array | None = None,
    adc_errors: tuple[Array, Array] | None = None,
) -> Array:
    """What the ADCs read for the calibration inputs, `(n_readouts, K, T_r, T_c, cols)`: each
    input through the tile's forward pass (DAC, weight and output noise, circuit, ADC errors,
    ADC), tile units."""
    keys = None if key is None else jr.split(key, cal.signs.shape[0])

    def one(signs, k):
        y, _ = adc_readouts(tile, w_r, signs, cal.amplitude, k, g, adc_errors)
        return tile.adc.clip(y)

    return jnp.moveaxis(jax.vmap(one)(cal.signs, keys), 0, 1)


def fitted_gain(tile: Tile, measured: Array, expected: Array, per_column: bool) -> Array:
    r"""The gain `r` of the arrays that explains what the ADCs read: one value, or one per
    column `(T_c * cols,)`.

    `r` solves $\sum Q(r\,e)\,e = \sum m\,e$ over the readouts `m` (measured) and `e`
    (expected), `Q` the tile's ADC (rounding and clipping): the least-squares gain
    $\sum m e / \sum e^2$ for an ideal ADC, and for a real one the gain whose ideal quantised
    readouts have the measured projection on the expected ones. Without noise and with every
    cell drifted by one factor, that factor exactly (to the resolution of the step function),
    where the plain least-squares gain is pulled towards zero by the dead zone of a coarse
    ADC. The left side rises with `r`, so bisection (in `log r` over a factor of 8 either side
    of the least-squares gain, 22 halvings: to 1e-6 relative) finds it. A
    column that expects nothing has gain 1.
    """
    axis = (0, 1, 2) if per_column else None
    num = jnp.sum(measured * expected, axis=axis)
    den = jnp.sum(expected * expected, axis=axis)
    ok = (den > 0) & (num > 0)
    r = jnp.where(ok, num / jnp.where(ok, den, 1.0), 1.0)  # least squares
    if tile.adc.bits is not None or clips(tile.adc.bound):

        def projection(r):
            return jnp.sum(tile.adc(r * expected) * expected, axis=axis)

        def halve(_, bounds):
            lo, hi = bounds
            mid = jnp.sqrt(lo * hi)
            low = projection(mid) < num
            return jnp.where(low, mid, lo), jnp.where(low, hi, mid)

        lo, hi = jax.lax.fori_loop(0, BISECTIONS, halve, (r / 8.0, r * 8.0))
        r = jnp.where(ok, jnp.sqrt(lo * hi), 1.0)
    r = jax.lax.stop_gradient(r)
    return r.reshape(-1) if per_column else r


def expected_gain(w_r: Array, w_target: Array, per_column: bool) -> Array:
    """The gain the calibration reference measures in expectation over its random signs,
    without noise or ADC: the least-squares gain of the readout weights `w_r` on the
    programmed ones `w_target` (`(n_readouts, T_r, T_c, C, R)`), over every cell (one value)
    or over each column's cells (`(T_c * C,)`). A column that expects nothing has gain 1."""
    axis = (0, 1, 4) if per_column else None
    w_target = jax.lax.stop_gradient(w_target)
    num = jnp.sum(jax.lax.stop_gradient(w_r) * w_target, axis=axis)
    den = jnp.sum(w_target * w_target, axis=axis)
    r = jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 1.0)
    return r.reshape(-1) if per_column else r


def one_hot_response(tile: Tile, w_r: Array, key: PRNGKeyArray | None) -> Array:
    """The output of every tile cell for a one-hot input on its row, `(T_r, T_c, C, R)`.

    What the forward pass gives for the input `e_i` (row `i` at 1, all else 0), for all `i` at
    once and elementwise: the DAC turns the single 1 into one value `v`, and each output is
    `ADC(v W_ij + noise)` recombined, times `1 / scale`; the other row tiles see zero input and
    give exact zeros. Bound management is not applied: one-hot outputs lie within one
    weight (|W| <= 1) of zero, far inside usual output bounds.
    """
    g_min, g_max = tile.device.g_min, tile.device.g_max
    one = jnp.ones((1,), w_r.dtype)
    scale = 1.0 / tile.dac.input_scale(one)
    v = tile.dac(one, scale)[0]
    y = v * w_r
    var = None
    if tile.has("w_noise"):
        w = jnp.abs(w_r) if tile.w_noise_type == "pcm" else 1.0
        var = tile.w_noise**2 * w * v * v
    if tile.has("out_noise"):
        var = tile.out_noise**2 if var is None else var + tile.out_noise**2
    if var is not None:
        y = y + jnp.broadcast_to(jnp.sqrt(var), y.shape) * jr.normal(key, y.shape, y.dtype)
    y = tile.mapping.combine(tile.adc(y), v, g_min, g_max)
    return y * (1.0 / scale)
