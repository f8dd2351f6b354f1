"""The project's generator (`devices.normal`, `uniform`, `fold`): statistics, keys, bits."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy import stats

import devices
from devices._random import device_noise, rectified

N = 400_000


def test_normal_moments_and_distribution(getkey):
    z = np.asarray(devices.normal(getkey(), (N,)), np.float64)
    se = 1 / np.sqrt(N)
    assert abs(z.mean()) < 4 * se
    assert abs(z.var() - 1) < 4 * np.sqrt(2) * se
    assert abs(stats.skew(z)) < 4 * np.sqrt(6) * se
    assert abs(stats.kurtosis(z)) < 4 * np.sqrt(24) * se
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # the tails reach as far as jax.random.normal's (5.3 sd for 23-bit uniforms)
    assert 4.0 < np.abs(z).max() < 5.5
    for q in (0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999):
        assert abs(np.mean(z < stats.norm.ppf(q)) - q) < 4 * np.sqrt(q * (1 - q) / N)


def test_uniform_distribution(getkey):
    u = np.asarray(devices.uniform(getkey(), (N,)), np.float64)
    assert u.min() >= 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    counts = np.histogram(u, bins=64, range=(0, 1))[0]
    assert stats.chisquare(counts).pvalue > 1e-3


def test_independence_across_indices_and_keys(getkey):
    key = getkey()
    z = np.asarray(devices.normal(key, (N,)), np.float64)
    lim = 4 / np.sqrt(N)
    for lag in (1, 2, 7, 64, 1024):
        assert abs(np.corrcoef(z[:-lag], z[lag:])[0, 1]) < lim, lag
    # split keys, neighbouring fold_in keys, and hashed folds give unrelated streams
    others = [jr.split(key)[0], jr.fold_in(key, 1), devices.fold(key, 0), devices.fold(key, 1)]
    for other in others:
        w = np.asarray(devices.normal(other, (N,)), np.float64)
        assert abs(np.corrcoef(z, w)[0, 1]) < lim
        assert abs(np.corrcoef(z, w**2)[0, 1]) < lim
    # many keys, one draw each: the draws across keys are standard normal too
    keys = jr.split(getkey(), 20_000)
    firsts = np.asarray(jax.vmap(lambda k: devices.normal(k, (3,)))(keys), np.float64)
    assert stats.kstest(firsts[:, 0], "norm").pvalue > 1e-3
    assert abs(np.corrcoef(firsts[:, 0], firsts[:, 1])[0, 1]) < 4 / np.sqrt(20_000)


def test_same_key_same_bits_under_jit_and_vmap(getkey):
    key = getkey()
    a = devices.normal(key, (5, 7))
    np.testing.assert_array_equal(a, jax.jit(devices.normal, static_argnums=1)(key, (5, 7)))
    np.testing.assert_array_equal(a, device_noise(key, (5, 7)))
    keys = jr.split(getkey(), 4)
    np.testing.assert_array_equal(
        jax.vmap(lambda k: devices.normal(k, (9,)))(keys),
        np.stack([devices.normal(k, (9,)) for k in keys]),
    )
    assert not np.array_equal(devices.normal(keys[0], (9,)), devices.normal(keys[1], (9,)))
    typed = jr.key(3)  # new-style keys give the same bits as their data
    np.testing.assert_array_equal(
        devices.normal(typed, (4,)), devices.normal(jr.key_data(typed), (4,))
    )
    assert jnp.issubdtype(devices.fold(typed, 2).dtype, jax.dtypes.prng_key)
    with pytest.raises(ValueError, match="threefry key"):
        devices.normal(jnp.zeros(4, jnp.uint32), (2,))  # an rbg key


def test_rectified_draw_has_the_reparameterised_derivative(getkey):
    """The derivative written without the draws equals the one through them."""
    xi = devices.normal(getkey(), (1000,))
    mean = jnp.linspace(-1.0, 3.0, 1000)

    def ours(m, a):
        return jnp.sum(jnp.sin(rectified(m, a, xi)))

    def plain(m, a):
        return jnp.sum(jnp.sin(jnp.maximum(m + a * xi, 0.0)))

    for amp in (lambda m: 0.3 + 0.1 * m**2, lambda m: jnp.zeros_like(m)):
        g1 = jax.grad(lambda m: ours(m, amp(m)))(mean)
        g2 = jax.grad(lambda m: plain(m, amp(m)))(mean)
        np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(rectified(mean, 0.3, xi), jnp.maximum(mean + 0.3 * xi, 0.0))


def test_transform_and_log_against_float64():
    """Every one of the 2^23 uniforms maps to sqrt(2) erfinv(u) within 3.5e-6 relative (XLA's
    own erf_inv: 5.8e-6); the fast log is within 1.5e-7 (relative, or absolute below 1) of the
    exact log over the normal float32 range, as XLA's is, with the derivative 1 / y."""
    from scipy.special import erfinv

    from devices import _fastmath
    from devices._random import _to_normal

    m = np.arange(2**23, dtype=np.uint32)
    z = np.asarray(jax.jit(_to_normal)(jnp.asarray(m << 9)), np.float64)
    u = (m.astype(np.float64) + 0.5) * 2.0**-22 - 1
    exact = np.sqrt(2) * erfinv(u)
    assert np.max(np.abs(z - exact) / np.abs(exact)) < 3.5e-6
    assert np.all(np.diff(z) >= 0)  # monotone in the bits, as an inverse CDF
    y = np.exp(np.linspace(np.log(1.2e-38), np.log(3e38), 1_000_001)).astype(np.float32)
    got = np.asarray(jax.jit(_fastmath.log)(y), np.float64)
    want = np.log(y.astype(np.float64))
    xla = np.asarray(jax.jit(jnp.log)(y), np.float64)
    err = np.max(np.abs(got - want) / np.maximum(np.abs(want), 1.0))
    assert err < 1.5e-7  # float32 rounding of the result: XLA's log is at
    assert err < 2 * np.max(np.abs(xla - want) / np.maximum(np.abs(want), 1.0))
    assert float(jax.grad(_fastmath.log)(4.0)) == 0.25
