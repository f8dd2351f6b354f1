"""Turning analog values into inputs over T time steps (first axis: time)."""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from devices.checks import check_int


def rate_encode(x: ArrayLike, steps: int, *, key: PRNGKeyArray) -> Array:
    """Rate coding: at each step a spike with probability `x` (clipped to [0, 1]), independently.

    **Returns:** `(steps, *x.shape)` of 0/1 spikes."""
    check_int("rate_encode", "steps", steps)
    x = jnp.clip(jnp.asarray(x, jnp.float32), 0.0, 1.0)
    return jr.bernoulli(key, x, (steps,) + x.shape).astype(jnp.float32)


def latency_encode(x: ArrayLike, steps: int) -> Array:
    """Latency coding: one spike, at step `round((1 - x) (T - 1))` for `x` in (0, 1]; larger
    values spike earlier. Values `<= 0` (clipped to 1 above) never spike.

    **Returns:** `(steps, *x.shape)` of 0/1 spikes."""
    check_int("latency_encode", "steps", steps)
    x = jnp.clip(jnp.asarray(x, jnp.float32), 0.0, 1.0)
    when = jnp.round((1.0 - x) * (steps - 1))
    t = jnp.arange(steps, dtype=jnp.float32).reshape((steps,) + (1,) * x.ndim)
    return ((t == when) & (x > 0)).astype(jnp.float32)


def direct_encode(x: ArrayLike, steps: int) -> Array:
    """Direct coding: the analog value itself as a constant current at every step.

    **Returns:** `(steps, *x.shape)`."""
    check_int("direct_encode", "steps", steps)
    x = jnp.asarray(x, jnp.float32)
    return jnp.broadcast_to(x, (steps,) + x.shape)


class Encoder(eqx.Module):
    """An encoder for a network: `"rate"`, `"latency"` or `"direct"`, over `steps` steps.

    `encoder(x, key=...) -> (steps, *x.shape)`; rate coding needs the key."""

    kind: Literal["rate", "latency", "direct"] = eqx.field(static=True, default="rate")
    steps: int = eqx.field(static=True, default=8)

    def __check_init__(self):
        if self.kind not in ("rate", "latency", "direct"):
            raise ValueError(
                f'Encoder: `kind` must be "rate", "latency" or "direct"; got {self.kind!r}.'
            )
        check_int("Encoder", "steps", self.steps)

    def __call__(self, x: ArrayLike, *, key: PRNGKeyArray | None = None) -> Array:
        if self.kind == "rate":
            if key is None:
                raise RuntimeError("Encoder: rate coding draws spikes and needs a key.")
            return rate_encode(x, self.steps, key=key)
        if self.kind == "latency":
            return latency_encode(x, self.steps)
        return direct_encode(x, self.steps)
