"""Digital-to-analog and analog-to-digital converters of a crossbar tile."""

from __future__ import annotations

import functools
import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from devices import round_ste
from devices.checks import is_integer, is_real, is_zero, scalar_value


def _check_bits(owner: str, bits) -> None:
    if bits is None:
        return
    if not is_integer(bits) or not 1 <= bits <= 24:
        raise ValueError(
            f"{owner}: `bits` must be an integer from 1 to 24, or None for an ideal converter; "
            f"got {bits!r}."
        )


def _check_bound(owner: str, name: str, bound) -> None:
    value = scalar_value(bound)  # a traced value is checked where it was concrete
    if value is None:
        return
    if not is_real(value) or not value > 0 or math.isnan(value):
        raise ValueError(f"{owner}: `{name}` must be a number > 0; got {bound!r}.")


def clips(bound) -> bool:
    """Whether a converter with this bound clips: all but the number `inf` (an array bound,
    e.g. swept, clips at its value)."""
    return not (is_real(bound) and math.isinf(bound))


def step(bits: int | None, bound: float | Array) -> float | Array:
    """The converter step: `2 * bound / (2**bits - 2)`, computed in float32 as aihwkit does.

    aihwkit stores the resolution `1 / (2**bits - 2)` as a float32 and multiplies it by the
    float32 range `2 * bound`; doing the same gives bit-identical levels. A converter with
    `bits = n` has `2**n - 1` levels symmetric around zero (zero is exact). For `bits = 1`
    the step is `2 * bound`, so the levels are `{-bound, 0, bound}` after clipping.
    `None` means an ideal converter (step 0: no rounding).
    """
    if bits is None:
        return 0.0
    res = np.float32(1.0 / max(2**bits - 2, 1))
    if is_real(bound):
        return float(np.float32(res * np.float32(2.0 * bound)))
    # an array bound (swept, or traced under vmap): the same float32 product (doubling is
    # exact, so float32(2 b) = 2 float32(b))
    return jnp.asarray(res) * (2.0 * jnp.asarray(bound, jnp.float32))


def exact_div(x: Array, d) -> Array:
    """`x / d` as IEEE division, for a scalar `d` (a Python number or a traced scalar).

    XLA rewrites division by a broadcast scalar into multiplication by its reciprocal, which
    differs from division in the last bit for a few percent of float32 values, and so moves
    rounding ties (aihwkit's DAC lands exactly on half steps once bound management halves the
    input scale). A divisor that depends on `x` (`x * 0 + d`, which XLA does not fold: it is
    NaN where `x` is not finite) keeps the division a division, under `jit` and `vmap`
    alike, at the cost of one fused multiply-add; `tests/test_periphery.py` checks the bits.
    The derivative is the plain quotient rule, so nothing of the trick reaches the backward
    pass.
    """
    x = jnp.asarray(x)
    if isinstance(d, (int, float)):
        return _div_by_constant(x, float(d))
    return _div(x, jnp.asarray(d, x.dtype))


def _true_div(x, d):
    x = jnp.asarray(x)
    return x / (x * 0.0 + jnp.asarray(d, x.dtype))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _div_by_constant(x, d: float):
    return _true_div(x, jnp.asarray(d, x.dtype))


@_div_by_constant.defjvp
def _div_by_constant_jvp(d, primals, tangents):
    (x,), (dx,) = primals, tangents
    return _div_by_constant(x, d), dx / d


@jax.custom_jvp
def _div(x, d):
    return _true_div(x, d)


@_div.defjvp
def _div_jvp(primals, tangents):
    (x, d), (dx, dd) = primals, tangents
    out = _div(x, d)
    return out, (dx - out * dd) / d


def clip_symmetric(x: Array, bound) -> Array:
    """`clip(x, -bound, bound)` whose gradient is 1 on the closed range, bound included.

    `jnp.clip` gives 1/2 exactly at the bound; but the top level of a converter is the bound,
    and the largest weight of a layer sits exactly at 1 in tile units.
    """
    return jnp.where(jnp.abs(x) <= bound, x, jnp.sign(x) * bound)


def quantise(x: Array, res: float | Array, bound: float | Array) -> Array:
    """`clip(rint(x / res) * res, -bound, bound)` with a straight-through gradient.

    Rounding is half to even (`jnp.round`, as C's `nearbyint`), with the identity as its
    gradient; the clip passes no gradient outside `[-bound, bound]`. `res = 0` skips the
    rounding; `bound = inf` skips the clip.
    """
    if not is_zero(res):
        x = round_ste(exact_div(x, res)) * res
    if clips(bound):
        x = clip_symmetric(x, bound)
    return x


class DAC(eqx.Module):
    """The input converter of a tile: input scaling, then `bits` of resolution in `[-bound, bound]`.

    The input of a tile is first divided by a scale `alpha` ("noise management" in aihwkit):
    `scaling="abs_max"` (default) uses `max |x|` of the tile's input, so the largest input maps
    to the full range; `"none"` uses 1; `"constant"` uses `constant`. Then
    `x~ = clip(rint(x / alpha / r) r, -bound, bound)` with `r = 2 bound / (2**bits - 2)`. A zero
    input gives an exact zero output. The digital periphery multiplies the output back by
    `alpha`.

    **Arguments:**

    - `bits`: resolution, 1 to 24, or `None` for no rounding (default 7, aihwkit's `inp_res`).
    - `bound`: the input range in tile units (default 1). With `scaling="abs_max"` the range is
      `[-1, 1]` by construction; a bound other than 1 then only clips.
    - `scaling`: `"abs_max"`, `"none"` or `"constant"`.
    - `constant`: the scale for `scaling="constant"` (> 0).
    """

    bits: int | None = eqx.field(static=True, default=7)
    bound: float | Array = 1.0
    scaling: Literal["abs_max", "none", "constant"] = eqx.field(static=True, default="abs_max")
    constant: float | Array = 1.0

    def __check_init__(self):
        _check_bits("DAC", self.bits)
        _check_bound("DAC", "bound", self.bound)
        if self.scaling not in ("abs_max", "none", "constant"):
            raise ValueError(
                f'DAC: `scaling` must be "abs_max", "none" or "constant"; got {self.scaling!r}.'
            )
        _check_bound("DAC", "constant", self.constant)

    @property
    def res(self) -> float | Array:
        """The absolute input step in tile units."""
        return step(self.bits, self.bound)

    def input_scale(self, x: Array) -> Array:
        """The scale `alpha` of an input vector (the last axis); zero for an all-zero input."""
        if self.scaling == "abs_max":
            return jnp.max(jnp.abs(x), axis=-1)
        value = 1.0 if self.scaling == "none" else self.constant
        return jnp.full(x.shape[:-1], value, x.dtype)

    def __call__(self, x: Array, scale: Array) -> Array:
        """Convert `x * scale` (scale is the reciprocal of `alpha`, broadcast on the last axis)."""
        return quantise(x * scale[..., None], self.res, self.bound)


class ADC(eqx.Module):
    """The output converter of a tile: `clip(rint(y / r) r, -bound, bound)`.

    `r = 2 bound / (2**bits - 2)`; `y` in tile units (the output of a weight matrix of largest
    magnitude one, driven by inputs in `[-1, 1]`). Rounding is half to even with a
    straight-through gradient.

    **Arguments:**

    - `bits`: 1 to 24, or `None` for an ideal converter (default 9, aihwkit's `out_res`).
    - `bound`: the output range (default 12, aihwkit's `out_bound`), or `inf` with `bits=None`
      for no clipping.
    """

    bits: int | None = eqx.field(static=True, default=9)
    bound: float | Array = 12.0

    def __check_init__(self):
        _check_bits("ADC", self.bits)
        _check_bound("ADC", "bound", self.bound)
        if self.bits is not None and not clips(self.bound):
            raise ValueError(
                f"ADC: a {self.bits}-bit converter needs a finite `bound`; got {self.bound!r} "
                "(use bits=None for an ideal, unbounded converter)."
            )

    @property
    def res(self) -> float | Array:
        """The absolute output step in tile units."""
        return step(self.bits, self.bound)

    def round(self, y: Array) -> Array:
        """Rounding to the output step, without the clip (straight-through gradient)."""
        return quantise(y, self.res, math.inf)

    def clip(self, y: Array) -> Array:
        """Clipping to `[-bound, bound]`."""
        return quantise(y, 0.0, self.bound)

    def __call__(self, y: Array) -> Array:
        return self.clip(self.round(y))
