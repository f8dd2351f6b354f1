"""Fitting device models to measured data: round trips on data drawn from known models."""

import math

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import devices

TIMES = np.array([0.0, 10.0, 60.0, 300.0, 3600.0, 86400.0, 2.6e6, 3.15e7])


def programmed(dev, key, n, g_lo=0.0):
    k1, k2 = jr.split(key)
    g_t = jr.uniform(k1, (n,), minval=g_lo, maxval=dev.g_max)
    return np.asarray(g_t), np.asarray(dev.program(k2, g_t).g_prog)


def drift_data(dev, key, n, g_rel_lo=0.005):
    k1, k2, k3 = jr.split(key, 3)
    g_t = dev.g_max * jnp.exp(jr.uniform(k1, (n,), minval=math.log(g_rel_lo), maxval=0.0))
    state = dev.program(k2, g_t)
    reads = jnp.stack([dev.read(k, state, t) for k, t in zip(jr.split(k3, len(TIMES)), TIMES)])
    return np.asarray(g_t), np.asarray(reads)


def test_programming_noise_round_trip_recovers_pcm_coefficients(getkey):
    g_t, g_p = programmed(devices.PCM(), getkey(), 100_000)
    fit = devices.fit_programming_noise(g_t, g_p, g_max=25.0, degree=2, bins=40)
    np.testing.assert_allclose(fit.coeffs, (0.26348, 1.9650, -1.1731), rtol=0.04)


def test_programming_noise_round_trip_cubic_hermes(getkey):
    h = devices.PCM.hermes()
    g_t, g_p = programmed(h, getkey(), 100_000)
    fit = devices.fit_programming_noise(g_t, g_p, g_max=h.g_max, degree=3, bins=40)
    x = jnp.linspace(0.1, 1.0, 50)
    np.testing.assert_allclose(np.asarray(fit(x)), np.asarray(h.prog_sigma(x)), rtol=0.03)


def test_drift_round_trip_recovers_pcm_statistics(getkey):
    """With read noise on: the clipped lines of Nandakumar et al. come back."""
    g_t, reads = drift_data(devices.PCM(), getkey(), 100_000)
    mean, std = devices.fit_drift(g_t, TIMES, reads, g_max=25.0, bins=40)
    assert mean.slope == pytest.approx(-0.0155, rel=0.08)
    assert mean.intercept == pytest.approx(0.0244, rel=0.08)
    assert (mean.lo, mean.hi) == (pytest.approx(0.049, rel=0.02), pytest.approx(0.1, rel=0.05))
    assert std.slope == pytest.approx(-0.0125, rel=0.08)
    assert std.intercept == pytest.approx(-0.0059, rel=0.15)
    assert (std.lo, std.hi) == (pytest.approx(0.008, rel=0.05), pytest.approx(0.045, rel=0.05))
    # The curves themselves, over the range of the data.
    x = jnp.exp(jnp.linspace(math.log(0.006), 0.0, 40))
    true = devices.PCM()
    np.testing.assert_allclose(np.asarray(mean(x)), np.asarray(true.drift_mean(x)), rtol=0.045)
    np.testing.assert_allclose(np.asarray(std(x)), np.asarray(true.drift_std(x)), rtol=0.08)


def test_fit_pcm_gives_a_working_model(getkey):
    source = devices.PCM(g_max=20.0)
    g_t, g_p = programmed(source, getkey(), 100_000)
    g_t2, reads = drift_data(source, getkey(), 100_000)
    fitted = devices.fit_pcm(g_t, g_p, TIMES, reads, g_max=20.0, g_target_read=g_t2, bins=40)
    assert isinstance(fitted, devices.PCM) and fitted.g_max == 20.0
    n, g = 200_000, 8.0
    a = np.asarray(source.read(getkey(), source.program(getkey(), jnp.full((n,), g)), 86400.0))
    b = np.asarray(fitted.read(getkey(), fitted.program(getkey(), jnp.full((n,), g)), 86400.0))
    assert abs(b.mean() / a.mean() - 1) < 0.01
    assert abs(b.std() / a.std() - 1) < 0.03


def test_clipped_line_fit_is_exact_on_clean_data():
    x = np.linspace(-7, 0, 60)
    y = np.clip(-0.0155 * x + 0.0244, 0.049, 0.1)
    a, b, lo, hi = devices.fit_clipped_line(x, y, grid=400)
    assert (a, b, lo, hi) == (
        pytest.approx(-0.0155, rel=2e-3),
        pytest.approx(0.0244, rel=5e-3),
        pytest.approx(0.049, rel=1e-3),
        pytest.approx(0.1, rel=1e-3),
    )
    # An unclipped line comes back as itself.
    a, b, lo, hi = devices.fit_clipped_line(x, 2.0 * x + 1.0)
    assert (a, b, lo, hi) == (
        pytest.approx(2.0),
        pytest.approx(1.0),
        pytest.approx(-13.0),
        pytest.approx(1.0),
    )


def test_fitting_bad_input():
    g = np.linspace(1, 25, 1000)
    with pytest.raises(ValueError, match="same number of devices"):
        devices.fit_programming_noise(g, g[:-1], g_max=25.0)
    with pytest.raises(ValueError, match="non-finite"):
        devices.fit_programming_noise(np.append(g, np.nan), np.append(g, 1.0), g_max=25.0)
    with pytest.raises(ValueError, match="too few"):
        devices.fit_programming_noise(g[:50], g[:50], g_max=25.0, bins=20)
    with pytest.raises(ValueError, match="g_max"):
        devices.fit_programming_noise(g, g, g_max=0.0)
    with pytest.raises(ValueError, match="bins"):
        devices.fit_programming_noise(g, g, g_max=25.0, bins=1)
    with pytest.raises(ValueError, match="shape"):
        devices.fit_drift(g, [0.0, 1.0, 2.0], np.ones((2, 1000)), g_max=25.0)
    with pytest.raises(ValueError, match="3 distinct"):
        devices.fit_drift(g, [0.0, 1.0], np.ones((2, 1000)), g_max=25.0)
    with pytest.raises(ValueError, match="t0"):
        devices.fit_drift(g, [0.0, 1.0, 2.0], np.ones((3, 1000)), g_max=25.0, t0=-1.0)
