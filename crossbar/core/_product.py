"""The product of converted inputs with a grid of tiles' readout weights, and its batching
rule under `vmap` over chips (the MVM kernel of `_tile.analog_mvm`)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array


def _tile_product(x: Array, w: Array, weights_first: bool = False) -> Array:
    """`sum_r x[t, (c,) r] w[n, t, c, j, r]` for converted inputs `x`, `(T_r, R)` (one DAC
    scale per row tile) or `(T_r, T_c, R)` (one per tile): `(n, T_r, T_c, C)`.

    The weights stay in their stored layout, each tile's block `(C, R)` as the layer's
    `(out, in)` weight holds it, which is the layout a CPU or GPU matrix product of a batch
    of inputs wants (the contracted axis last): no copy of the weights per call.

    `weights_first`: the weights as the left operand (`W X^T`), which `_mvm` chooses under
    `vmap` over chips that share the inputs."""
    # The inputs as the left operand: under `vmap` over examples XLA then computes
    # `X W^T` with the batch as rows, as a plain matrix product does (an einsum may put the
    # weights first and transpose the inputs and the outputs around the product).
    # The weights as matrices `(outputs, rows)`: a product with several free axes is
    # decomposed by XLA into one that transposes its right operand on every call.
    n, t_r, t_c, c, r = w.shape
    if x.ndim == 2 and t_r == 1:  # one row tile: a plain product, no batch axis
        w = w.reshape(n * t_c * c, r)
        if weights_first:
            y = jax.lax.dot_general(w, x[0], (((1,), (0,)), ((), ())))
        else:
            y = jax.lax.dot_general(x[0], w, (((0,), (1,)), ((), ())))
        return y.reshape(n, 1, t_c, c)
    if x.ndim == 2:
        w = jnp.moveaxis(w, 1, 0).reshape(t_r, n * t_c * c, r)  # a bitcast when n = 1
        if weights_first:
            y = jax.lax.dot_general(w, x, (((2,), (1,)), ((0,), (0,))))
        else:
            y = jax.lax.dot_general(x, w, (((1,), (2,)), ((0,), (0,))))  # (T_r, n T_c C)
        return jnp.moveaxis(y.reshape(t_r, n, t_c, c), 1, 0)
    if weights_first:
        y = jax.lax.dot_general(w, x, (((4,), (2,)), ((1, 2), (0, 1))))  # (T_r, T_c, n, C)
    else:
        y = jax.lax.dot_general(x, w, (((2,), (4,)), ((0, 1), (1, 2))))  # (T_r, T_c, n, C)
    return jnp.moveaxis(y, 2, 0)


def _mvm(x: Array, w: Array) -> Array:
    """`_tile_product(x, w)` (see there) with a batching rule that keeps the weights in their
    layout under `vmap` over chips.

    Under `vmap` over examples (the inputs batched, the weights not) the product is `X W^T`
    with the examples as rows, as a plain matrix product does. Under `vmap` over chips whose
    inputs are shared (the weights batched, the inputs not: a chip's calibration inputs, or
    one test set through many chips), JAX's own rule would fold the chips into the product's
    output axis, and XLA would then lay each chip's freshly read weights out transposed (their
    read noise is then generated element by element into the transposed layout, ten times
    slower); here the weights go first instead, `W X^T` with every chip's weights as rows.
    Nested `vmap`s are followed axis by axis (`_batched_mvm`). Values and derivatives are
    those of `_tile_product`."""
    return _batched_mvm(())(x, w)


def _zero(tangent) -> bool:
    return isinstance(tangent, SymbolicZero)


@functools.cache
def _batched_mvm(roles: tuple[str, ...]) -> Callable:
    """The product under the `vmap`s `roles` (outermost first): `"x"` batches only the
    inputs, `"w"` only the weights, `"b"` both; the arrays carry these axes in front, the
    output all of them. A `custom_vmap` whose rule adds the new axis to `roles`, inside a
    `custom_jvp` (a `custom_vmap` has no reverse-mode rule) whose tangent is the plain
    product, linear in each operand."""

    def plain(x, w):
        f = functools.partial(_tile_product, weights_first="w" in roles)
        for role in reversed(roles):
            f = jax.vmap(f, in_axes={"x": (0, None), "w": (None, 0), "b": (0, 0)}[role])
        return f(x, w)

    product = custom_vmap(plain)

    @product.def_vmap
    def _rule(axis_size, in_batched, x, w):
        x_batched, w_batched = in_batched
        role = "b" if x_batched and w_batched else ("x" if x_batched else "w")
        return _batched_mvm((role, *roles))(x, w), True

    differentiable = jax.custom_jvp(product)

    @functools.partial(differentiable.defjvp, symbolic_zeros=True)
    def _jvp(primals, tangents):
        x, w = primals
        dx, dw = tangents
        y = differentiable(x, w)
        dy = [plain(*ab) for ab, d in (((dx, w), dx), ((x, dw), dw)) if not _zero(d)]
        return y, sum(dy[1:], dy[0]) if dy else jnp.zeros_like(y)

    return differentiable
