"""Effects that wrap any device: finite levels, stuck-at faults, device-to-device spread.

They compose: `StuckAt(Quantised(PCM(), levels=16), p_low=0.01, p_high=0.01)` is a 4-bit PCM
population with 2 % faulty cells. Each wrapper keeps the wrapped device's `g_min`, `g_max`
and I-V curve.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from ._abstract import AbstractDevice
from .checks import check_fraction, check_nonnegative


def round_ste(x: Array) -> Array:
    """`round(x)` (half to even) forward, identity backward (a straight-through estimator).

    Written `round(x) + (x - stop_gradient(x))`: the correction is exactly zero in the forward
    pass, so the value is bit-identical to `round(x)` (the common `x + sg(round(x) - x)` can
    miss it by an ulp).
    """
    return jnp.round(x) + (x - jax.lax.stop_gradient(x))


class _AbstractWrapper(AbstractDevice):
    """A device that delegates to `device`; subclasses add one effect."""

    device: eqx.AbstractVar[AbstractDevice]

    @property
    def g_min(self) -> float:
        return self.device.g_min

    @property
    def g_max(self) -> float:
        return self.device.g_max

    def current(self, g, v) -> Array:
        return self.device.current(g, v)


class Quantised(_AbstractWrapper):
    r"""Finite conductance levels: the target is rounded to one of `levels` evenly spaced
    conductances between `g_min` and `g_max` before the wrapped device programs it.

    $q = (\mathrm{levels} - 1)/(g_{max} - g_{min})$; $g \leftarrow \mathrm{rint}((g - g_{min})
    q)/q + g_{min}$ (CrossSim's finite-levels model; `levels = 2**b` for b bits). The rounding
    has a straight-through gradient, so training sees through it.

    **Arguments:** `device`, the device to wrap; `levels`, the number of levels (>= 2).
    """

    device: AbstractDevice
    levels: int = eqx.field(static=True)

    def __check_init__(self):
        if isinstance(self.levels, bool) or not isinstance(self.levels, int) or self.levels < 2:
            raise ValueError(
                f"Quantised: `levels` must be an integer >= 2 (2**bits for b bits); "
                f"got {self.levels!r}."
            )

    @property
    def is_stochastic(self) -> bool:
        return self.device.is_stochastic

    def quantise(self, g: Array) -> Array:
        """Round conductances (uS) to the nearest of the levels, straight-through."""
        q = (self.levels - 1) / (self.g_max - self.g_min)
        return round_ste((g - self.g_min) * q) / q + self.g_min

    def _program(self, key: PRNGKeyArray, g_target: Array) -> eqx.Module:
        return self.device._program(key, self.quantise(g_target))

    def _read(self, key: PRNGKeyArray, state: eqx.Module, t: Array) -> Array:
        return self.device._read(key, state, t)


class StuckAtState(eqx.Module):
    """Programmed state of `StuckAt`: the wrapped device's state and the two fault masks."""

    inner: eqx.Module
    stuck_low: Array
    stuck_high: Array


class StuckAt(_AbstractWrapper):
    """Stuck-at faults: a fraction of the cells stuck at `g_min`, another at `g_max`.

    Which cells are stuck is drawn once, at programming (each cell independently: stuck low
    with probability `p_low`, stuck high with `p_high`). A stuck cell ignores its target and
    reads exactly its stuck conductance at every time, with no drift or noise and no
    gradient; the other cells behave as the wrapped device.

    **Arguments:** `device`; `p_low`, `p_high`, fractions in [0, 1] with sum <= 1.
    """

    device: AbstractDevice
    p_low: float = 0.0
    p_high: float = 0.0

    def __check_init__(self):
        check_fraction("StuckAt", "p_low", self.p_low)
        check_fraction("StuckAt", "p_high", self.p_high)
        if self.p_low + self.p_high > 1.0:
            raise ValueError(
                f"StuckAt: `p_low + p_high` must be <= 1 (they are fractions of the same cells); "
                f"got {self.p_low!r} + {self.p_high!r} = {self.p_low + self.p_high!r}."
            )

    @property
    def is_stochastic(self) -> bool:
        return True

    def _program(self, key: PRNGKeyArray, g_target: Array) -> StuckAtState:
        k_inner, k_fault = jr.split(key)
        u = jr.uniform(k_fault, g_target.shape)
        low = u < self.p_low
        high = (u >= self.p_low) & (u < self.p_low + self.p_high)
        return StuckAtState(self.device._program(k_inner, g_target), low, high)

    def _read(self, key: PRNGKeyArray, state: StuckAtState, t: Array) -> Array:
        g = self.device._read(key, state.inner, t)
        g = jnp.where(state.stuck_low, jnp.asarray(self.g_min, g.dtype), g)
        return jnp.where(state.stuck_high, jnp.asarray(self.g_max, g.dtype), g)


class VariabilityState(eqx.Module):
    """Programmed state of `Variability`: the wrapped device's state and each cell's gain."""

    inner: eqx.Module
    gain: Array


class Variability(_AbstractWrapper):
    r"""Device-to-device variability: each cell has its own conductance window.

    Drawn once at programming: $\gamma = \max(1 + \sigma \xi, 0)$ for each cell, so that cell's
    maximum is $g_{min} + \gamma (g_{max} - g_{min})$ (for $g_{min} = 0$, a spread of $g_{max}$
    with relative standard deviation $\sigma$). Every conductance the cell realises scales
    with its window: $g = g_{min} + \gamma\,(g_{inner} - g_{min})$, at every read.

    **Arguments:** `device`; `sigma`, the relative spread of the window (>= 0).
    """

    device: AbstractDevice
    sigma: float = 0.0

    def __check_init__(self):
        check_nonnegative("Variability", "sigma", self.sigma)

    @property
    def is_stochastic(self) -> bool:
        return True

    def _program(self, key: PRNGKeyArray, g_target: Array) -> VariabilityState:
        k_inner, k_gain = jr.split(key)
        xi = jr.normal(k_gain, g_target.shape, g_target.dtype)
        gain = jnp.maximum(1.0 + self.sigma * xi, 0.0)
        return VariabilityState(self.device._program(k_inner, g_target), gain)

    def _read(self, key: PRNGKeyArray, state: VariabilityState, t: Array) -> Array:
        g = self.device._read(key, state.inner, t)
        return self.g_min + state.gain * (g - self.g_min)
