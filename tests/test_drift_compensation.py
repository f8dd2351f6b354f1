"""Drift compensation at every ADC resolution: the calibration reference against the true drift.

The one-hot reference of aihwkit's `GlobalDriftCompensation` reads single weights against one
ADC step and breaks at coarse ADCs; the calibration reference (the default) drives every row
and must hold at 3, 4, 6 and 8 bits.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices

YEAR = 365 * 86400.0


def uniform_drift_pcm(nu: float = 0.06) -> devices.PCM:
    """PCM with one drift exponent for every cell and no read noise: a read at time t is the
    programmed chip times ((t + t0)/t0)^-nu exactly, so compensation can undo all of it."""
    return devices.PCM(
        read_noise_scale=0.0,
        drift_mean=devices.LogLinear(0.0, nu, nu, nu),
        drift_std=devices.LogLinear(0.0, 0.0, 0.0, 0.0),
    )


def layer_on(tile, key, n_in=128, n_out=64):
    return crossbar.AnalogLinear(n_in, n_out, tile=tile, key=key)


def outputs(chip, x, key):
    y = jax.vmap(lambda x, k: chip(x, key=k))(x, jr.split(key, x.shape[0]))
    return y - chip.bias


def realised_programmed(chip):
    """Weights (out, in) that the programmed conductances realise before any drift."""
    layer, s = chip, chip.state
    g = s.device_state.g_prog
    w = layer.tile.mapping.realised(g, layer.tile.device.g_min, layer.tile.device.g_max)
    return layer._untile(w * (s.w_scale[..., None] if s.w_scale.ndim else s.w_scale))


def true_factor(chip, read, per_column=False):
    """The mean drift factor: the least-squares gain of the read weights on the programmed ones
    (per output with `per_column`)."""
    w0 = realised_programmed(chip)
    wt = read.realised_weight() / (read.state.alpha[:, None] if per_column else read.state.alpha)
    axis = 1 if per_column else None
    return jnp.sum(wt * w0, axis=axis) / jnp.sum(w0 * w0, axis=axis)


@pytest.mark.parametrize("bits", [3, 4, 6, 8])
def test_compensated_output_within_quantisation_error(bits, getkey):
    """A chip drifted for a year, compensated, gives the undrifted chip's outputs to within the
    quantisation error of the two ADC readouts."""
    adc = crossbar.ADC(bits=bits, bound=10.0)
    tile = crossbar.Tile(device=uniform_drift_pcm(), dac=crossbar.DAC(bits=8), adc=adc)
    layer = layer_on(tile, getkey())
    chip = crossbar.program(layer, getkey())
    undrifted = crossbar.at_time(chip, 0.0, getkey())
    drifted = crossbar.at_time(chip, YEAR, getkey())
    d = ((YEAR + 20.0) / 20.0) ** -0.06  # 0.425
    alpha = float(drifted.state.alpha / undrifted.state.alpha)
    assert abs(alpha * d - 1) < 0.05, (bits, alpha, 1 / d)

    x = jr.normal(getkey(), (256, 128))
    y0, y1 = outputs(undrifted, x, getkey()), outputs(drifted, x, getkey())
    # One ADC step in output units, per example: step x input scale x weight scale.
    step = adc.res * jnp.max(jnp.abs(x), axis=1, keepdims=True) * drifted.state.w_scale
    a0, a1 = float(undrifted.state.alpha), float(drifted.state.alpha)
    # Outputs the undrifted ADC clipped are not compared (the drifted ones shrank inside).
    inside = jnp.abs(y0 / (step * a0)) * adc.res < adc.bound - adc.res / 2
    assert float(jnp.mean(inside.astype(y0.dtype))) > 0.98
    err = jnp.where(inside, jnp.abs(y1 - y0) / step, 0.0)
    # Rounding moves each readout by at most half a step, and each output is its readout
    # times its chip's factor: (a0 + a1) / 2 steps in all...
    worst = (a0 + a1) / 2.0
    assert float(jnp.max(err)) <= worst * 1.02, (bits, float(jnp.max(err)), worst)
    # ...and the two roundings are independent, each uniform over a step, on average.
    rms = float(jnp.sqrt(jnp.sum(err**2) / jnp.sum(inside.astype(err.dtype))))
    assert rms <= 1.1 * math.sqrt((a0**2 + a1**2) / 12.0), (bits, rms)


@pytest.mark.parametrize("bits", [3, 4, 6, 8])
@pytest.mark.parametrize("mode", ["global", "column"])
def test_factor_matches_the_true_mean_drift(bits, mode, getkey):
    """The demo's PCM chip (drift spread, read noise, output noise): the compensation factor
    is within 2 % of the inverse true mean drift factor at a day and a year, at any ADC (the
    issue asks 20 %); per column within 20 % (35 % at 3 bits)."""
    tile = crossbar.Tile(
        device=devices.PCM(),
        dac=crossbar.DAC(bits=8),
        adc=crossbar.ADC(bits=bits, bound=10.0),
        out_noise=0.04,
        drift_compensation=mode,
    )
    chip = crossbar.program(layer_on(tile, getkey()), getkey())
    for t in (86400.0, YEAR):
        read = crossbar.at_time(chip, t, getkey())
        d = true_factor(chip, read, per_column=mode == "column")
        dev = np.abs(np.asarray(read.state.alpha * d) - 1)
        if mode == "global":  # 64 x 64 readouts: measured 0.33 % at worst (ef5e512)
            assert dev < 0.02, (bits, t, dev)
        else:
            # One column from its own 64 readouts, while its cells drift by different
            # factors (the drift exponent's spread): a few percent of sampling noise,
            # more at 3 bits (measured at ef5e512: rms 1.6-5.8 %, worst of 64 columns 4-17 %).
            assert dev.max() < (0.2 if bits > 3 else 0.35), (bits, t, dev)
            assert np.sqrt(np.mean(dev**2)) < (0.05 if bits > 3 else 0.1), (bits, t, dev)


def test_one_hot_reference_is_aihwkits_and_breaks_at_coarse_adcs(getkey):
    """The one-hot option equals the mean |y| of the forward pass on the identity (aihwkit's
    readout), and at 4 bits it is far off: why it is not the default."""
    base = dict(device=devices.PCM(), dac=crossbar.DAC(bits=8), drift_reference="one_hot")
    fine = layer_on(crossbar.Tile(adc=crossbar.ADC(bits=8, bound=10.0), **base), getkey(), 32, 16)
    chip = crossbar.program(fine, getkey())
    read = crossbar.at_time(chip, YEAR, getkey())
    eye_out = jax.vmap(lambda x: read(x))(jnp.eye(32)) - read.bias  # noiseless periphery
    r_t = jnp.mean(jnp.abs(eye_out)) / read.state.alpha  # forward outputs carry alpha
    np.testing.assert_allclose(float(read.state.alpha), float(chip.state.r0 / r_t), rtol=1e-5)

    for noise in (0.0, 0.04):  # (without noise every one-hot readout is 0: no compensation)
        coarse = crossbar.Tile(adc=crossbar.ADC(bits=4, bound=10.0), out_noise=noise, **base)
        chip = crossbar.program(layer_on(coarse, getkey()), getkey())
        read = crossbar.at_time(chip, YEAR, getkey())
        assert abs(float(read.state.alpha * true_factor(chip, read)) - 1) > 0.4


def test_calibration_set_is_part_of_the_chip(getkey):
    """Chosen once at programming (same key, same bits), driving every row at a DAC level,
    with amplitudes that put the widest column's spread at half the ADC bound."""
    tile = crossbar.Tile(
        device=devices.PCM(),
        dac=crossbar.DAC(bits=6),
        adc=crossbar.ADC(bits=6, bound=2.0),
        rows=48,
        cols=40,
    )
    layer = layer_on(tile, getkey(), 100, 70)  # a 3 x 2 grid of tiles
    key = getkey()
    chip, again = crossbar.program(layer, key), crossbar.program(layer, key)
    cal = chip.state.calibration
    assert cal.signs.shape == (64, 3, 48)
    assert set(np.unique(np.asarray(cal.signs))) == {-1.0, 1.0}
    np.testing.assert_array_equal(cal.signs, again.state.calibration.signs)
    levels = np.asarray(cal.amplitude) / tile.dac.res
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)
    assert np.all(np.asarray(cal.amplitude) <= 1.0)
    assert np.any(np.asarray(cal.amplitude) < 1.0)
    w = np.asarray(layer.weight).T / float(chip.state.w_scale)  # (in, out), tile units
    for r in range(3):
        for c in range(2):
            block = w[48 * r : 48 * (r + 1), 40 * c : 40 * (c + 1)]
            widest = float(np.sqrt((block**2).sum(0)).max()) * float(cal.amplitude[r, c])
            assert widest <= 1.0 + 1e-5  # half the ADC bound...
            norm = float(np.sqrt((block**2).sum(0)).max())
            at_most = float(cal.amplitude[r, c]) == 1.0  # the DAC's largest level
            assert at_most or widest + tile.dac.res * norm > 1.0  # ...one level below


def test_calibration_reference_under_jit_vmap_and_grad(getkey):
    tile = crossbar.Tile(
        device=devices.PCM(), dac=crossbar.DAC(bits=8), adc=crossbar.ADC(bits=4, bound=10.0)
    )
    layer = layer_on(tile, getkey(), 32, 16)
    keys = jr.split(getkey(), 3)

    def alpha(k):
        return crossbar.at_time(crossbar.program(layer, k), YEAR, k).state.alpha

    one = jax.jit(alpha)
    alphas = jax.jit(jax.vmap(alpha))(keys)
    loop = jnp.stack([one(k) for k in keys])
    np.testing.assert_allclose(alphas, loop, rtol=1e-5)
    assert float(jnp.std(alphas)) > 0  # the chips differ

    x = jr.normal(getkey(), (32,))

    def loss(m):
        return jnp.sum(crossbar.sample_chip(m, getkey())(x, key=getkey()) ** 2)

    grads = eqx.filter_grad(loss)(layer)
    assert bool(jnp.all(jnp.isfinite(grads.weight))) and float(jnp.abs(grads.weight).sum()) > 0
