"""The interface every device model implements."""

import abc
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from .checks import as_float_array, checked_target, checked_time


class AbstractDevice(eqx.Module):
    """One population of memristive cells: how they are programmed and how they read.

    A device model knows nothing of crossbars. It turns target conductances into a programmed
    state, and a programmed state into the conductances read `t` seconds later:

    ```python
    state = device.program(key1, g_target)   # programming noise, drift exponents, faults...
    g = device.read(key2, state, t=3600.0)   # drift and read noise, one hour later
    ```

    Conductances are in microsiemens (uS), times in seconds since programming. `g_target` may
    have any shape; the state is an Equinox module (a pytree) of arrays of that shape, and so
    is what `read` returns. Both methods work under `jax.jit`, `jax.vmap` and `jax.grad`: every
    random draw is reparameterised (`g = mu(g_target) + sigma(g_target) * xi` with `xi` drawn
    from `key`), so the gradient of a read conductance with respect to `g_target` exists, as
    hardware-aware training needs. Same key, same bits.

    Targets outside `[g_min, g_max]` are clipped to it (with zero gradient outside the range);
    non-finite targets are an error, also inside `jit` (through `eqx.error_if`). Negative read
    times are an error.

    Cells are independent: a cell's state and read depend on its own target alone (the
    draws are per cell), which `program_and_read` relies on for its derivative and
    `tests/test_device_api.py` checks for every model (a diagonal Jacobian).

    Every device has `g_min` and `g_max`, its conductance range in uS. Subclasses implement
    `_program` (whose `g_target` is already checked and clipped), `_read` (whose `t` is
    already checked), `is_stochastic` and `current` (`ohmic` for a linear cell); the methods
    implemented here are not overridden.
    """

    g_min: eqx.AbstractVar[float]
    g_max: eqx.AbstractVar[float]

    def program(self, key: PRNGKeyArray, g_target: ArrayLike, *, check: bool = True) -> eqx.Module:
        """Program target conductances `g_target` (uS, any shape).

        **Arguments:**

        - `key`: a JAX PRNG key, used for every random draw of programming.
        - `g_target`: the target conductances in uS; clipped to `[g_min, g_max]`.
        - `check`: whether non-finite targets raise (`eqx.error_if`, also inside `jit`).
          `check=False` is for hot paths whose targets are known to be finite (a training
          step that maps finite weights): the check costs a host round trip per call.

        **Returns:** the programmed state, an Equinox module of arrays shaped like `g_target`.
        """
        if check:
            g = checked_target(type(self).__name__, g_target, self.g_min, self.g_max)
        else:
            g = jnp.clip(as_float_array(g_target), self.g_min, self.g_max)
        return self._program(key, g)

    def read(
        self, key: PRNGKeyArray, state: eqx.Module, t: ArrayLike, *, check: bool = True
    ) -> Array:
        """Read programmed cells `t` seconds after programming.

        **Arguments:**

        - `key`: a JAX PRNG key, used for every random draw of the read (drift spread, read
          noise).
        - `state`: what `program` returned.
        - `t`: seconds since programming, `>= 0`; a scalar or an array broadcastable to the
          state's shape.
        - `check`: whether a negative or non-finite traced `t` raises (`eqx.error_if`);
          `check=False` for hot paths whose times are valid by construction.

        **Returns:** the conductances in uS, shaped like the programmed targets.
        """
        owner = type(self).__name__
        if not check:
            return self._read(key, state, as_float_array(t))
        t, bad = checked_time(owner, t)
        g = self._read(key, state, t)
        return eqx.error_if(
            g, bad, f"{owner}.read: `t` (seconds since programming) must be finite and >= 0."
        )

    def program_and_read(
        self, k_program: PRNGKeyArray, k_read: PRNGKeyArray, g_target: Array, t: Array
    ) -> Array:
        """`read(k_read, program(k_program, g_target), t)` for a training step's hot path:
        the same conductances, without the checks of traced values (`check=False`: targets
        mapped from finite weights, times drawn from a valid range).

        A device's cells are independent (a cell's state and read depend on its own target
        only), so the derivative with respect to `g_target` is one number per cell. It is
        computed with the forward pass, in the same loops, and the backward pass multiplies
        by it, rather than going back through the device model (which re-reads every
        intermediate of programming, drift and read noise: a fifth of a PCM training step).
        Tangents of anything but `g_target` (the keys, `t`, array fields of the device) go
        through the device model as usual.
        """
        dynamic, static = eqx.partition(self, eqx.is_array)
        return _cellwise(static, (dynamic, k_program, k_read, t), g_target)

    @property
    @abc.abstractmethod
    def is_stochastic(self) -> bool:
        """Whether `program` or `read` draws random numbers (so callers must pass real keys)."""

    @property
    def reads_targets(self) -> bool:
        """Whether every read returns the programmed targets themselves, at every time, for
        targets in `[g_min, g_max]` (no noise, no drift: `Ideal`). False unless a device says
        so; a training chip then needs no drift compensation (its expected gain is 1)."""
        return False

    @abc.abstractmethod
    def current(self, g: ArrayLike, v: ArrayLike) -> Array:
        """Cell current in uA for conductance `g` (uS) and voltage `v` (V): `ohmic(g, v)` for
        a linear cell. The crossbar uses it in both the ideal and the IR-drop solve."""

    @abc.abstractmethod
    def _program(self, key: PRNGKeyArray, g_target: Array) -> eqx.Module:
        """Program checked, clipped targets."""

    @abc.abstractmethod
    def _read(self, key: PRNGKeyArray, state: eqx.Module, t: Array) -> Array:
        """Read a programmed state at checked times."""


def ohmic(g: ArrayLike, v: ArrayLike) -> Array:
    """Ohm's law, `g v`: the current in uA of a linear cell of conductance `g` (uS) at `v`
    (V)."""
    return jnp.asarray(g) * jnp.asarray(v)


def _program_read(static, aux, g_target: Array) -> Array:
    dynamic, k_program, k_read, t = aux
    device = eqx.combine(dynamic, static)
    state = device.program(k_program, g_target, check=False)
    return device.read(k_read, state, t, check=False)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _cellwise(static, aux, g_target: Array) -> Array:
    return _program_read(static, aux, g_target)


def _zero(tangent) -> bool:
    return isinstance(tangent, SymbolicZero)


def _instantiated(tangent):
    if not _zero(tangent):
        return tangent
    if tangent.dtype == jax.dtypes.float0:
        return np.zeros(tangent.shape, jax.dtypes.float0)
    return jnp.zeros(tangent.shape, tangent.dtype)


@functools.partial(_cellwise.defjvp, symbolic_zeros=True)
def _cellwise_jvp(static, primals, tangents):
    aux, g_target = primals
    aux_dot, g_dot = tangents
    f = functools.partial(_program_read, static)
    if not all(map(_zero, jax.tree_util.tree_leaves(aux_dot, is_leaf=_zero))):
        # a tangent of the keys' times or of the device's arrays: the general rule
        tangents = jax.tree_util.tree_map(_instantiated, tangents, is_leaf=_zero)
        return jax.jvp(f, primals, tangents)
    if _zero(g_dot):
        g = f(aux, g_target)
        return g, jnp.zeros_like(g)
    # one tangent of ones gives every cell its own derivative (the Jacobian is diagonal)
    g, slope = jax.jvp(lambda g: f(aux, g), (g_target,), (jnp.ones_like(g_target),))
    return g, slope * g_dot
