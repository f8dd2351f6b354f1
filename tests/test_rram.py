"""RRAM models against their published fits."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import normal_cdf

import devices

N = 200_000
DAY = 86400.0


def moments(x):
    x = np.asarray(x, np.float64)
    return x.mean(), x.std(ddof=1)


def assert_std(s, expected, n=N):
    assert abs(s - expected) <= 4 * expected / math.sqrt(2 * n), (s, expected)


def assert_mean(m, expected, sd, n=N):
    assert abs(m - expected) <= 4 * sd / math.sqrt(n), (m, expected)


# ---------------------------------------------------------------- HfOx CMO (IBM Zurich)


@pytest.mark.parametrize(
    "acceptance, c0, c1", [(0.2, 0.00081107, 0.00106879), (2.0, 0.0112185, 0.0112903)]
)
def test_cmo_programming_spread(acceptance, c0, c1, getkey):
    dev = devices.RRAMCMO(acceptance=acceptance)
    g = 50.0
    out = dev.read(getkey(), dev.program(getkey(), jnp.full((N,), g)), 0.0)
    m, s = moments(out)
    assert_std(s, c0 + c1 * g)
    assert_mean(m, g, c0 + c1 * g)


def test_cmo_relaxation_and_read_noise_at_one_day(getkey):
    dev = devices.RRAMCMO(acceptance=2.0)
    g = 50.0
    out = dev.read(getkey(), dev.program(getkey(), jnp.full((N,), g)), DAY)
    m, s = moments(out)
    shift = -0.08900206 * math.log(DAY)
    s_prog = 0.0112185 + 0.0112903 * g
    s_relax = 0.04201137 * math.log(DAY) + 0.41183342
    # The read noise scales with log10 of the relaxed conductance (about g + shift).
    s_read = 0.0277316 * math.log10(g + shift) * math.sqrt(math.log((DAY + 1e-6) / 2e-6))
    expected = math.sqrt(s_prog**2 + s_relax**2 + s_read**2)
    assert_mean(m, g + shift, expected)
    assert abs(s / expected - 1) < 0.01  # log10(g) varies slightly across the population


def test_cmo_clips_to_range_and_t0_is_programmed(getkey):
    dev = devices.RRAMCMO(acceptance=2.0)
    state = dev.program(getkey(), jnp.array([9.0, 88.2, 40.0]))
    g0 = dev.read(getkey(), state, 0.0)
    # At t = 0: the programmed conductance, with no relaxation and no read noise.
    g0_again = dev.read(getkey(), state, 0.0)
    np.testing.assert_array_equal(np.asarray(g0), np.asarray(g0_again))
    late = dev.read(getkey(), dev.program(getkey(), jnp.full((N,), 9.0)), 1e8)
    assert float(late.min()) >= 9.0 and float(late.max()) <= 88.2
    # Half the devices at g_min relax below it and are clipped there.
    assert abs(float(jnp.mean(late == 9.0)) - 0.5) < 0.1


def test_cmo_bad_acceptance():
    with pytest.raises(ValueError, match="acceptance"):
        devices.RRAMCMO(acceptance=1.0)


# ---------------------------------------------------------------- NeuRRAM (Wan 2022)

WAN = {
    1.0: (0.348, 16.030, -43.853, 45.393, -16.815),
    DAY: (0.701, 22.086, -50.773, 47.095, -16.458),
    2 * DAY: (0.782, 20.274, -43.507, 37.062, -11.934),
}


def wan_sigma(g, t, g_max=40.0):
    x = g / g_max
    return max(sum(c * x**i for i, c in enumerate(WAN[t])), 0.0) * g_max / 40.0


def test_wan_published_one_second_spread_is_close_to_the_aihwkit_fit():
    """Sanity of the constants: aihwkit's quartic against Wan's own cubic in G at 1 s."""
    for g in [5.0, 10.0, 20.0, 30.0]:
        published = max(1.536e-4 * g**3 - 1.167e-2 * g**2 + 0.2374 * g + 1.053, 0.0)
        assert abs(wan_sigma(g, 1.0) - published) < 0.5


@pytest.mark.parametrize("t", [1.0, DAY, 2 * DAY])
@pytest.mark.parametrize("g", [10.0, 20.0, 30.0])
def test_wan_spread_at_fitted_times(g, t, getkey):
    dev = devices.RRAMWan2022()
    out = dev.read(getkey(), dev.program(getkey(), jnp.full((N,), g)), t)
    m, s = moments(out)
    assert_std(s, wan_sigma(g, t))
    assert_mean(m, g, wan_sigma(g, t))


def test_wan_spread_interpolates_in_log_time(getkey):
    dev = devices.RRAMWan2022()
    g = 20.0
    t_mid = math.sqrt(1.0 * DAY)  # halfway between 1 s and 1 day in log-time
    expected = 0.5 * (wan_sigma(g, 1.0) + wan_sigma(g, DAY))
    np.testing.assert_allclose(float(dev.sigma(g, t_mid)), expected, rtol=1e-5)
    out = dev.read(getkey(), dev.program(getkey(), jnp.full((N,), g)), t_mid)
    assert_std(moments(out)[1], expected)
    # Held constant outside the fitted times.
    np.testing.assert_allclose(float(dev.sigma(g, 0.0)), wan_sigma(g, 1.0), rtol=1e-5)
    np.testing.assert_allclose(float(dev.sigma(g, 1e9)), wan_sigma(g, 2 * DAY), rtol=1e-5)


def test_wan_reads_of_one_chip_are_correlated(getkey):
    """One chip read at 1 s and 1 day: correlation sigma_1s / sigma_1day, not zero as in aihwkit."""
    dev = devices.RRAMWan2022()
    g = 20.0
    state = dev.program(getkey(), jnp.full((N,), g))
    a = np.asarray(dev.read(getkey(), state, 1.0), np.float64)
    b = np.asarray(dev.read(getkey(), state, DAY), np.float64)
    rho = np.corrcoef(a, b)[0, 1]
    expected = wan_sigma(g, 1.0) / wan_sigma(g, DAY)
    assert abs(rho - expected) < 4 * (1 - expected**2) / math.sqrt(N)
    # At the programming time the read is the programmed conductance, whatever the key.
    np.testing.assert_array_equal(a, np.asarray(dev.read(getkey(), state, 1.0), np.float64))


# ---------------------------------------------------------------- Milo 2021


@pytest.mark.parametrize("g", [50.0, 100.0, 200.0])
def test_milo_programming_spread(g, getkey):
    dev = devices.RRAMMilo2021()
    state = dev.program(getkey(), jnp.full((N,), g))
    out = dev.read(getkey(), state, 0.0)
    sigma = -0.009107 * g + 4.782321
    m, s = moments(out)
    assert_std(s, sigma)
    assert_mean(m, g, sigma)
    # No drift and no read noise: a year later the same conductances.
    np.testing.assert_array_equal(np.asarray(out), np.asarray(dev.read(getkey(), state, 3e7)))


def test_milo_iv_against_hand_computation():
    """G0 = 100 uS = 0.1 mS, log10 = -1: NL2 = 2.7542e-3 mA/V^2, NL3 = 7.0632e-4 mA/V^3."""
    dev = devices.RRAMMilo2021()
    nl2 = -1.388e-4 + 1.541e-3 - 5.711e-3 + 7.063e-3
    nl3 = 8.871e-5 - 6.7919e-4 + 1.2968e-3
    assert abs(nl2 - 2.7542e-3) < 1e-7 and abs(nl3 - 7.0632e-4) < 1e-8
    i = float(dev.current(100.0, 0.5))
    expected = 100.0 * 0.5 + 1e3 * (nl2 * 0.25 + nl3 * 0.125)  # 50.7768 uA
    np.testing.assert_allclose(i, expected, rtol=1e-6)
    np.testing.assert_allclose(i, 50.7768, rtol=1e-5)
    # Odd in V; superlinear; more so for a lower conductance.
    assert float(dev.current(100.0, -0.5)) == pytest.approx(-i, rel=1e-6)

    def rel(g):
        return float(dev.current(g, 0.5)) / (g * 0.5)

    assert 1.0 < rel(225.0) < rel(100.0) < rel(50.0) < 1.05


def test_linear_devices_obey_ohms_law():
    for dev in [devices.Ideal(), devices.PCM(), devices.RRAMCMO(), devices.RRAMWan2022()]:
        np.testing.assert_allclose(float(dev.current(10.0, 0.2)), 2.0, rtol=1e-6)


def test_clipping_at_zero_for_low_targets(getkey):
    """NeuRRAM at g = 0: the spread 0.348 uS is rectified at zero (mean of a half-normal)."""
    dev = devices.RRAMWan2022()
    out = np.asarray(dev.read(getkey(), dev.program(getkey(), jnp.zeros((N,))), 1.0), np.float64)
    s = 0.348
    assert out.min() == 0.0
    assert abs(out.mean() - s / math.sqrt(2 * math.pi)) < 4 * s / math.sqrt(N)
    assert abs(np.mean(out == 0.0) - normal_cdf(0.0)) < 0.01
