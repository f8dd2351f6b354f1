"""Fitted curves of a device statistic against the normalised conductance `g_rel = g / g_max`.

The statistical device models of the literature (Nandakumar 2019, Joshi 2020, Le Gallo 2023)
describe each statistic (programming spread, mean and spread of the drift exponent, 1/f
read-noise factor) as a polynomial, a clipped line in `ln g_rel`, a clipped power law, or a
piecewise combination of them. These small modules are those curves; the device models are
built from them and the fitting functions return them.

Every curve is finite with a finite gradient for every `g_rel >= 0`, `g_rel = 0` included: the
logarithm and the power law floor their input before use, so `jax.grad` through a device
programmed to zero conductance gives numbers, not NaN.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._fastmath import log as fast_log
from .checks import check_finite_number, check_positive

# aihwkit's `_ZERO_CLIP`: the floor of g_rel before a logarithm.
LOG_FLOOR = 1e-7


class AbstractStatistic(eqx.Module):
    """A statistic of a device population as a function of `g_rel = |g| / g_max`."""

    @abc.abstractmethod
    def __call__(self, g_rel: ArrayLike) -> Array:
        """**Arguments:** `g_rel`, normalised conductances. **Returns:** the statistic."""


def _coefficients(owner: str, coeffs) -> tuple[float, ...]:
    coeffs = tuple(float(c) for c in coeffs)
    if not coeffs:
        raise ValueError(f"{owner}: `coeffs` must hold at least one coefficient; got ().")
    for i, c in enumerate(coeffs):
        check_finite_number(owner, f"coeffs[{i}]", c)
    return coeffs


class Polynomial(AbstractStatistic):
    r"""$\sum_i c_i\, g_{rel}^i$, constant term first (aihwkit's `prog_coeff` order).

    **Arguments:**

    - `coeffs`: the coefficients $c_0, c_1, \dots$.
    - `floor`: the result is `max(result, floor)` when given (a spread is never negative;
      Wan 2022's fit is written `max(poly, 0)`).
    """

    coeffs: tuple[float, ...] = eqx.field(static=True)
    floor: float | None = eqx.field(static=True)

    def __init__(self, coeffs, floor: float | None = None):
        self.coeffs = _coefficients("Polynomial", coeffs)
        if floor is not None:
            check_finite_number("Polynomial", "floor", floor)
            floor = float(floor)
        self.floor = floor

    def __call__(self, g_rel: ArrayLike) -> Array:
        g_rel = jnp.asarray(g_rel)
        out = jnp.zeros_like(g_rel) + self.coeffs[-1]
        for c in reversed(self.coeffs[:-1]):  # Horner's rule
            out = out * g_rel + c
        if self.floor is not None:
            out = jnp.maximum(out, self.floor)
        return out


class LogLinear(AbstractStatistic):
    r"""$\mathrm{clip}(a \ln \max(g_{rel}, 10^{-7}) + b,\ lo,\ hi)$.

    The form of the drift-exponent statistics of Nandakumar et al. (ICECS 2019), as in
    aihwkit's `PCMLikeNoiseModel`: for instance $\mu_\nu = \mathrm{clip}(-0.0155 \ln g_{rel}
    + 0.0244, 0.049, 0.1)$.

    **Arguments:** `slope` ($a$), `intercept` ($b$), `lo`, `hi` (`lo <= hi`).
    """

    slope: float = eqx.field(static=True)
    intercept: float = eqx.field(static=True)
    lo: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)

    def __init__(self, slope: float, intercept: float, lo: float, hi: float):
        for name, value in (("slope", slope), ("intercept", intercept), ("lo", lo), ("hi", hi)):
            check_finite_number("LogLinear", name, value)
        if lo > hi:
            raise ValueError(f"LogLinear: `lo` must be <= `hi`; got lo={lo!r} > hi={hi!r}.")
        self.slope, self.intercept = float(slope), float(intercept)
        self.lo, self.hi = float(lo), float(hi)

    def __call__(self, g_rel: ArrayLike) -> Array:
        x = fast_log(jnp.maximum(jnp.abs(jnp.asarray(g_rel)), LOG_FLOOR))
        return jnp.clip(self.slope * x + self.intercept, self.lo, self.hi)


class PowerLaw(AbstractStatistic):
    r"""$\min\!\big(c / \max(g_{rel}^{p},\ f),\ hi\big)$.

    The 1/f read-noise factor of Joshi et al. (Nat. Commun. 2020) in aihwkit's form:
    $Q_s = \min(0.0088 / \max(g_{rel}^{0.65}, 10^{-3}), 0.2)$. The floor is applied to
    $g_{rel}$ before the power ($\max(g^{p}, f) = \max(g, f^{1/p})^{p}$), so the gradient at
    $g_{rel} = 0$ is zero instead of NaN.

    **Arguments:** `coeff` ($c$), `exponent` ($p > 0$), `floor` ($f > 0$), `hi`.
    """

    coeff: float = eqx.field(static=True)
    exponent: float = eqx.field(static=True)
    floor: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)

    def __init__(self, coeff: float, exponent: float, floor: float, hi: float):
        check_finite_number("PowerLaw", "coeff", coeff)
        check_positive("PowerLaw", "exponent", exponent)
        check_positive("PowerLaw", "floor", floor)
        check_finite_number("PowerLaw", "hi", hi)
        self.coeff, self.exponent = float(coeff), float(exponent)
        self.floor, self.hi = float(floor), float(hi)

    def __call__(self, g_rel: ArrayLike) -> Array:
        g_floor = self.floor ** (1.0 / self.exponent)
        g = jnp.maximum(jnp.abs(jnp.asarray(g_rel)), g_floor)
        # exp(-p ln g) rather than g ** -p (g > 0 here): a fifth of the cost of a power
        return jnp.minimum(self.coeff * jnp.exp(-self.exponent * fast_log(g)), self.hi)


class Piecewise(AbstractStatistic):
    """`below(g_rel)` where `g_rel < threshold`, else `above(g_rel)`.

    The branch functions of the HERMES-chip fits (Le Gallo et al., Nat. Electron. 2023), e.g.
    a clipped log-line below `g_rel = 0.0945` and a quadratic above.
    """

    threshold: float = eqx.field(static=True)
    below: AbstractStatistic
    above: AbstractStatistic

    def __init__(self, threshold: float, below: AbstractStatistic, above: AbstractStatistic):
        check_finite_number("Piecewise", "threshold", threshold)
        self.threshold = float(threshold)
        self.below, self.above = below, above

    def __call__(self, g_rel: ArrayLike) -> Array:
        g_rel = jnp.asarray(g_rel)
        return jnp.where(g_rel < self.threshold, self.below(g_rel), self.above(g_rel))
