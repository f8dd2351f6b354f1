"""Leaky integrate-and-fire neurons with surrogate gradients."""

from __future__ import annotations

import abc
import functools
import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, PyTree

from devices.checks import check_positive


class AbstractSurrogate(eqx.Module):
    """A spike function: the Heaviside step `H(u) = [u > 0]` forward, a smooth derivative
    backward. Subclasses give the derivative `dS/du`."""

    @abc.abstractmethod
    def derivative(self, u: Array) -> Array:
        """The surrogate of `dH/du` at `u` (membrane potential minus threshold)."""

    def __call__(self, u: Array) -> Array:
        return _spike(u, self)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _spike(u: Array, surrogate: AbstractSurrogate) -> Array:
    return (u > 0).astype(u.dtype)


@_spike.defjvp
def _spike_jvp(surrogate, primals, tangents):
    (u,), (du,) = primals, tangents
    return _spike(u, surrogate), surrogate.derivative(u) * du


class FastSigmoid(AbstractSurrogate):
    """SuperSpike's fast sigmoid (Zenke and Ganguli 2018): `1 / (1 + k |u|)^2`, k = 25."""

    slope: float = eqx.field(static=True, default=25.0)

    def __check_init__(self):
        check_positive("FastSigmoid", "slope", self.slope)

    def derivative(self, u: Array) -> Array:
        return 1.0 / (1.0 + self.slope * jnp.abs(u)) ** 2


class ArcTan(AbstractSurrogate):
    """snnTorch's arctan surrogate: `(alpha / 2) / (1 + (pi alpha u / 2)^2)`, alpha = 2."""

    alpha: float = eqx.field(static=True, default=2.0)

    def __check_init__(self):
        check_positive("ArcTan", "alpha", self.alpha)

    def derivative(self, u: Array) -> Array:
        return (self.alpha / 2) / (1.0 + (math.pi * self.alpha * u / 2) ** 2)


class Triangle(AbstractSurrogate):
    """The triangle (piecewise linear) surrogate: `max(0, 1 - |u|)`."""

    def derivative(self, u: Array) -> Array:
        return jnp.maximum(0.0, 1.0 - jnp.abs(u))


class StraightThrough(AbstractSurrogate):
    """The straight-through estimator: derivative 1 everywhere."""

    def derivative(self, u: Array) -> Array:
        return jnp.ones_like(u)


def fast_sigmoid(slope: float = 25.0) -> FastSigmoid:
    """`FastSigmoid(slope)` (the default of `LIF`), the slope stored as a Python float."""
    check_positive("fast_sigmoid", "slope", slope)
    return FastSigmoid(float(slope))


def arctan(alpha: float = 2.0) -> ArcTan:
    """`ArcTan(alpha)` (snnTorch's default), alpha stored as a Python float."""
    check_positive("arctan", "alpha", alpha)
    return ArcTan(float(alpha))


def triangle() -> Triangle:
    """`Triangle()`."""
    return Triangle()


def straight_through() -> StraightThrough:
    """`StraightThrough()`."""
    return StraightThrough()


def cell_parameter(owner: str, name: str, value, low: float, high: float | None = None) -> Array:
    """A neuron parameter as a strongly typed float32 array (a scalar or one value per
    neuron), checked to lie in `[low, high]` (or `> low` without `high`). Strongly typed: a
    weak type would turn strong after the first optimiser update and make every jitted
    training step compile twice more."""
    return jnp.asarray(_checked(owner, name, value, low, high), dtype=jnp.float32)


def _checked(owner: str, name: str, value, low: float, high: float | None) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        a = None
    if a is None or not np.all(np.isfinite(a)):
        raise ValueError(f"{owner}: `{name}` must be a finite number or array; got {value!r}.")
    ok = np.all((a >= low) & (a <= high)) if high is not None else np.all(a > low)
    if not ok:
        allowed = f"in [{low:g}, {high:g}]" if high is not None else f"> {low:g}"
        raise ValueError(f"{owner}: `{name}` must be {allowed}; got {value!r}.")
    return a


def decay_from(owner: str, name: str, value, tau, tau_name: str) -> Array:
    """A decay per step given directly or as a time constant in steps (`1 - 1/tau`)."""
    if (value is None) == (tau is None):
        raise ValueError(
            f"{owner}: give exactly one of `{name}` (decay per step) and `{tau_name}` (time "
            f"constant in steps); got {name}={value!r}, {tau_name}={tau!r}."
        )
    if tau is not None:  # in float64, rounded once to float32
        decay = 1.0 - 1.0 / _checked(owner, tau_name, tau, 1.0, math.inf)
        return jnp.asarray(decay, dtype=jnp.float32)
    return cell_parameter(owner, name, value, 0.0, 1.0)


def check_surrogate(owner: str, surrogate) -> AbstractSurrogate:
    """`surrogate`, or `FastSigmoid()` for None; anything else is an error."""
    surrogate = FastSigmoid() if surrogate is None else surrogate
    if not isinstance(surrogate, AbstractSurrogate):
        raise ValueError(
            f"{owner}: `surrogate` must be a crossbar.AbstractSurrogate (FastSigmoid(), ArcTan(), "
            f"Triangle(), StraightThrough()); got {surrogate!r}."
        )
    return surrogate


def check_reset(owner: str, reset) -> None:
    if reset not in ("subtract", "zero"):
        raise ValueError(f'{owner}: `reset` must be "subtract" or "zero"; got {reset!r}.')


def trained(value: Array, learn: bool) -> Array:
    """`value`, with its gradient stopped unless it is learned."""
    return value if learn else jax.lax.stop_gradient(value)


class AbstractNeuron(eqx.Module):
    """The interface of a stateful spiking cell, run over time by `SpikingNetwork` (and found
    there, in the energy report and in SynOps counts, by this type): a cell in the manner of
    `eqx.nn.GRUCell`, one time step per call.

    Implement `init_state(shape, dtype)` (the resting state of neurons whose input current
    has this shape: any pytree), `__call__(current, state) -> (spikes, state)` and
    `membrane(state)` (the membrane potential, shaped like the current: what the
    `"membrane"` readout averages). A neuron that holds analog layers of its own (a
    `crossbar.Recurrent` with its recurrent weights on a crossbar) takes a keyword `key` as
    well: `SpikingNetwork` passes one, for those layers' noise, to every neuron that holds an
    analog layer, and programs and reads those layers with the rest of the chip.
    """

    @abc.abstractmethod
    def init_state(self, shape: int | tuple[int, ...], dtype=None) -> PyTree:
        """The resting state of neurons whose input current has shape `shape`."""

    @abc.abstractmethod
    def __call__(self, current: ArrayLike, state: PyTree) -> tuple[Array, PyTree]:
        """One step. **Returns:** `(spikes, new state)`."""

    @abc.abstractmethod
    def membrane(self, state: PyTree) -> Array:
        """The membrane potential held in `state`."""


class LIF(AbstractNeuron):
    r"""A layer of leaky integrate-and-fire neurons: `lif(current, state) -> (spikes, state)`.

    The semantics of snnTorch's `Leaky` (with its default `reset_delay=True`): with $U$ the
    membrane potential, $I$ the input current, $\theta$ the threshold and the reset
    $R = H(U[t-1] - \theta)$ taken from the previous potential and carrying no gradient,

    - `reset="subtract"`: $U[t] = \beta U[t-1] + I[t] - R\,\theta$;
    - `reset="zero"`: $U[t] = \beta (1 - R) U[t-1] + I[t]$;

    and $S[t] = H(U[t] - \theta)$, strictly greater, with the surrogate's derivative in the
    backward pass. A cell in the manner of `eqx.nn.GRUCell`: one time step, the state is the
    membrane potential; a parent runs it over time with `jax.lax.scan`. Acts on any shape.

    **Arguments:**

    - `beta`: the decay per step in [0, 1], one for the layer or an array of one per neuron
      (broadcast against the current); or give `tau` instead, the time constant in steps, for
      `beta = 1 - 1/tau` (SpikingJelly's discretisation; `tau=2` gives 0.5).
    - `threshold`: the firing threshold (> 0, default 1).
    - `reset`: `"subtract"` (default) or `"zero"`.
    - `surrogate`: a surrogate from `fast_sigmoid()` (default), `arctan()`, `triangle()`,
      `straight_through()`.
    - `learn_beta`: whether `beta` is trained (it is then kept in [0, 1] when used).
    """

    beta: Array
    threshold: float = eqx.field(static=True)
    reset: Literal["subtract", "zero"] = eqx.field(static=True)
    surrogate: AbstractSurrogate = eqx.field(static=True)
    learn_beta: bool = eqx.field(static=True)

    def __init__(
        self,
        beta: ArrayLike | None = None,
        *,
        tau: ArrayLike | None = None,
        threshold: float = 1.0,
        reset: Literal["subtract", "zero"] = "subtract",
        surrogate: AbstractSurrogate | None = None,
        learn_beta: bool = False,
    ):
        # A strongly typed float32 array (a scalar, or one value per neuron): see
        # `cell_parameter`.
        self.beta = decay_from("LIF", "beta", beta, tau, "tau")
        check_positive("LIF", "threshold", threshold)
        check_reset("LIF", reset)
        surrogate = check_surrogate("LIF", surrogate)
        self.threshold = float(threshold)
        self.reset = reset
        self.surrogate = surrogate
        self.learn_beta = bool(learn_beta)

    def init_state(self, shape: int | tuple[int, ...], dtype=None) -> Array:
        """The resting state (zero membrane potential) of neurons of this shape."""
        return jnp.zeros(shape if isinstance(shape, tuple) else (shape,), dtype)

    def membrane(self, state: Array) -> Array:
        """The state is the membrane potential."""
        return state

    def __call__(self, current: ArrayLike, state: Array) -> tuple[Array, Array]:
        """One step. **Returns:** `(spikes, membrane potential)`, both shaped like `current`."""
        current = jnp.asarray(current)
        beta = self.beta if self.learn_beta else jax.lax.stop_gradient(self.beta)
        beta = jnp.clip(beta, 0.0, 1.0)
        reset = jax.lax.stop_gradient((state > self.threshold).astype(current.dtype))
        if self.reset == "subtract":
            u = beta * state + current - reset * self.threshold
        else:
            u = beta * (1.0 - reset) * state + current
        return self.surrogate(u - self.threshold), u
