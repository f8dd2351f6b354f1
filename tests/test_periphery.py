"""Converters and mappings: exact levels, straight-through gradients, formulas."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import crossbar
import devices


@pytest.mark.parametrize("bits", [1, 2, 4, 7, 8])
@pytest.mark.parametrize("bound", [1.0, 12.0])
def test_adc_levels_are_exact(bits, bound):
    adc = crossbar.ADC(bits=bits, bound=bound)
    y = jnp.linspace(-2 * bound, 2 * bound, 20_001)
    out = np.asarray(adc(y), np.float64)
    r = np.float32(np.float32(1 / max(2**bits - 2, 1)) * np.float32(2 * bound))
    assert adc.res == pytest.approx(float(r), rel=0, abs=0)
    levels = np.unique(out)
    n_levels = 3 if bits == 1 else 2**bits - 1
    assert levels.size == n_levels
    assert 0.0 in levels and levels.min() == -bound and levels.max() == bound
    k = levels / float(r)
    inner = np.abs(levels) < bound
    np.testing.assert_allclose(k[inner], np.round(k[inner]), atol=1e-4)  # multiples of the step


def test_dac_convention_seven_bits_is_1_over_126_of_the_range():
    dac = crossbar.DAC(bits=7)
    assert dac.res == pytest.approx(2 / 126, rel=1e-7)
    x = jnp.array([0.0, 1 / 126, 0.5 / 63, 0.75 / 63, 1.0, -1.0, 0.3])
    out = dac(x, jnp.asarray(1.0))
    np.testing.assert_allclose(out[:2], [0.0, 0.0])  # 1/126 is half a step: ties go to even
    assert float(out[3]) == pytest.approx(2 / 126, rel=1e-6)
    assert float(out[4]) == 1.0 and float(out[5]) == -1.0
    assert float(out[6]) == pytest.approx(round(0.3 * 63) / 63, rel=1e-6)


def test_rounding_is_half_to_even():
    adc = crossbar.ADC(bits=3, bound=3.0)  # step 1
    out = adc(jnp.array([0.5, 1.5, 2.5, -0.5, -1.5]))
    np.testing.assert_array_equal(np.asarray(out), [0.0, 2.0, 2.0, -0.0, -2.0])


def test_straight_through_gradients():
    adc = crossbar.ADC(bits=4, bound=1.0)
    y = jnp.array([-2.0, -0.33, 0.0, 0.41, 0.99, 1.5])
    g = jax.grad(lambda y: adc(y).sum())(y)
    np.testing.assert_array_equal(np.asarray(g), [0.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    dac = crossbar.DAC(bits=5)
    gx = jax.grad(lambda x: dac(x, jnp.asarray(0.5)).sum())(jnp.array([0.3, 1.9, -3.0]))
    np.testing.assert_allclose(np.asarray(gx), [0.5, 0.5, 0.0])  # 0.95 is inside, -1.5 clipped


def test_input_scaling_modes():
    x = jnp.array([0.2, -0.8, 0.4])
    assert float(crossbar.DAC(scaling="abs_max").input_scale(x)) == pytest.approx(0.8)
    assert float(crossbar.DAC(scaling="none").input_scale(x)) == 1.0
    assert float(crossbar.DAC(scaling="constant", constant=2.5).input_scale(x)) == 2.5
    assert float(crossbar.DAC().input_scale(jnp.zeros(3))) == 0.0


def test_exact_division_is_ieee_under_jit_and_vmap():
    """XLA turns x / scalar into x * (1/scalar); our converters must divide exactly."""
    from crossbar.core._converters import exact_div

    r = np.float32(2 / 62)
    x = np.random.default_rng(0).normal(size=(50, 200)).astype(np.float32)
    exact = (x.astype(np.float64) / np.float64(r)).astype(np.float32)
    for f in (jax.jit(lambda x: exact_div(x, r)), jax.jit(jax.vmap(lambda x: exact_div(x, r)))):
        np.testing.assert_array_equal(np.asarray(f(x)), exact)
    for d in (float(r), jnp.asarray(r)):  # a Python number, and a traced scalar
        np.testing.assert_array_equal(np.asarray(jax.jit(exact_div)(x, d)), exact)
    # The derivative is the quotient rule, in both arguments.
    gx, gd = jax.grad(lambda x, d: jnp.sum(exact_div(x, d) ** 2), argnums=(0, 1))(x, r)
    np.testing.assert_allclose(gx, 2 * x / r**2, rtol=1e-5)
    np.testing.assert_allclose(gd, -2 * np.sum(x**2) / r**3, rtol=1e-4)
    g_const = jax.grad(lambda x: jnp.sum(exact_div(x, float(r))))(x)
    np.testing.assert_allclose(g_const, np.full_like(x, 1 / r), rtol=1e-6)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: crossbar.DAC(bits=0), "bits.*1 to 24"),
        (lambda: crossbar.DAC(bits=25), "bits.*1 to 24.*got 25"),
        (lambda: crossbar.ADC(bits=3.5), "bits"),
        (lambda: crossbar.ADC(bound=0.0), "bound.*> 0; got 0.0"),
        (lambda: crossbar.ADC(bound=-1.0), "bound"),
        (lambda: crossbar.ADC(bits=8, bound=math.inf), "finite"),
        (lambda: crossbar.DAC(bound=-2.0), "bound"),
        (lambda: crossbar.DAC(scaling="max"), "scaling"),
        (lambda: crossbar.DAC(scaling="constant", constant=0.0), "constant"),
        (lambda: crossbar.Differential(scaling="row"), "scaling"),
        (lambda: crossbar.Differential(pairs=0), "pairs.*1 ... 64; got 0"),
        (lambda: crossbar.Differential(pairs=65), "pairs.*got 65"),
        (lambda: crossbar.BitSliced(bits_per_slice=0), "bits_per_slice"),
        (lambda: crossbar.BitSliced(bits_per_slice=8, n_slices=4), "24"),
    ],
)
def test_bad_converter_and_mapping_configuration(make, match):
    # Under the test suite's runtime type checks a value of the wrong type (bits=3.5,
    # scaling="max") is stopped by the annotation first; both errors name the argument.
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# ---------------------------------------------------------------- mappings

W = jnp.array([[0.5, -1.0, 0.0], [0.25, 0.75, -0.1]])  # tile units (rows, cols)


def test_differential_mapping_formula():
    g = crossbar.Differential().to_conductances(W, 2.0, 25.0)
    s = 23.0
    np.testing.assert_allclose(g[0], np.maximum(s * np.asarray(W), 0) + 2.0, rtol=1e-6)
    np.testing.assert_allclose(g[1], np.maximum(-s * np.asarray(W), 0) + 2.0, rtol=1e-6)
    assert float(g.max()) == pytest.approx(25.0)  # the largest |w| maps to g_max
    np.testing.assert_allclose(crossbar.Differential().realised(g, 2.0, 25.0), W, atol=1e-6)


def test_offset_mapping_formula_and_digital_offset():
    m = crossbar.Offset()
    g = m.to_conductances(W, 1.0, 21.0)
    np.testing.assert_allclose(g[0], 1.0 + 20.0 * (np.asarray(W) + 1) / 2, rtol=1e-6)
    np.testing.assert_allclose(m.realised(g, 1.0, 21.0), W, atol=1e-6)
    # An analog read includes the offset current; combine removes it digitally.
    x = jnp.array([0.3, -0.7])
    y_raw = (x @ m.readout_weights(g, 1.0, 21.0)[0])[None]
    np.testing.assert_allclose(m.combine(y_raw, x.sum(), 1.0, 21.0), x @ W, atol=1e-5)


def test_bit_slicing_recombines_integers_exactly():
    m = crossbar.BitSliced(bits_per_slice=2, n_slices=3)  # 6 bits: 63 levels per sign
    q = np.array([[0, 1, 2, 3], [17, 42, 63, -63], [-5, -32, 60, -1]])
    w = jnp.asarray(q / 63.0, jnp.float32)
    g = m.to_conductances(w, 0.0, 10.0)
    assert g.shape == (6, 3, 4)
    digits = np.asarray(m.readout_weights(g, 0.0, 10.0)) * 3  # signed slice digits 0..3
    np.testing.assert_allclose(digits, np.round(digits), atol=1e-5)
    np.testing.assert_allclose(digits[0] + 4 * digits[1] + 16 * digits[2], q, atol=1e-4)
    np.testing.assert_allclose(m.realised(g, 0.0, 10.0), w, atol=1e-6)
    # Straight-through: the gradient of the realised weights is the identity.
    grad = jax.grad(lambda w: m.realised(m.to_conductances(w, 0.0, 10.0), 0.0, 10.0).sum())(w)
    np.testing.assert_allclose(np.asarray(grad), 1.0, rtol=1e-5)


def test_multi_pair_synapse_formula_and_straight_through_gradient():
    """N pairs per weight: each pair holds the single pair's conductances, and the readout
    is the mean difference, so the ideal weights come back and their gradient is 1."""
    m = crossbar.Differential(pairs=3)
    g = m.to_conductances(W, 2.0, 25.0)
    assert g.shape == (6,) + W.shape and m.n_arrays == 6 and m.n_readouts == 1
    single = crossbar.Differential().to_conductances(W, 2.0, 25.0)
    for k in range(3):
        np.testing.assert_array_equal(g[k], single[0])
        np.testing.assert_array_equal(g[3 + k], single[1])
    np.testing.assert_allclose(m.realised(g, 2.0, 25.0), W, atol=1e-6)
    # one device of the second pair's G+ off by 3 uS moves its weight by 3 / (3 x 23)
    off = g.at[1, 0, 0].add(3.0)
    np.testing.assert_allclose(m.realised(off, 2.0, 25.0)[0, 0], W[0, 0] + 3.0 / 69.0, rtol=1e-6)
    grad = jax.grad(lambda w: m.realised(m.to_conductances(w, 0.0, 25.0), 0.0, 25.0).sum())(W)
    np.testing.assert_allclose(np.asarray(grad), 1.0, rtol=1e-5)


def test_multi_pair_synapse_averages_pcm_errors_down_by_sqrt_n(getkey):
    """Independent devices per pair: the spread of the realised weight of N pairs is the
    single pair's over sqrt(N) (programming noise, drift exponents and read noise a month
    after programming; 40,000 weights: the standard deviation is known to 0.4 %), and the
    mean (the drift) is the same."""
    pcm = devices.PCM()
    w = jnp.full((200, 200), 0.5)
    spread, mean = {}, {}
    for n in (1, 4):
        m = crossbar.Differential(pairs=n)
        g = m.to_conductances(w, pcm.g_min, pcm.g_max)
        read = pcm.read(getkey(), pcm.program(getkey(), g), 30 * 86400.0)
        r = np.asarray(m.realised(read, pcm.g_min, pcm.g_max))
        spread[n], mean[n] = r.std(), r.mean()
    assert spread[4] / spread[1] == pytest.approx(0.5, rel=0.03)
    assert mean[4] == pytest.approx(mean[1], rel=0.01)


@pytest.mark.parametrize(
    "mapping",
    [
        crossbar.Differential(),
        crossbar.Differential(pairs=2),
        crossbar.Offset(),
        crossbar.BitSliced(),
    ],
)
def test_mappings_stay_in_the_device_range(mapping):
    w = jnp.linspace(-1.0, 1.0, 101).reshape(1, 101)
    g = mapping.to_conductances(w, 3.0, 30.0)
    assert g.shape[0] == mapping.n_arrays
    assert float(g.min()) >= 3.0 - 1e-6 and float(g.max()) <= 30.0 + 1e-5


def test_largest_weight_keeps_its_full_gradient():
    """In tile units the largest |w| is exactly 1; the mapping's clip must not halve its grad."""
    for m in (crossbar.Differential(), crossbar.Offset()):
        w = jnp.array([[1.0, -1.0, 0.3]])
        grad = jax.grad(lambda w: m.realised(m.to_conductances(w, 0.0, 25.0), 0.0, 25.0).sum())(w)
        np.testing.assert_allclose(np.asarray(grad), 1.0, rtol=1e-5)


def test_weight_scale_per_layer_and_column():
    w = jnp.array([[0.5, -2.0], [1.0, 0.1]])
    assert float(crossbar.Differential().weight_scale(w)) == 2.0
    np.testing.assert_allclose(crossbar.Differential(scaling="column").weight_scale(w), [1.0, 2.0])
    assert float(crossbar.Differential(scaling="none").weight_scale(w)) == 1.0
    assert float(crossbar.Differential().weight_scale(jnp.zeros((2, 2)))) == 1.0


def test_device_noise_reaches_the_readout(getkey):
    """A PCM pair read a day later realises drifted weights (about 0.67 of the target)."""
    m = crossbar.Differential()
    pcm = devices.PCM()
    g = m.to_conductances(jnp.full((200, 200), 0.9), pcm.g_min, pcm.g_max)
    read = pcm.read(getkey(), pcm.program(getkey(), g), 86400.0)
    ratio = float(m.realised(read, pcm.g_min, pcm.g_max).mean()) / 0.9
    assert 0.62 < ratio < 0.72
