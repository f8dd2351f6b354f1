"""Gaussian draws from a counter-based generator in integer operations.

`jax.random.normal` runs the 20 rounds of Threefry-2x32 for every pair of draws and then an
inverse error function; on a CPU that costs about 4 ns a draw, more than a matrix product
spends per output. Every chip the project samples draws one to three Gaussians per cell and
one per tile output, so the generator sets the speed of hardware-aware training and of
noisy inference. `normal` keeps JAX's contract (an explicit key; same key, same bits; under
`jit` and `vmap` alike) and replaces the bits with a keyed hash of each draw's index: rounds
of Wellons' `triple32` permutation (a 32-bit bijection with near-ideal avalanche; "Hash
function prospector", 2018), keyed with 64 bits hashed from the words of the JAX key (no
Threefry call), and the inverse-CDF transform of `jax.random.normal` at half its cost
(`_to_normal`). Statistics (moments, Kolmogorov-Smirnov, quantiles, correlation across indices and
across keys) are tested in `tests/test_random.py`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from ._fastmath import log as fast_log

_M1, _M2, _M3 = np.uint32(0xED5AD4BB), np.uint32(0xAC4C1B51), np.uint32(0x31848BAB)


def _triple32(x: Array) -> Array:
    x = x ^ (x >> 17)
    x = x * _M1
    x = x ^ (x >> 11)
    x = x * _M2
    x = x ^ (x >> 15)
    x = x * _M3
    return x ^ (x >> 14)


_K1, _K2 = np.uint32(0x9E3779B9), np.uint32(0x85EBCA6B)


def _key_words(key: PRNGKeyArray) -> Array:
    """The two uint32 words of a threefry key (a raw `jr.PRNGKey` or a typed `jr.key`)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jr.key_data(key)
    if key.shape != (2,) or key.dtype != jnp.uint32:
        raise ValueError(
            f"devices.normal: `key` must be a threefry key (jax.random.PRNGKey or key); got "
            f"{key.dtype}{list(key.shape)}."
        )
    return key


def _seeds(key: PRNGKeyArray) -> Array:
    """64 bits of seed from a key, by hashing its words (no threefry call: on the CPU each
    threefry call is a loop of five steps, each its own kernel launch, which made the key
    handling of a spiking network's time steps cost more than its arithmetic)."""
    k = _key_words(key)
    s0 = _triple32(k[0] ^ _triple32(k[1] + _K1))
    s1 = _triple32(k[1] ^ _triple32(s0 + _K2))
    return jnp.stack([s0, s1])


def fold(key: PRNGKeyArray, data: int) -> PRNGKeyArray:
    """A new key from `key` and an integer `data`, as `jax.random.fold_in` but by hashing (no
    threefry call), for keys derived on every step of a hot loop. Same type of key out."""
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    k = _seeds(key) ^ _triple32(jnp.asarray(data, jnp.uint32) + _K1)
    k = jnp.stack([_triple32(k[0]), _triple32(k[1] ^ k[0])])
    return jr.wrap_key_data(k) if typed else k


def _hash(seeds: Array, i: Array) -> Array:
    return _triple32(_triple32(i ^ seeds[0]) ^ seeds[1])


def _check(shape: tuple[int, ...]) -> int:
    n = math.prod(shape)
    if n >= 2**32:
        raise ValueError(f"devices.normal: at most 2**32 - 1 draws per call; got shape {shape}.")
    return n


_F = np.float32


#: `sqrt(2) erfinv(u) / u` as a polynomial of degree 10 in `t = 2 w / W - 1`, where
#: `w = -log(1 - u^2)` and `W` lies just above the largest `w` of a 23-bit uniform (Chebyshev
#: fit; within 3.3e-6 relative of scipy's `erfinv` in float32 at every one of the 2^23 inputs,
#: where `jax.lax.erf_inv` is within 5.8e-6).
_W_MAX = _F(15.25686264038086)
_QUANTILE_POLY = tuple(
    _F(c)
    for c in (
        -0.021931201219558716, 0.03134133666753769, 0.03648123890161514, -0.09338787198066711,
        0.06713245064020157, -0.020924564450979233, -0.03815373778343201, 0.1600472629070282,
        -0.43898987770080566, 1.9443132877349854, 3.670163154602051,
    )
)  # fmt: skip


def _to_normal(b: Array) -> Array:
    """A standard normal draw from 32 random bits: the top 23 give the uniform `u` on (-1, 1),
    and `sqrt(2) erfinv(u)` is the draw, computed as `u` times one polynomial in
    `-log(1 - u^2)` (XLA's `erf_inv` computes two polynomials and a square root for every
    element and selects one; this costs about half as much)."""
    m = (b >> 9).astype(jnp.float32)
    u = (m + _F(0.5)) * _F(2.0**-22) - _F(1)
    t = fast_log((_F(1) - u) * (_F(1) + u)) * _F(-2 / _W_MAX) - _F(1)
    p = _QUANTILE_POLY[0]
    for c in _QUANTILE_POLY[1:]:
        p = p * t + c
    # Divided by an exact 1 that XLA cannot fold (`m * 0 + 1`, elementwise): a division is
    # an "expensive" instruction, which XLA's fusion keeps once instead of copying the
    # whole generator (hash and transform) into every reader of the draws.
    return (p * u) / (m * _F(0) + _F(1))


def _index(shape: tuple[int, ...], full: tuple[int, ...] | None = None) -> Array:
    """Each element's row-major linear index (uint32), built from one iota per axis: XLA's
    CPU loops vectorise a broadcast iota along the last axis, but a flat `iota(n)` reshaped
    to `shape` costs about four times as much (measured: 0.4 against 0.8 ns an element of
    `bits` at 2 x 512 x 512). `full`: the indices are those of an array of that shape (the
    strides; `shape` a block of it at its origin)."""
    full = shape if full is None else full
    idx, stride = jnp.zeros(shape, jnp.uint32), 1
    for axis in reversed(range(len(shape))):
        if shape[axis] > 1:
            idx = idx + jax.lax.broadcasted_iota(jnp.uint32, shape, axis) * np.uint32(stride)
        stride *= full[axis]
    return idx


def bits(key: PRNGKeyArray, shape: tuple[int, ...]) -> Array:
    """32 random bits for every element of `shape` (uint32), from `key`."""
    shape = tuple(shape)
    _check(shape)
    return _hash(_seeds(key), _index(shape))


def uniform(key: PRNGKeyArray, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    """Uniform draws on [0, 1) of `shape` from `key`, 24 bits each (`(bits >> 8) 2^-24`)."""
    shape = tuple(shape)
    return ((bits(key, shape) >> 8).astype(jnp.float32) * np.float32(2.0**-24)).astype(dtype)


def normal(key: PRNGKeyArray, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    """Standard normal draws of `shape` from `key` (float32 computed, cast to `dtype`).

    The top 23 bits `m` of each hash give a uniform `u = (m + 1/2) 2^-22 - 1` on the open
    interval (-1, 1), symmetric about 0 (every value exact in float32), and
    `sqrt(2) erfinv(u)` is the draw (see `_to_normal`): the transform of
    `jax.random.normal`, with the same reach into the tails (5.3 standard deviations).
    """
    shape = tuple(shape)
    return _to_normal(bits(key, shape)).astype(dtype)


def normal_slice(
    key: PRNGKeyArray, shape: tuple[int, ...], axis: int, index: ArrayLike, dtype=jnp.float32
) -> Array:
    """`normal(key, shape, dtype)` at `index` (a traced integer allowed) along `axis`, that
    axis kept with length 1: the same bits, drawn on their own (for a loop over `axis` that
    should draw what one call draws for the whole array)."""
    shape = tuple(shape)
    _check(shape)
    block = shape[:axis] + (1,) + shape[axis + 1 :]
    stride = math.prod(shape[axis + 1 :])
    idx = _index(block, shape) + jnp.asarray(index).astype(jnp.uint32) * np.uint32(stride)
    return _to_normal(_hash(_seeds(key), idx)).astype(dtype)


def device_noise(key: PRNGKeyArray, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    """`normal(key, shape, dtype)`, the same bits, computed once and kept in memory: what a
    device model's reparameterised noise uses.

    A forward pass and its derivative both read the draws of every cell. Left to itself,
    XLA fuses the generator into every reader and computes it again in the backward pass
    (two thirds of a PCM training step went there); an optimisation barrier does not stop
    that on the CPU. The draws are made in a loop of two chunks, whose result XLA keeps.
    """
    shape = tuple(shape)
    n = _check(shape)
    if n < 2:
        return normal(key, shape, dtype)
    seeds, half = _seeds(key), -(-n // 2)

    def chunk(c):
        i = jax.lax.iota(jnp.uint32, half) + (c * half).astype(jnp.uint32)
        return _to_normal(_hash(seeds, i))

    draws = jax.lax.map(chunk, jnp.arange(2, dtype=jnp.uint32)).reshape(-1)[:n]
    return draws.reshape(shape).astype(dtype)


@jax.custom_jvp
def rectified(mean: ArrayLike, amplitude: ArrayLike, xi: Array) -> Array:
    """`max(mean + amplitude * xi, 0)`: a reparameterised Gaussian draw, rectified, whose
    derivative does not read the draws.

    The tangent is `[y > 0] (d mean + (d amplitude / amplitude) (y - mean))`, which equals
    `[y > 0] (d mean + d amplitude * xi)` (as `y - mean = amplitude * xi` where `y > 0`),
    written with the output instead of `xi`: the backward pass of a training step then needs
    the conductances it already has, not the noise again (XLA would otherwise regenerate the
    draws inside the backward pass, several times per cell). Where the amplitude is zero the
    second term is zero. The draws `xi` carry no gradient.
    """
    return jnp.maximum(mean + amplitude * xi, 0.0)


@rectified.defjvp
def _rectified_jvp(primals, tangents):
    mean, amplitude, xi = primals
    d_mean, d_amplitude, _ = tangents
    y = rectified(mean, amplitude, xi)
    nonzero = amplitude != 0
    ratio = jnp.where(nonzero, d_amplitude / jnp.where(nonzero, amplitude, 1.0), 0.0)
    return y, jnp.where(y > 0, d_mean + ratio * (y - mean), 0.0)
