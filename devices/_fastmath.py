"""`log` in float32 for the per-cell hot paths of the device models.

XLA's CPU `log` handles every special value (zero, subnormals, infinities, NaN) with
branches in each element; the device models take it of conductance ratios and uniforms,
which are positive, finite and normal by construction. This one is a bit split and Cephes'
`logf` polynomial: within 1.2e-7 relative of the exact value (as `jnp.log` is; tested in
`tests/test_random.py`) at a little over half its cost (0.28 against 0.50 ns an element
here), with the exact derivative (`custom_jvp`). (XLA's `exp` is already as fast as a
polynomial written here.)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

_F = np.float32
#: Cephes' `logf` polynomial for log(1 + x), x in [sqrt(1/2) - 1, sqrt(2) - 1).
_LOG_POLY = tuple(
    _F(c)
    for c in (
        7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
        -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
    )
)  # fmt: skip
_SQRT_HALF_BITS = np.int32(0x3F3504F3)  # float32 sqrt(1/2)
_MANTISSA = np.int32(0x007FFFFF)
_LN2 = _F(math.log(2.0))


@jax.custom_jvp
def log(y: ArrayLike) -> Array:
    """Natural log of positive, finite, normal float32 `y`: `y = 2^e m` with `m` in
    [sqrt(1/2), sqrt(2)), and Cephes' polynomial for `log m`. Other dtypes: `jnp.log`."""
    y = jnp.asarray(y)
    if y.dtype != jnp.float32:
        return jnp.log(y)
    b = jax.lax.bitcast_convert_type(y, jnp.int32) - _SQRT_HALF_BITS
    e = (b >> 23).astype(jnp.float32)  # arithmetic shift: the exponent of y / sqrt(1/2)
    x = jax.lax.bitcast_convert_type((b & _MANTISSA) + _SQRT_HALF_BITS, jnp.float32) - _F(1)
    p = _LOG_POLY[0]
    for c in _LOG_POLY[1:]:
        p = p * x + c
    z = x * x
    return x * z * p - _F(0.5) * z + x + e * _LN2


@log.defjvp
def _log_jvp(primals, tangents):
    (y,), (dy,) = primals, tangents
    return log(y), dy / y
