"""The training step's hot path: TrainStep, the value-check switch, a training chip's scale."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import crossbar
import devices
from crossbar import allocator


def small_net(key, device=devices.PCM()):
    tile = crossbar.Tile(
        device=device,
        dac=crossbar.DAC(bits=8),
        adc=crossbar.ADC(bits=8, bound=10.0),
        out_noise=0.04,
        train_time=(1.0, 3.15e7),
    )
    k1, k2 = jr.split(key)
    return crossbar.SpikingNetwork(
        [
            crossbar.AnalogLinear(16, 12, tile=tile, key=k1),
            crossbar.LIF(beta=0.9),
            crossbar.AnalogLinear(12, 4, tile=tile, key=k2),
        ],
        encoder=crossbar.Encoder("rate", 4),
    )


def test_train_step_equals_the_step_inside_train(getkey):
    """`TrainStep(x, y, key)` on the batch and key that `crossbar.train` uses for its first
    step gives the model that one epoch of one step gives, bit for bit."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 16)).astype(np.float32)
    y = rng.integers(0, 4, 40)
    data = crossbar.data.arrays(x, y, x[:8], y[:8])
    net, key = small_net(getkey()), getkey()
    trained, _ = crossbar.train(
        net, data, key=key, epochs=1, batch_size=40, progress=False, log=None
    )
    k_epoch = jr.fold_in(key, 0)
    order = jr.permutation(jr.fold_in(k_epoch, 0), 40)
    step = crossbar.TrainStep(net, optimizer=optax.adam(2e-3))
    loss, acc = step(jnp.asarray(x)[order], jnp.asarray(y)[order], key=jr.fold_in(k_epoch, 1))
    assert np.isfinite(float(loss)) and 0 <= float(acc) <= 1
    for a, b in zip(
        jax.tree_util.tree_leaves(eqx.filter(trained, eqx.is_array)),
        jax.tree_util.tree_leaves(eqx.filter(step.model, eqx.is_array)),
    ):
        np.testing.assert_array_equal(a, b)
    assert step.state[1] is not None


def test_train_step_learns(getkey):
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.uniform(size=(64, 16)), jnp.float32)
    y = jnp.asarray((x[:, :4].sum(1) > x[:, 4:8].sum(1)).astype(np.int32) * 3)
    step = crossbar.TrainStep(small_net(getkey()), learning_rate=2e-2)
    first = float(step(x, y, key=getkey())[0])
    for i in range(60):
        last = float(step(x, y, key=jr.PRNGKey(i))[0])
    assert last < first - 0.3, (first, last)


def test_predict_equals_the_vmapped_chip_bit_for_bit(getkey):
    """`crossbar.Predict(chip)(x, key)` is the chip under `vmap` with one key per example
    split from `key` (what `crossbar.train` evaluates), the same bits; and a second model of
    the same structure reuses the compiled program with its own arrays."""
    net = small_net(getkey())
    chips = [crossbar.at_time(crossbar.program(net, getkey()), 3600.0, getkey()) for _ in "ab"]
    x = jr.uniform(getkey(), (9, 16))
    key = getkey()

    @eqx.filter_jit
    def reference(chip, x, key):
        with crossbar.value_checks(False):
            return jax.vmap(lambda x, k: chip(x, key=k))(x, jr.split(key, x.shape[0]))

    outs = []
    for chip in chips:
        out = crossbar.Predict(chip)(x, key=key)
        np.testing.assert_array_equal(out, reference(chip, x, key))
        outs.append(out)
    assert not np.array_equal(outs[0], outs[1])  # each chip's own conductances
    other = crossbar.Predict(chips[0])(x, key=getkey())
    assert not np.array_equal(other, outs[0])  # the periphery noise follows the key
    with pytest.raises(ValueError, match=r"Predict: `x` must be a floating array.*int32\[9, 16\]"):
        crossbar.Predict(chips[0])(jnp.zeros((9, 16), jnp.int32), key=key)
    with pytest.raises(ValueError, match=r"float32\[16\]"):
        crossbar.Predict(chips[0])(x[0], key=key)


def test_value_checks_switch(getkey):
    layer = crossbar.AnalogLinear(6, 3, tile=crossbar.Tile(), key=getkey())
    bad = jnp.ones(6).at[1].set(jnp.nan)
    with pytest.raises(Exception, match="nan or inf"):
        jax.jit(lambda x: layer(x))(bad).block_until_ready()
    with crossbar.value_checks(False):
        out = jax.jit(lambda x: layer(x))(bad)  # traced without the check: nan in, nan out
    assert bool(jnp.any(jnp.isnan(out)))
    with pytest.raises(Exception, match="nan or inf"):  # back on outside the block
        jax.jit(lambda x: layer(x) + 0.0)(bad).block_until_ready()


@pytest.mark.parametrize("mode", ["global", "column"])
def test_training_chip_sees_the_scale_of_a_read_chip(mode, getkey):
    """`sample_chip` compensates with the expected calibration gain; a programmed chip read
    at the same time and compensated through its calibration readout has the same scale
    (to a few percent: programming bias and readout noise)."""
    tile = crossbar.Tile(
        device=devices.PCM(),
        dac=crossbar.DAC(bits=8),
        adc=crossbar.ADC(bits=8, bound=10.0),
        out_noise=0.04,
        train_time=(3.15e7, 3.15e7),
        drift_compensation=mode,
    )
    layer = crossbar.AnalogLinear(128, 64, tile=tile, key=getkey())
    sampled = crossbar.sample_chip(layer, getkey())
    read = crossbar.at_time(crossbar.program(layer, getkey()), 3.15e7, getkey())
    a, b = np.asarray(sampled.state.alpha), np.asarray(read.state.alpha)
    assert a.shape == b.shape
    assert float(np.mean(a)) > 1.8  # a year of drift is compensated (factor about 2)
    np.testing.assert_allclose(np.mean(a), np.mean(b), rtol=0.03)


@pytest.mark.parametrize("mode", ["global", "column"])
def test_a_training_chip_of_a_device_that_reads_its_targets_has_gain_one(mode, getkey):
    """An ideal device realises its targets, so the expected gain of its training chip is 1
    exactly (no pass over the weights for it), of the shape compensation gives, and the
    gain the general formula computes is 1 to float rounding."""
    from crossbar.core._drift import expected_gain

    assert devices.Ideal().reads_targets and not devices.PCM().reads_targets
    tile = crossbar.Tile(out_noise=0.04, w_noise=0.02, drift_compensation=mode)
    layer = crossbar.AnalogLinear(96, 40, tile=tile, key=getkey())
    chip = crossbar.sample_chip(layer, getkey())
    alpha = np.asarray(chip.state.alpha)
    assert alpha.shape == (() if mode == "global" else (40,))
    np.testing.assert_array_equal(alpha, 1.0)
    w_t = tile.readout_weights(tile.mapping.to_conductances(layer._tile_units()[0], 0.0, 25.0))
    r = expected_gain(chip.state.w_r, w_t, mode == "column")
    np.testing.assert_allclose(np.asarray(r).reshape(-1)[:40], 1.0, rtol=1e-6)


def test_allocator_settings():
    assert set(allocator.ENVIRONMENT) == {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}
    assert isinstance(allocator.tune(), bool)  # idempotent; True on Linux with glibc


def test_a_training_chip_is_not_read_over_time(getkey):
    layer = crossbar.AnalogLinear(8, 4, tile=crossbar.Tile(device=devices.PCM()), key=getkey())
    sampled = crossbar.sample_chip(layer, getkey())
    with pytest.raises(RuntimeError, match="crossbar.program"):
        crossbar.at_time(sampled, 3600.0, getkey())
