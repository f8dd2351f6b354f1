"""AnalogLinear and the chip: the pipeline against a numpy reference, tiling, noise, errors."""

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import agree_but_for_ties, numpy_analog_linear, tree_allclose

import crossbar
import devices

IDEAL_ADC = crossbar.ADC(bits=None, bound=math.inf)
IDEAL_DAC = crossbar.DAC(bits=None)


def make(in_f, out_f, key, **tile):
    return crossbar.AnalogLinear(in_f, out_f, tile=crossbar.Tile(**tile), key=key)


def adc_step(layer, x, adc):
    """One ADC step in output units for each output (per row tile: the largest)."""
    rows = layer.tile.rows
    nm = max(float(jnp.max(jnp.abs(x[i : i + rows]))) for i in range(0, x.shape[0], rows))
    return adc.res * nm * float(jnp.max(jnp.abs(layer.weight)))


@pytest.mark.parametrize(
    "dac_bits, adc_bits, bound, bm, rows, cols",
    [
        (7, 9, 12.0, "none", 512, 512),  # aihwkit's defaults, one tile
        (8, 8, 10.0, "none", 32, 16),  # Rasch 2023 HWA preset bits, a grid of tiles
        (6, 6, 1.0, "iterative", 64, 64),  # bound management doing real work
        (5, 7, 2.0, "iterative", 24, 40),
    ],
)
def test_pipeline_against_numpy_reference(dac_bits, adc_bits, bound, bm, rows, cols, getkey):
    dac, adc = crossbar.DAC(bits=dac_bits), crossbar.ADC(bits=adc_bits, bound=bound)
    layer = make(100, 70, getkey(), dac=dac, adc=adc, bound_management=bm, rows=rows, cols=cols)
    xs = jr.normal(getkey(), (64, 100)) * 2.0
    ours = np.asarray(jax.jit(jax.vmap(layer))(xs))
    flips = 0
    for x, y in zip(np.asarray(xs), ours):
        ref = numpy_analog_linear(
            layer.weight,
            layer.bias,
            x,
            rows=rows,
            cols=cols,
            dac_bits=dac_bits,
            adc_bits=adc_bits,
            adc_bound=bound,
            bm=bm,
        )
        step = adc_step(layer, jnp.asarray(x), adc)
        flips += agree_but_for_ties(
            y,
            ref,
            [step * k for k in (1, 2, 4, 8, 16, 32)][0]
            if bm == "none"
            else _bm_steps(y, ref, step),
            max_fraction=0.02,
        )
    assert flips <= 3  # of 64 x 70 outputs


def _bm_steps(y, ref, step):
    """With bound management, a flipped output may sit at a reduction of 2^k: steps of 2^k."""
    d = np.abs(np.asarray(y) - np.asarray(ref))
    k = np.round(np.log2(np.maximum(d / step, 1e-12)))
    return np.where(d > 1e-4, step * 2.0 ** np.clip(k, 0, 8), step)


@pytest.mark.parametrize(
    "tile",
    [
        dict(out_noise=0.05, w_noise=0.02),  # additive weight noise
        dict(out_noise=0.05, w_noise=0.03, w_noise_type="pcm", adc_offset=0.01,
             adc_gain=0.02, mapping=crossbar.Differential(scaling="column")),
        dict(mapping=crossbar.Offset(), out_noise=0.05),
    ],
)  # fmt: skip
def test_row_tile_loop_gives_the_bits_of_the_batched_tiles(tile, getkey):
    """A layer of several row tiles computes one row tile after another (`analog_mvm` with
    `out_scale`); the values, the noise draws and the gradients are those of all tiles at
    once, then the weight scale and the sum over row tiles: the same bits."""
    from crossbar.core import _analog_mvm as mvm

    tile = crossbar.Tile(
        device=devices.PCM(), dac=crossbar.DAC(bits=8), adc=crossbar.ADC(bits=8, bound=10.0),
        rows=32, cols=16, **tile,
    )  # fmt: skip
    layer = crossbar.AnalogLinear(100, 40, tile=tile, key=getkey())
    chip = crossbar.at_time(crossbar.program(layer, getkey()), 3600.0, getkey())
    state, t_r = chip.state, chip.grid[0]
    x = jr.normal(getkey(), (6, 100)).at[2, 32:64].set(0.0)  # one row tile all zero
    keys = jr.split(getkey(), 6)

    def forward(loop, x, key):
        xs = mvm.split_rows(x, t_r, 32)
        if loop:
            return mvm.analog_mvm(tile, state.w_r, xs, key, None, state.adc_errors, state.w_scale)
        y = mvm._analog_mvm(tile, state.w_r, xs, key, None, state.adc_errors)
        return (y * state.w_scale).sum(0)

    with crossbar.value_checks(False):
        ys = [jax.jit(jax.vmap(lambda x, k, b=b: forward(b, x, k)))(x, keys) for b in (1, 0)]
        grads = [
            jax.jit(jax.grad(lambda x, b=b: jnp.sum(jnp.sin(forward(b, x, keys[0])))))(x[0])
            for b in (1, 0)
        ]
        tangents = [
            jax.jit(lambda x, b=b: jax.jvp(lambda x: forward(b, x, keys[0]), (x,), (x,)))(x[0])
            for b in (1, 0)
        ]
    assert t_r == 4 and float(jnp.std(ys[0])) > 0
    np.testing.assert_array_equal(ys[0], ys[1])
    np.testing.assert_array_equal(grads[0], grads[1])
    # forward mode works through the loop and gives the batched tiles' JVP (two programs that
    # XLA fuses differently: equal to float32 rounding, no ADC step apart)
    for a, b in zip(*tangents):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(tangents[0][0], ys[0][0], rtol=1e-6, atol=1e-6)


def test_ideal_tile_is_a_linear_layer(getkey):
    layer = make(300, 130, getkey(), dac=IDEAL_DAC, adc=IDEAL_ADC, rows=128, cols=64)
    assert layer.grid == (3, 3)
    x = jr.normal(getkey(), (300,))
    np.testing.assert_allclose(layer(x), layer.weight @ x + layer.bias, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "mapping",
    [
        crossbar.Differential(),
        crossbar.Offset(),
        crossbar.Differential(scaling="column"),
        crossbar.Differential(pairs=3),
    ],
)
def test_tiling_equals_untiled_with_ideal_converters(mapping, getkey):
    key, x = getkey(), jr.normal(getkey(), (200,))
    one = make(200, 90, key, dac=IDEAL_DAC, adc=IDEAL_ADC, mapping=mapping)
    many = make(200, 90, key, dac=IDEAL_DAC, adc=IDEAL_ADC, mapping=mapping, rows=33, cols=17)
    np.testing.assert_allclose(many(x), one(x), rtol=1e-5, atol=1e-5)
    # With a quantising DAC that uses the same scale everywhere, tiling changes nothing either.
    dac = crossbar.DAC(bits=6, scaling="none")
    one = make(200, 90, key, dac=dac, adc=IDEAL_ADC, mapping=mapping)
    many = make(200, 90, key, dac=dac, adc=IDEAL_ADC, mapping=mapping, rows=33, cols=17)
    np.testing.assert_allclose(many(x / 4), one(x / 4), rtol=1e-5, atol=1e-5)


def test_zero_input_gives_exactly_zero(getkey):
    tile = dict(device=devices.PCM(), out_noise=0.1, w_noise=0.05, rows=16, cols=16)
    layer = make(40, 20, getkey(), **tile)
    y = layer(jnp.zeros(40), key=getkey())
    np.testing.assert_array_equal(np.asarray(y), np.asarray(layer.bias))
    chip = crossbar.at_time(crossbar.program(layer, getkey()), 3600.0, getkey())
    np.testing.assert_array_equal(
        np.asarray(chip(jnp.zeros(40), key=getkey())), np.asarray(layer.bias)
    )
    # A row tile whose slice of the input is all zero contributes exactly nothing.
    x = jnp.zeros(40).at[:16].set(1.0)
    no_noise = make(40, 20, getkey(), rows=16, cols=16, dac=IDEAL_DAC, adc=IDEAL_ADC)
    np.testing.assert_allclose(
        no_noise(x), no_noise.weight[:, :16].sum(1) + no_noise.bias, rtol=1e-5
    )


def test_straight_through_gradient_reaches_weight(getkey):
    key, x = getkey(), jr.normal(getkey(), (50,))
    quant = make(50, 10, key, dac=crossbar.DAC(bits=8), adc=crossbar.ADC(bits=8, bound=10.0))
    ideal = make(50, 10, key, dac=IDEAL_DAC, adc=IDEAL_ADC)
    g_q = jax.grad(lambda m: jnp.sum(m(x) ** 2))(quant).weight
    g_i = jax.grad(lambda m: jnp.sum(m(x) ** 2))(ideal).weight
    assert bool(jnp.all(jnp.isfinite(g_q)))
    # Rounding passes the gradient straight through: equal up to the quantisation error.
    assert float(jnp.linalg.norm(g_q - g_i) / jnp.linalg.norm(g_i)) < 0.05
    gx = jax.grad(lambda x: quant(x).sum())(x)
    np.testing.assert_allclose(gx, quant.weight.sum(0), rtol=1e-4, atol=1e-5)


def test_output_noise_statistics(getkey):
    """std of the output = out_noise (tile units) x w_max x input scale, ADC ideal."""
    layer = make(16, 8, getkey(), out_noise=0.06, adc=IDEAL_ADC, dac=IDEAL_DAC)
    layer = eqx.tree_at(lambda m: m.weight, layer, layer.weight.at[0, 0].set(0.5))
    x = jnp.zeros(16).at[3].set(2.0)  # alpha = max|x| = 2
    keys = jr.split(getkey(), 40_000)
    ys = jax.vmap(lambda k: layer(x, key=k))(keys)
    expected = 0.06 * 0.5 * 2.0
    assert abs(float(ys.std(0).mean()) / expected - 1) < 0.02
    np.testing.assert_allclose(ys.mean(0), layer.weight @ x + layer.bias, atol=5 * expected / 200)


@pytest.mark.parametrize("kind", ["additive", "pcm"])
def test_output_referred_weight_noise(kind, getkey):
    layer = make(16, 4, getkey(), w_noise=0.05, w_noise_type=kind, adc=IDEAL_ADC, dac=IDEAL_DAC)
    x = jr.uniform(getkey(), (16,), minval=-1.0, maxval=1.0)
    ys = jax.vmap(lambda k: layer(x, key=k))(jr.split(getkey(), 40_000))
    w_max, alpha = float(jnp.max(jnp.abs(layer.weight))), float(jnp.max(jnp.abs(x)))
    xt = x / alpha
    wt = layer.weight / w_max
    if kind == "additive":
        std = 0.05 * jnp.linalg.norm(xt) * jnp.ones(4)
    else:
        std = 0.05 * jnp.sqrt(jnp.abs(wt) @ (xt * xt))
    np.testing.assert_allclose(ys.std(0), std * w_max * alpha, rtol=0.03)


def test_noise_needs_a_key(getkey):
    layer = make(8, 4, getkey(), device=devices.PCM())
    with pytest.raises(RuntimeError, match="needs a key"):
        layer(jnp.ones(8))
    noisy = make(8, 4, getkey(), out_noise=0.1)
    chip = crossbar.at_time(crossbar.program(noisy, getkey()), 1.0, getkey())
    with pytest.raises(RuntimeError, match="needs a key"):
        chip(jnp.ones(8))
    make(8, 4, getkey())(jnp.ones(8))  # a noiseless layer needs none


def test_same_key_same_bits_and_jit(getkey):
    layer = make(
        64,
        32,
        getkey(),
        device=devices.PCM(),
        out_noise=0.04,
        rows=32,
        cols=16,
        dac=crossbar.DAC(bits=8),
        adc=crossbar.ADC(bits=8, bound=10.0),
    )
    x, key = jr.normal(getkey(), (64,)), getkey()
    a, b = layer(x, key=key), layer(x, key=key)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(
        eqx.filter_jit(lambda m, x, k: m(x, key=k))(layer, x, key), a, rtol=1e-5, atol=1e-5
    )
    c1 = crossbar.program(layer, key)
    assert tree_allclose(c1, crossbar.program(layer, key))
    assert not np.array_equal(np.asarray(a), np.asarray(layer(x, key=getkey())))


def test_vmap_over_chips_equals_a_loop(getkey):
    layer = make(48, 24, getkey(), device=devices.PCM(), out_noise=0.04, rows=32, cols=16)
    x, keys = jr.normal(getkey(), (48,)), jr.split(getkey(), 6)

    def run(k):
        k1, k2, k3 = jr.split(k, 3)
        return crossbar.at_time(crossbar.program(layer, k1), 86400.0, k2)(x, key=k3)

    batched = jax.jit(jax.vmap(run))(keys)
    loop = jnp.stack([run(k) for k in keys])
    np.testing.assert_allclose(batched, loop, rtol=1e-4, atol=1e-5)
    assert float(batched.std(0).mean()) > 0  # the chips differ


def test_drift_compensation_global_and_column(getkey):
    """PCM near g_max drifts by ((t + t0)/t0)^-0.049: about 0.497 after a year."""
    key = getkey()
    base = dict(device=devices.PCM(), dac=IDEAL_DAC, adc=IDEAL_ADC, rows=64, cols=64)
    layer = make(64, 64, key, **base)
    layer = eqx.tree_at(lambda m: m.weight, layer, jnp.sign(layer.weight))  # all at +-g_max
    year = 365 * 86400.0
    chip = crossbar.at_time(crossbar.program(layer, getkey()), year, getkey())
    assert chip.state.alpha.shape == ()
    assert abs(float(chip.state.alpha) * 0.497 - 1) < 0.03
    realised = chip.realised_weight()
    assert abs(float(jnp.mean(realised * layer.weight)) - 1) < 0.03  # compensated back to 1
    col = eqx.tree_at(
        lambda m: m.weight, make(64, 64, key, drift_compensation="column", **base), layer.weight
    )
    chip_c = crossbar.at_time(crossbar.program(col, getkey()), year, getkey())
    assert chip_c.state.alpha.shape == (64,)
    assert abs(float(jnp.mean(chip_c.state.alpha)) * 0.497 - 1) < 0.03
    off = eqx.tree_at(
        lambda m: m.weight, make(64, 64, key, drift_compensation="none", **base), layer.weight
    )
    chip_o = crossbar.at_time(crossbar.program(off, getkey()), year, getkey())
    assert float(chip_o.state.alpha) == 1.0
    assert abs(float(jnp.mean(chip_o.realised_weight() * layer.weight)) - 0.497) < 0.02


def test_multi_pair_layer_on_pcm_averages_its_errors_and_trains(getkey):
    """Four pairs per weight on a programmed PCM layer a day later: the compensated weights
    scatter around their targets half as much as on one pair (every weight at +-g_max, so the
    scatter is the devices' alone; 4096 weights: the ratio is known to about 1 %); a training
    chip has eight arrays and a finite gradient."""
    key = getkey()
    base = dict(device=devices.PCM(), dac=IDEAL_DAC, adc=IDEAL_ADC, rows=64, cols=64)
    layer = make(64, 64, key, **base)
    sign = jnp.sign(layer.weight)
    scatter = {}
    for n in (1, 4):
        net = make(64, 64, key, mapping=crossbar.Differential(pairs=n), **base)
        net = eqx.tree_at(lambda m: m.weight, net, sign)
        k_prog, k_read = getkey(), getkey()
        chip = crossbar.at_time(crossbar.program(net, k_prog), 86400.0, k_read)
        assert chip.state.g.shape[0] == 2 * n
        scatter[n] = float(jnp.std(chip.realised_weight() - sign))
    assert scatter[4] / scatter[1] == pytest.approx(0.5, rel=0.04)
    net = make(64, 64, key, mapping=crossbar.Differential(pairs=4), **base)
    x = jr.normal(getkey(), (64,))

    def loss(m):
        return jnp.sum(crossbar.sample_chip(m, jr.PRNGKey(1))(x, key=jr.PRNGKey(2)) ** 2)

    grad = jax.grad(loss)(net).weight
    assert grad.shape == (64, 64) and bool(jnp.all(jnp.isfinite(grad)))
    assert float(jnp.abs(grad).max()) > 0


def test_program_finds_every_analog_layer(getkey):
    tile = crossbar.Tile(device=devices.PCM(), rows=16, cols=16)
    model = eqx.nn.Sequential(
        [
            crossbar.AnalogLinear(20, 16, tile=tile, key=getkey()),
            eqx.nn.Lambda(jax.nn.relu),
            crossbar.AnalogLinear(16, 5, tile=tile, key=getkey()),
        ]
    )
    chip = eqx.filter_jit(crossbar.program)(model, getkey())
    layers = crossbar.analog_layers(chip)
    assert len(layers) == 2 and all(layer.state is not None for layer in layers)
    g0 = layers[0].state.device_state.nu
    assert not np.allclose(
        np.asarray(g0[..., :5, :5]), np.asarray(layers[1].state.device_state.nu[..., :5, :5])
    )
    read = eqx.filter_jit(crossbar.at_time)(chip, 3600.0, getkey())
    y = eqx.filter_jit(lambda m, x, k: m(x, key=k))(read, jnp.ones(20), getkey())
    assert y.shape == (5,)
    with pytest.raises(RuntimeError, match="programmed but not read"):
        chip(jnp.ones(20), key=getkey())
    with pytest.raises(RuntimeError, match="crossbar.program"):
        crossbar.at_time(model, 1.0, getkey())
    with pytest.raises(ValueError, match="no analog layer"):
        crossbar.program(eqx.nn.Linear(3, 2, key=getkey()), getkey())


def test_sample_chip_trains(getkey):
    """A hardware-aware gradient step through a sampled chip lowers the loss."""
    tile = crossbar.Tile(
        device=devices.PCM(), out_noise=0.02, rows=16, cols=16, train_time=(1.0, 86400.0)
    )
    layer = crossbar.AnalogLinear(16, 4, tile=tile, key=getkey())
    x, target = jr.normal(getkey(), (32, 16)), jr.normal(getkey(), (32, 4))

    def loss(m, key):
        k1, k2 = jr.split(key)
        chip = crossbar.sample_chip(m, k1)
        y = jax.vmap(lambda x, k: chip(x, key=k))(x, jr.split(k2, 32))
        return jnp.mean((y - target) ** 2)

    key = getkey()
    value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(loss))
    l0, g = value_and_grad(layer, key)
    assert bool(jnp.all(jnp.isfinite(g.weight))) and float(jnp.abs(g.weight).sum()) > 0
    stepped = eqx.apply_updates(layer, jax.tree_util.tree_map(lambda g: -0.1 * g, g))
    assert float(value_and_grad(stepped, key)[0]) < float(l0)


def test_bad_layer_input_and_configuration(getkey):
    layer = make(10, 3, getkey())
    with pytest.raises(ValueError, match=r"in_features=10.*shape \(10,\); got \(9,\)"):
        layer(jnp.ones(9))
    with pytest.raises(ValueError, match="jax.vmap"):
        layer(jnp.ones((4, 10)))
    with pytest.raises(Exception, match="nan or inf"):
        eqx.filter_jit(layer)(jnp.ones(10).at[2].set(jnp.nan)).block_until_ready()
    for kwargs, match in [
        (dict(rows=0), "rows.*>= 1; got 0"),
        (dict(cols=-3), "cols"),
        (dict(out_noise=-0.1), "out_noise"),
        (dict(train_time=(10.0, 1.0)), "train_time"),
        (dict(v_read=0.0), "v_read"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            crossbar.Tile(**kwargs)
    with pytest.raises(ValueError, match="in_features"):
        crossbar.AnalogLinear(0, 3, key=getkey())


def test_integer_input_is_accepted(getkey):
    layer = make(4, 2, getkey(), dac=IDEAL_DAC, adc=IDEAL_ADC)
    x = jnp.array([1, 0, 2, 1], dtype=jnp.int32)
    np.testing.assert_allclose(
        layer(x), layer.weight @ x.astype(jnp.float32) + layer.bias, rtol=1e-5
    )


def test_chips_under_vmap_equal_chips_one_by_one(getkey):
    """Many chips under `vmap` (inputs shared by the chips, or each chip's own; examples
    outside or inside) give each chip's outputs, and gradients through the batched product
    equal the plain product's (the product's own batching rule, `_tile._mvm`)."""
    from crossbar.core._product import _mvm, _tile_product

    tile = crossbar.Tile(device=devices.PCM(), out_noise=0.0, rows=8, cols=8)
    layer = crossbar.AnalogLinear(12, 10, tile=tile, key=getkey())  # a 2 x 2 grid of tiles
    programmed = crossbar.program(layer, getkey())
    x = jr.normal(getkey(), (5, 12))
    keys = jr.split(getkey(), 4)

    def chip_outputs(k, x):
        chip = crossbar.at_time(programmed, 3600.0, k)
        return jax.vmap(lambda x: chip(x))(x)

    many = jax.jit(jax.vmap(chip_outputs, (0, None)))(keys, x)
    for k, out in zip(keys, many):
        np.testing.assert_allclose(out, jax.jit(chip_outputs)(k, x), rtol=1e-5, atol=1e-6)
    own = jax.vmap(chip_outputs)(keys, jnp.stack([x] * 4))
    np.testing.assert_allclose(own, many, rtol=1e-5, atol=1e-6)
    w = jr.normal(getkey(), (3, 2, 2, 2, 4, 8))  # chips, n, T_r, T_c, C, R
    xs = jr.normal(getkey(), (6, 2, 8))

    def loss(f, w):
        return jnp.sum(jnp.sin(jax.vmap(lambda w: jax.vmap(f, (0, None))(xs, w))(w)))

    np.testing.assert_allclose(
        jax.grad(lambda w: loss(_mvm, w))(w), jax.grad(lambda w: loss(_tile_product, w))(w),
        rtol=1e-5, atol=1e-5,
    )  # fmt: skip
    outer = jax.vmap(lambda x: jax.vmap(_mvm, (None, 0))(x, w))(xs)  # examples outside
    ref = jax.vmap(lambda x: jax.vmap(_tile_product, (None, 0))(x, w))(xs)
    np.testing.assert_allclose(outer, ref, rtol=1e-5, atol=1e-5)


def test_tile_floats_are_data_a_new_value_is_no_new_program(getkey):
    """Every float of a Tile is a leaf (modes, sizes and bit counts are static): tiles that
    differ in a float have one tree structure, a jitted call with array values compiles once
    for all of them, and `jax.vmap` over stacked values gives each value's own output."""
    base = dict(device=devices.PCM(), adc=crossbar.ADC(bits=8, bound=10.0))
    a, b = crossbar.Tile(out_noise=0.04, **base), crossbar.Tile(out_noise=0.05, **base)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    assert 0.04 in jax.tree_util.tree_leaves(a) and 10.0 in jax.tree_util.tree_leaves(a)
    again = crossbar.Tile(out_noise=0.04, **base)
    assert a == again and hash(a) == hash(again) and a != b
    # a part is off where its value is the number 0, on for any other value
    assert not crossbar.Tile(**base).periphery_is_noisy and a.periphery_is_noisy
    assert not eqx.tree_at(lambda t: t.out_noise, a, 0.0).periphery_is_noisy
    assert eqx.tree_at(lambda t: t.out_noise, crossbar.Tile(**base), 0.1).periphery_is_noisy

    key, x = getkey(), jr.normal(getkey(), (40,))
    layer = crossbar.AnalogLinear(40, 8, tile=a, key=key)
    chip = crossbar.at_time(crossbar.program(layer, jr.PRNGKey(1)), 3600.0, jr.PRNGKey(2))
    traces = []

    @eqx.filter_jit
    def forward(chip, noise):
        traces.append(1)
        chip = eqx.tree_at(lambda m: m.tile.out_noise, chip, noise)
        return chip(x, key=jr.PRNGKey(3))

    values = [0.01, 0.04, 0.2]
    each = [forward(chip, jnp.asarray(v)) for v in values]
    assert len(traces) == 1  # one program for every value
    stacked = jax.vmap(forward, in_axes=(None, 0))(chip, jnp.asarray(values))
    for v, y, y_v in zip(values, each, stacked):
        np.testing.assert_allclose(y_v, y, rtol=1e-6, atol=1e-6)
        concrete = chip.with_tile(dataclasses.replace(chip.tile, out_noise=v))
        np.testing.assert_allclose(y, concrete(x, key=jr.PRNGKey(3)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(each[0], each[2])
