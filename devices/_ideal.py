"""The ideal device: what you ask for is what you read, forever."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from ._abstract import AbstractDevice, ohmic
from .checks import check_conductance_range


class IdealState(eqx.Module):
    """Programmed state of `Ideal`: the conductances themselves (uS)."""

    g: Array


class Ideal(AbstractDevice):
    """A device with no programming noise, no drift and no read noise.

    `read(key, program(key, g), t)` returns `clip(g, g_min, g_max)` at every `t`; the keys are
    accepted and unused. The reference against which every non-ideality is measured.

    **Arguments:**

    - `g_max`: the largest conductance in uS (default 25, as the PCM model).
    - `g_min`: the smallest conductance in uS (default 0).
    """

    g_max: float = 25.0
    g_min: float = 0.0

    def __check_init__(self):
        check_conductance_range("Ideal", self.g_min, self.g_max)

    @property
    def is_stochastic(self) -> bool:
        return False

    @property
    def reads_targets(self) -> bool:
        return True

    def current(self, g: ArrayLike, v: ArrayLike) -> Array:
        return ohmic(g, v)

    def _program(self, key: PRNGKeyArray, g_target: Array) -> IdealState:
        del key
        return IdealState(g_target)

    def _read(self, key: PRNGKeyArray, state: IdealState, t: Array) -> Array:
        del key
        return jnp.broadcast_to(state.g, jnp.broadcast_shapes(state.g.shape, t.shape))
