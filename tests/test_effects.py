"""Composable effects: finite levels, stuck-at faults, device-to-device variability."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import devices

N = 200_000


@pytest.mark.parametrize("levels", [2, 4, 16, 256])
def test_quantised_levels_are_exact(levels, getkey):
    dev = devices.Quantised(devices.Ideal(g_max=25.0, g_min=1.0), levels=levels)
    # beyond the range on both sides, and off the exact half-steps (ties round to even)
    g = jnp.linspace(-1.0, 27.0, 2001) + 0.00123
    out = np.asarray(dev.read(getkey(), dev.program(getkey(), g), 0.0), np.float64)
    grid = 1.0 + 24.0 * np.arange(levels) / (levels - 1)
    # Every read lies on a level, and it is the nearest level to the clipped target.
    nearest = grid[np.abs(np.clip(np.asarray(g), 1, 25)[:, None] - grid[None, :]).argmin(1)]
    np.testing.assert_allclose(out, nearest, rtol=0, atol=1e-5)
    assert set(np.round(out, 4)) == set(np.round(grid, 4))


def test_quantised_straight_through_gradient(getkey):
    dev = devices.Quantised(devices.Ideal(), levels=8)
    key = getkey()

    def f(g):
        return dev.read(key, dev.program(key, g), 0.0).sum()

    g = jnp.array([0.3, 7.7, 12.1, 24.0])
    np.testing.assert_array_equal(np.asarray(jax.grad(f)(g)), np.ones(4))


def test_quantised_bits_of_the_reference_formula(getkey):
    """REFERENCE 3: q = (2^b - 1)/(G_max - G_min), G <- rint((G - G_min) q)/q + G_min, b = 3."""
    dev = devices.Quantised(devices.Ideal(g_max=8.0, g_min=1.0), levels=2**3)
    out = dev.read(getkey(), dev.program(getkey(), jnp.array([1.4, 1.6, 5.2])), 0.0)
    np.testing.assert_allclose(np.asarray(out), [1.0, 2.0, 5.0], atol=1e-6)


def test_stuck_at_fractions_and_values(getkey):
    p_low, p_high = 0.05, 0.02
    dev = devices.StuckAt(devices.PCM(), p_low=p_low, p_high=p_high)
    state = dev.program(getkey(), jnp.full((N,), 10.0))
    for p, mask in ((p_low, state.stuck_low), (p_high, state.stuck_high)):
        frac = float(jnp.mean(mask))
        assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / N)
    assert not bool(jnp.any(state.stuck_low & state.stuck_high))
    for t in (0.0, 3600.0, 3e7):
        g = dev.read(getkey(), state, t)
        assert bool(jnp.all(g[state.stuck_low] == 0.0))
        assert bool(jnp.all(g[state.stuck_high] == 25.0))
        healthy = ~(state.stuck_low | state.stuck_high)
        assert float(jnp.mean(g[healthy])) < 10.5  # the healthy cells drift as PCM does


def test_stuck_cells_have_no_gradient(getkey):
    dev = devices.StuckAt(devices.Ideal(), p_low=0.3, p_high=0.3)
    key = getkey()
    state = dev.program(key, jnp.full((1000,), 5.0))

    def f(g):
        return dev.read(key, dev.program(key, g), 0.0).sum()

    grad = np.asarray(jax.grad(f)(jnp.full((1000,), 5.0)))
    stuck = np.asarray(state.stuck_low | state.stuck_high)
    np.testing.assert_array_equal(grad[stuck], 0.0)
    np.testing.assert_array_equal(grad[~stuck], 1.0)


def test_variability_spread(getkey):
    sigma = 0.1
    dev = devices.Variability(devices.Ideal(), sigma=sigma)
    g = 20.0
    out = np.asarray(dev.read(getkey(), dev.program(getkey(), jnp.full((N,), g)), 0.0), np.float64)
    assert abs(out.mean() - g) < 4 * sigma * g / math.sqrt(N)
    assert abs(out.std() - sigma * g) < 4 * sigma * g / math.sqrt(2 * N)


def test_variability_scales_the_window_about_g_min(getkey):
    dev = devices.Variability(devices.Ideal(g_max=88.2, g_min=9.0), sigma=0.2)
    state = dev.program(getkey(), jnp.array([9.0, 40.0, 88.2]))
    g = np.asarray(dev.read(getkey(), state, 0.0))
    gain = np.asarray(state.gain)
    np.testing.assert_allclose(g, 9.0 + gain * (np.array([9.0, 40.0, 88.2]) - 9.0), rtol=1e-6)
    assert g[0] == 9.0


def test_effects_compose_and_keep_the_iv_curve(getkey):
    inner = devices.RRAMMilo2021()
    dev = devices.Variability(
        devices.StuckAt(devices.Quantised(inner, levels=16), p_low=0.1), sigma=0.05
    )
    assert (dev.g_min, dev.g_max) == (inner.g_min, inner.g_max)
    np.testing.assert_allclose(float(dev.current(100.0, 0.4)), float(inner.current(100.0, 0.4)))
    g = dev.read(getkey(), dev.program(getkey(), jnp.linspace(45.0, 225.0, 100)), 10.0)
    assert g.shape == (100,) and bool(jnp.all(jnp.isfinite(g)))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: devices.Quantised(devices.Ideal(), levels=1), "levels"),
        (lambda: devices.StuckAt(devices.Ideal(), p_low=-0.1), "p_low"),
        (lambda: devices.StuckAt(devices.Ideal(), p_high=1.5), "p_high"),
        (lambda: devices.StuckAt(devices.Ideal(), p_low=0.6, p_high=0.6), "p_low \\+ p_high"),
        (lambda: devices.Variability(devices.Ideal(), sigma=-0.1), "sigma"),
    ],
)
def test_bad_effect_configuration(make, match):
    with pytest.raises(ValueError, match=match):
        make()
