"""The analog matrix-vector product of a grid of tiles (aihwkit's `forwardVector` order:
DAC, MVM or circuit, noise, ADC, bound management), and the tiled weight layout."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

import devices
from devices.checks import (
    is_zero,
)

from ._circuit import ideal_currents, ir_drop_aihwkit, solve_ir_drop
from ._converters import clip_symmetric
from ._product import _mvm
from ._tile import Tile


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
    row_tile: tuple[Array, int] | None = None,
) -> tuple[Array, Array]:
    """Steps 2 to 5 for every tile, up to the ADC's rounding (before its clip): `(y
    (n_readouts, T_r, T_c, C), converted inputs (T_r, R) or (T_r, T_c, R))`.

    `w_r`: `(n_readouts, T_r, T_c, C, R)`; `x`: `(T_r, R)`; `scale`: the reciprocal input
    scale, `(T_r,)` for one per row tile or `(T_r, T_c)` for one per tile; `g`: the
    conductances, needed by circuit tiles; `adc_errors`: each ADC's `(gain, offset)`,
    `(n_readouts, T_r, T_c, C)`. `row_tile`: `(t, T_r)` when the arrays hold only row tile
    `t` of `T_r` (`T_r` = 1 in their shapes): its noise is then the part of the draws of
    all `T_r` tiles that falls on it, the same bits.
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
        if row_tile is None:
            xi = devices.normal(key, y.shape, y.dtype)
        else:
            t, n_rows = row_tile
            full = (y.shape[0], n_rows) + y.shape[2:]
            xi = devices.normal_slice(key, full, 1, t, y.dtype)
        y = y + jnp.broadcast_to(std, y.shape) * xi
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
    row_tile: tuple[Array, int] | None = None,
):
    """Steps 2 to 5 for every tile: `(combined y (T_r, T_c, C), clipped (T_r, T_c))` (the
    arguments of `adc_readouts`)."""
    y, xq = adc_readouts(tile, w_r, x, scale, key, g, adc_errors, row_tile)
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
    out_scale: Array | None = None,
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
    - `out_scale`: the digital weight scale, broadcastable to `(T_c, cols)`, or None.

    **Returns:** `(T_r, T_c, cols)`: each tile's output times its input scale and bound
    management reduction, in tile units (the DAC scale undone, the weight scale not yet).
    With `out_scale`: `sum over row tiles of (that * out_scale)`, `(T_c, cols)`, the same
    bits; without bound management on a grid of several row tiles of a plain crossbar it is
    computed one row tile after another in a loop (each tile's product, noise and ADC while
    its outputs are in cache: at 4096 x 4096 in tiles of 512, batch 256, the forward takes
    about 1.5x a plain product instead of 2x).
    """
    t_r = w_r.shape[1]
    ir = tile.ir_drop
    if (
        out_scale is not None
        and t_r > 1
        and tile.bound_management == "none"
        and not tile.is_circuit
        and not (ir is not None and ir.method == "aihwkit")
    ):
        return _row_tile_sum(tile, w_r, x, key, adc_errors, out_scale)
    y = _analog_mvm(tile, w_r, x, key, g, adc_errors)
    return y if out_scale is None else (y * out_scale).sum(0)


def _row_tile_sum(tile, w_r, x, key, adc_errors, out_scale):
    """`analog_mvm` summed over row tiles with `out_scale`: the loop over row tiles
    (`_row_tile_loop`) when nothing is differentiated, the batched tiles (the same bits, and
    their derivative) when something is. The loop's scan would make a training step's
    backward pass add every row tile's weight cotangent into a whole-weight accumulator (8 %
    slower at 2048 x 2048); a custom JVP whose rule is the batched tiles' JVP keeps it out
    of derivatives, forward and reverse mode alike."""
    dynamic, static = eqx.partition((tile, w_r, x, key, adc_errors, out_scale), eqx.is_array)

    def batched(d):
        tile, w_r, x, key, adc_errors, out_scale = eqx.combine(d, static)
        return (_analog_mvm(tile, w_r, x, key, None, adc_errors) * out_scale).sum(0)

    @jax.custom_jvp
    def summed(d):
        return _row_tile_loop(*eqx.combine(d, static))

    @summed.defjvp
    def _jvp(primals, tangents):
        return jax.jvp(batched, primals, tangents)

    return summed(dynamic)


def _input_scales(tile: Tile, x: Array) -> tuple[Array, Array]:
    """`(zero, inv)`: whether each row tile's input is all zero, and the reciprocal input
    scale (1 where zero), `(T_r,)`."""
    # The input scale is a constant for the gradient, as aihwkit treats it: with the
    # straight-through DAC the gradient of y with respect to x is then exactly W.
    nm = jax.lax.stop_gradient(tile.dac.input_scale(x))  # (T_r,)
    zero = nm <= 0
    return zero, jnp.where(zero, 1.0, 1.0 / jnp.where(zero, 1.0, nm))  # aihwkit: 1 / nm


def _row_tile_loop(tile, w_r, x, key, adc_errors, out_scale):
    """`analog_mvm` summed over row tiles with `out_scale`, one row tile at a time (no bound
    management): the operations of `_analog_mvm` on each row tile's slice, in its order."""
    t_r, t_c, c = w_r.shape[1], w_r.shape[2], w_r.shape[3]
    zero, inv = _input_scales(tile, x)
    out = 1.0 / inv

    def take(a, t):
        return jax.lax.dynamic_index_in_dim(a, t, 1, keepdims=True)

    def body(t, acc):
        errors = None if adc_errors is None else tuple(take(e, t) for e in adc_errors)
        x_t = jax.lax.dynamic_index_in_dim(x, t, 0, keepdims=True)
        inv_t = jax.lax.dynamic_index_in_dim(inv, t, 0, keepdims=True)
        y, _ = _one_pass(tile, take(w_r, t), x_t, inv_t, key, None, errors, (t, t_r))
        y = y * jax.lax.dynamic_index_in_dim(out, t, 0, keepdims=True)[:, None, None]
        zero_t = jax.lax.dynamic_index_in_dim(zero, t, 0, keepdims=True)
        y = jnp.where(jnp.broadcast_to(zero_t[:, None, None], y.shape), 0.0, y)
        return acc + (y * out_scale)[0]

    return jax.lax.fori_loop(0, t_r, body, jnp.zeros((t_c, c), x.dtype))


def _analog_mvm(tile, w_r, x, key, g, adc_errors) -> Array:
    """`analog_mvm` without `out_scale`: `(T_r, T_c, cols)`."""
    t_r, t_c = w_r.shape[1], w_r.shape[2]
    zero, inv = _input_scales(tile, x)

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
