"""Programming a model onto a chip, and reading the chip over its life."""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

from ._checks import checking, value_checks
from ._layer import AbstractAnalogLayer
from ._tile import Tile, ideal_tile


def _is_analog(x) -> bool:
    return isinstance(x, AbstractAnalogLayer)


def analog_layers(model) -> list[AbstractAnalogLayer]:
    """Every analog layer in a model pytree, in the order of `jax.tree_util` flattening."""
    leaves = jax.tree_util.tree_leaves(model, is_leaf=_is_analog)
    return [leaf for leaf in leaves if _is_analog(leaf)]


def _map_analog(what: str, fn: Callable, model, key: PRNGKeyArray):
    layers = analog_layers(model)
    if not layers:
        raise ValueError(f"crossbar.{what}: the model holds no analog layer (AnalogLinear...).")
    keys = iter(jr.split(key, len(layers)))
    return jax.tree_util.tree_map(
        lambda x: fn(x, next(keys)) if _is_analog(x) else x, model, is_leaf=_is_analog
    )


def program(model, key: PRNGKeyArray):
    """The chip: every analog layer anywhere in `model` programmed once.

    Each layer gets its own key (split from `key`, in flattening order) and draws its
    devices' programming noise, drift exponents and faults, and the reference response for
    drift compensation. Read the chip with `at_time` before running data through it.
    `jax.vmap` over keys programs many chips at once.

    Compiled (`eqx.filter_jit`): run op by op, programming a small network compiled some two
    hundred kernels one after another (11 s on a 2-core CPU against 2 s compiled once; a
    second chip of the same network then costs nothing to compile).
    """
    return _program(model, key, checking())


@eqx.filter_jit
def _program(model, key: PRNGKeyArray, checks: bool):
    with value_checks(checks):
        return _map_analog("program", lambda layer, k: layer.program(k), model, key)


def at_time(chip, t: ArrayLike, key: PRNGKeyArray):
    """The chip read `t` seconds after programming: drift and read noise drawn, and each
    layer's outputs drift-compensated as its tile says (`"global"`, `"column"`, `"none"`).

    `t` may be traced, so `jax.vmap` over times and keys reads many chips and times at once.
    """
    if jnp.ndim(t) != 0:
        raise ValueError(
            f"crossbar.at_time: `t` is one read time in seconds (a scalar); got shape "
            f"{jnp.shape(t)}. For several times, vmap over them: "
            "jax.vmap(lambda t: crossbar.at_time(chip, t, key))(times)."
        )
    if not isinstance(t, jax.core.Tracer):  # a traced t is checked where it is read
        if not math.isfinite(float(t)) or float(t) < 0:
            raise ValueError(
                "crossbar.at_time: `t` (seconds since programming) must be finite and >= 0; "
                f"got {t!r}."
            )
    # Compiled, as `program` (see there); t passed as an array, so a new time is no new
    # program (a number as a weakly typed float, as it was before: it takes the chip's dtype).
    t = jnp.asarray(float(t)) if isinstance(t, (int, float, np.number)) else jnp.asarray(t)
    return _at_time(chip, t, key, checking())


@eqx.filter_jit
def _at_time(chip, t, key: PRNGKeyArray, checks: bool):
    def read(layer, k):
        if layer.state is None:
            raise RuntimeError(
                "crossbar.at_time needs a programmed chip: call crossbar.program(model, key) "
                f"first (found an unprogrammed {type(layer).__name__})."
            )
        return layer.at_time(t, k)

    with value_checks(checks):
        return _map_analog("at_time", read, chip, key)


def sample_chip(model, key: PRNGKeyArray, *, compensate: bool = True):
    """A fresh chip for one training step: each layer programmed and read at a time drawn
    log-uniformly from its tile's `train_time`, drift compensated (unless
    `compensate=False`). Differentiable with respect to the weights, so `jax.grad` of a loss
    through it trains hardware-aware; call it once per batch and run every example through
    the same chip."""
    return _map_analog(
        "sample_chip", lambda layer, k: layer.sample_chip(k, compensate=compensate), model, key
    )


def map_tiles(model, fn: Callable[[Tile], Tile]):
    """`model` with every analog layer's tile replaced by `fn(tile)` (weights kept)."""
    return jax.tree_util.tree_map(
        lambda x: x.with_tile(fn(x.tile)) if _is_analog(x) else x,
        model,
        is_leaf=lambda x: _is_analog(x),
    )


def as_digital(model):
    """`model` computing in plain floating point: every tile made ideal (no device, no
    converters, no noise). Differentiable in the weights; for plain training and baselines."""
    return map_tiles(model, ideal_tile)
