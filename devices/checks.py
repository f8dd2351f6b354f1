"""Validation helpers shared by the device models and by `crossbar` (public: the layers,
tiles and studies of `crossbar` check their arguments with these).

Configuration errors raise `ValueError` at construction, naming the argument, the value and
what is allowed. Values that only exist inside `jit` are checked with `eqx.error_if`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


def is_real(value: Any) -> bool:
    """Whether `value` is a real scalar: a Python or NumPy integer or float, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value: Any) -> bool:
    """Whether `value` is an integer scalar: a Python or NumPy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


_is_number = is_real


def is_zero(value: Any) -> bool:
    """Whether `value` is a Python or NumPy number equal to zero.

    What a configuration's structure is decided by: a noise level, a gain error or a
    coefficient that is the number 0 turns its part off (nothing is drawn or computed); any
    other value, and any JAX array (which may be swept or traced: `jax.vmap` over a grid of
    values), keeps it on, computed with the value.
    """
    return is_real(value) and value == 0


def scalar_value(value: Any) -> Any:
    """A configuration scalar as a Python number where it is concrete: a number as it is, a
    0-d concrete array as its value; a traced value (inside `jit` or `vmap`) as None, since
    it can only be checked where it was concrete. Anything else is returned unchanged (and
    fails the caller's check)."""
    if isinstance(value, jax.core.Tracer):
        return None
    if isinstance(value, (jax.Array, np.ndarray)) and value.ndim == 0:
        if jnp.issubdtype(value.dtype, jnp.floating) or jnp.issubdtype(value.dtype, jnp.integer):
            return value.item()
    return value


def check_finite_number(owner: str, name: str, value: Any) -> None:
    """Raise unless `value` is a finite real number (or a 0-d array of one; a traced value
    passes: it is checked where it was concrete)."""
    value = scalar_value(value)
    if value is None:
        return
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{owner}: `{name}` must be a finite number; got {value!r}.")


def check_int(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    """Raise unless `value` is an integer >= `minimum` (bools are not integers here)."""
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{owner}: `{name}` must be an integer >= {minimum}; got {value!r}.")


def check_positive(owner: str, name: str, value: Any) -> None:
    """Raise unless `value` is a finite number > 0."""
    check_finite_number(owner, name, value)
    value = scalar_value(value)
    if value is not None and value <= 0:
        raise ValueError(f"{owner}: `{name}` must be > 0; got {value!r}.")


def check_nonnegative(owner: str, name: str, value: Any) -> None:
    """Raise unless `value` is a finite number >= 0."""
    check_finite_number(owner, name, value)
    value = scalar_value(value)
    if value is not None and value < 0:
        raise ValueError(f"{owner}: `{name}` must be >= 0; got {value!r}.")


def check_conductance_range(owner: str, g_min: Any, g_max: Any) -> None:
    """Raise unless 0 <= g_min < g_max (microsiemens)."""
    check_positive(owner, "g_max", g_max)
    check_nonnegative(owner, "g_min", g_min)
    g_min, g_max = scalar_value(g_min), scalar_value(g_max)
    if g_min is not None and g_max is not None and g_min >= g_max:
        raise ValueError(
            f"{owner}: `g_min` must be below `g_max`; got g_min={g_min!r} uS >= g_max={g_max!r} uS."
        )


def check_fraction(owner: str, name: str, value: Any) -> None:
    """Raise unless `value` is a number in [0, 1]."""
    check_finite_number(owner, name, value)
    value = scalar_value(value)
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: `{name}` must lie in [0, 1]; got {value!r}.")


def as_float_array(x: ArrayLike) -> Array:
    """`x` as a JAX array of a floating dtype (integers become the default float)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def checked_time(owner: str, t: ArrayLike) -> tuple[Array, Array]:
    """The read time `t` in seconds as an array, and whether any of it is bad.

    A Python number is checked at once (`ValueError`). For an array, possibly traced inside
    `jit`, the second result (negative or non-finite anywhere) is for `eqx.error_if` on the
    read's *output*, where the check cannot be removed as dead code.
    """
    if _is_number(t):
        if not math.isfinite(t) or t < 0:
            raise ValueError(
                f"{owner}.read: `t` (seconds since programming) must be finite and >= 0; got {t!r}."
            )
    t = as_float_array(t)
    return t, jnp.any(~jnp.isfinite(t) | (t < 0))


def checked_target(
    owner: str, g_target: ArrayLike, g_min: float | Array, g_max: float | Array
) -> Array:
    """Target conductances as a float array, non-finite values caught, clipped to range."""
    g = as_float_array(g_target)
    g = eqx.error_if(
        g,
        jnp.any(~jnp.isfinite(g)),
        f"{owner}.program: `g_target` holds non-finite conductances (nan or inf).",
    )
    return jnp.clip(g, g_min, g_max)


def safe_sqrt(x: Array) -> Array:
    """`sqrt(max(x, 0))` with a zero (not infinite) gradient where x <= 0."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)
