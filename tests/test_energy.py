"""Energy estimates against hand computations and the device's drift."""

import math

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices


def tiny_chip(device=devices.Ideal(), t=1.0):
    """AnalogLinear(3 -> 2) + LIF with known weights: w_max = 1, so G+ = 25 max(w, 0) and
    G- = 25 max(-w, 0) uS on an ideal device."""
    tile = crossbar.Tile(
        device=device, dac=crossbar.DAC(bits=8), adc=crossbar.ADC(bits=8, bound=10.0)
    )
    layer = crossbar.AnalogLinear(3, 2, tile=tile, key=jr.PRNGKey(0))
    w = jnp.array([[1.0, -0.5, 0.0], [0.25, 0.0, -1.0]])
    layer = eqx.tree_at(lambda m: m.weight, layer, w)
    net = crossbar.SpikingNetwork([layer, crossbar.LIF(beta=0.5)], encoder=None)
    return crossbar.at_time(crossbar.program(net, jr.PRNGKey(1)), t, jr.PRNGKey(2))


SPIKES = jnp.array([[[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]])  # (N=1, T=3, in=3)


def test_every_component_equals_the_hand_computation():
    model = crossbar.EnergyModel()
    r = crossbar.estimate_energy(tiny_chip(), SPIKES, key=jr.PRNGKey(3), model=model)
    layer = r["layers"][0]
    # Row conductances (G+ + G- over both outputs): 25 (1 + 0.25), 25 * 0.5, 25 * 1 uS.
    # Spiking rows per step: {0, 2}, {}, {0, 1, 2}: 56.25 + 0 + 68.75 = 125 uS in all.
    array = 10e-9 * 0.2**2 * 125e-6
    assert layer["array_j"] == pytest.approx(array, rel=1e-6)  # 5e-17 J
    assert layer["dac_j"] == 0.0 and layer["dac_conversions"] == 0  # spikes need no DAC
    # Two steps with input, two outputs, one readout each: 4 conversions of 5 fJ x 2^8.
    assert layer["adc_conversions"] == 4
    assert layer["adc_j"] == pytest.approx(4 * 5e-15 * 256, rel=1e-9)
    assert layer["neuron_j"] == pytest.approx(3 * 2 * model.neuron_update, rel=1e-9)
    assert layer["synops"] == 5 * 2  # five input spikes, fan-out two
    assert layer["macs"] == 3 * 3 * 2
    # Every ADC output is scaled and summed digitally in fp16: 1.1 + 0.4 pJ.
    assert layer["digital_j"] == pytest.approx(4 * 1.5e-12, rel=1e-9)
    # SRAM, 10 pJ per 64 bits: three steps, each 3 one-bit spikes in and 2 fp16 outputs out.
    memory = 3 * (3 * 1 + 2 * 16) / 64 * 10e-12
    assert layer["memory_j"] == pytest.approx(memory, rel=1e-9)
    total = array + 4 * 5e-15 * 256 + 4 * 1.5e-12 + memory + 6 * model.neuron_update
    assert r["joules_per_inference"] == pytest.approx(total, rel=1e-6)
    assert r["latency_s"] == pytest.approx(3 * (10e-9 + 10e-9))
    # Dense digital: 18 MACs, the 6 weights once and 3 x (3 + 2) activations, 32 or 8 bits.
    assert r["baselines"]["digital_fp32"] == pytest.approx(18 * 4.6e-12 + 21 * 32 / 64 * 1e-11)
    assert r["baselines"]["digital_int8"] == pytest.approx(18 * 0.23e-12 + 21 * 8 / 64 * 1e-11)
    # Event-driven int8 SNN: 10 adds, a weight per SynOp, 9 spike bits.
    snn = 10 * 0.03e-12 + (10 * 8 + 9) / 64 * 1e-11
    assert r["baselines"]["snn_digital_int8"] == pytest.approx(snn)
    assert r["baselines"]["loihi"] == pytest.approx(10 * 23.6e-12)
    assert "energy per inference" in str(r)


def test_analog_inputs_use_dacs_and_voltages():
    x = jnp.array([[[0.5, -1.0, 0.25]]])  # one step, abs-max 1: x~ = (0.5, -1, 0.25) at 8 bits
    r = crossbar.estimate_energy(tiny_chip(), x, key=jr.PRNGKey(0))["layers"][0]
    step = 2 / 254
    xq = np.round(np.array([0.5, -1.0, 0.25]) / step) * step
    rows = np.array([31.25, 12.5, 25.0]) * 1e-6
    assert r["array_j"] == pytest.approx(10e-9 * 0.04 * np.sum(xq**2 * rows), rel=1e-5)
    assert r["dac_conversions"] == 3 and r["dac_j"] == pytest.approx(3 * 0.5e-15 * 256)
    assert r["synops"] == 0 and not r["binary_input"]
    # Pulse-width-modulated inputs: full voltage for |x~| of the read, energy linear in |x~|.
    pwm = crossbar.EnergyModel(input_encoding="pwm", read_time=100e-9)
    r = crossbar.estimate_energy(tiny_chip(), x, key=jr.PRNGKey(0), model=pwm)
    assert r["layers"][0]["array_j"] == pytest.approx(
        100e-9 * 0.04 * np.sum(np.abs(xq) * rows), rel=1e-5
    )


def test_hermes_like_core_is_the_order_of_the_published_chip():
    """IBM HERMES (Le Gallo et al., Nat. Electron. 2023): 9.76 TOPS/W for 8-bit MVMs on
    256 x 256 PCM cores in one-phase mode, i.e. 0.205 pJ per MAC. The model leaves terms out
    (clock, leakage, communication between cores, calibration), so it must be below that, and
    within the same order of magnitude."""
    tile = crossbar.Tile(
        device=devices.PCM.hermes(),
        dac=crossbar.DAC(bits=8),
        adc=crossbar.ADC(bits=8, bound=10.0),
        rows=256,
        cols=256,
    )
    layer = crossbar.AnalogLinear(256, 256, tile=tile, key=jr.PRNGKey(4))
    net = crossbar.SpikingNetwork([layer], encoder=crossbar.Encoder("direct", 1))
    chip = crossbar.at_time(crossbar.program(net, jr.PRNGKey(5)), 60.0, jr.PRNGKey(6))
    x = jr.uniform(jr.PRNGKey(7), (32, 256), minval=-1.0, maxval=1.0)
    model = crossbar.EnergyModel.hermes()
    r = crossbar.estimate_energy(chip, x, key=jr.PRNGKey(8), model=model)
    tops_per_w = 2 * r["macs"] / r["joules_per_inference"] / 1e12
    assert 9.76 < tops_per_w < 97.6
    # One MVM: the 133 ns window of 63.1 TOPS over 64 cores; the CCO ADC counts within it.
    assert r["latency_s"] == pytest.approx(2 * 256**2 * 64 / 63.1e12, rel=1e-9)
    # Every component is counted: 256 conversions, 96 SRAM words (8-bit in, fp16 out).
    layer = r["layers"][0]
    assert layer["adc_conversions"] == 256
    assert layer["adc_j"] == pytest.approx(256 * 5e-15 * 256)
    assert layer["memory_j"] == pytest.approx(96 * 10e-12)


def test_drift_lowers_the_array_energy_by_the_drift_factor():
    """All weights at |w| = 1: every active device starts at g_max, where nu = |N(0.049,
    0.008)|; the array energy follows the mean drift factor E[((t + t0)/t0)^-nu]."""
    tile = crossbar.Tile(
        device=devices.PCM(), dac=crossbar.DAC(bits=8), adc=crossbar.ADC(bits=8, bound=10.0)
    )
    layer = crossbar.AnalogLinear(128, 64, tile=tile, key=jr.PRNGKey(0))
    layer = eqx.tree_at(lambda m: m.weight, layer, jnp.sign(layer.weight))
    net = crossbar.SpikingNetwork([layer], encoder=None)
    x = jnp.ones((1, 2, 128))
    energy = {}
    for t in (1.0, 365 * 86400.0):
        chip = crossbar.at_time(crossbar.program(net, jr.PRNGKey(1)), t, jr.PRNGKey(2))
        energy[t] = crossbar.estimate_energy(chip, x, key=jr.PRNGKey(3))["layers"][0]["array_j"]
    c = math.log((365 * 86400.0 + 20.0) / 20.0)
    # nu's spread is small against its mean: E[a^-nu] ~ exp(-c mu + c^2 s^2 / 2).
    factor = math.exp(-c * 0.049 + (c * 0.008) ** 2 / 2) / ((1.0 + 20.0) / 20.0) ** -0.049
    assert energy[365 * 86400.0] / energy[1.0] == pytest.approx(factor, rel=0.02)


def test_bad_input():
    with pytest.raises(ValueError, match="programmed and read"):
        net = tiny_chip()
        crossbar.estimate_energy(
            eqx.tree_at(lambda n: n.layers[0].state, net, None, is_leaf=lambda x: x is None),
            SPIKES,
            key=jr.PRNGKey(0),
        )
    with pytest.raises(ValueError, match=r"input must have shape \(3,\); got \(5,\)"):
        crossbar.estimate_energy(tiny_chip(), jnp.ones((1, 3, 5)), key=jr.PRNGKey(0))
    with pytest.raises(ValueError, match=r"\(N, \.\.\.\)"):
        crossbar.estimate_energy(tiny_chip(), jnp.ones(3), key=jr.PRNGKey(0))
    for kwargs, match in [
        (dict(adc_fom=0.0), "adc_fom"),
        (dict(v_read=-0.2), "v_read"),
        (dict(neuron_update=-1.0), "neuron_update"),
        (dict(adc="flash"), "adc"),
        (dict(input_encoding="pulse"), "input_encoding"),
        (dict(sram_word=-1e-12), "sram_word"),
        (dict(profiles=(("x", -1.0),)), "profiles"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            crossbar.EnergyModel(**kwargs)


def test_report_serialises_and_plots(tmp_path):
    r = crossbar.estimate_energy(tiny_chip(), SPIKES, key=jr.PRNGKey(0))
    r.to_json(tmp_path / "e.json")
    import json

    assert json.loads((tmp_path / "e.json").read_text())["macs"] == 18
    assert r.plot(tmp_path / "e.png").exists()


class Antisymmetric(crossbar.AbstractAnalogWrapper):
    """A user's own analog layer: `(W x - W (-x)) / 2` on one crossbar, read twice per
    example (the bias cancels)."""

    linear: crossbar.AnalogLinear

    def __init__(self, n_in, n_out, *, tile, key):
        self.linear = crossbar.AnalogLinear(n_in, n_out, tile=tile, key=key)

    def crossbar_inputs(self, x):
        return jnp.stack([x, -x])

    def __call__(self, x, *, key=None):
        k1, k2 = (None, None) if key is None else jr.split(key)
        return (self.linear(x, key=k1) - self.linear(-x, key=k2)) / 2


def test_a_users_own_analog_layer_is_programmed_read_and_counted():
    """A layer subclassing the interface (here through `AbstractAnalogWrapper`) is found by
    `program`, `at_time`, `map_tiles` and `SpikingNetwork`, and `estimate_energy` counts its
    crossbar reads from its `crossbar_inputs`: twice those of a plain layer on the same
    weights."""
    tile = crossbar.Tile(device=devices.PCM(), adc=crossbar.ADC(bits=8, bound=10.0))
    k1, k2 = jr.split(jr.PRNGKey(0))
    own = Antisymmetric(16, 8, tile=tile, key=k1)
    net = crossbar.SpikingNetwork(
        [own, crossbar.LIF(beta=0.9), crossbar.AnalogLinear(8, 4, tile=tile, key=k2)],
        encoder=crossbar.Encoder("rate", 4),
        readout="mean",
    )
    plain = eqx.tree_at(lambda n: n.layers[0], net, own.linear)
    chip = crossbar.at_time(crossbar.program(net, jr.PRNGKey(1)), 3600.0, jr.PRNGKey(2))
    ref = crossbar.at_time(crossbar.program(plain, jr.PRNGKey(1)), 3600.0, jr.PRNGKey(2))
    assert isinstance(chip.layers[0], Antisymmetric)
    assert chip.layers[0].state is not None and chip.layers[0].state.g is not None
    # the same key gives the same chip: the wrapper programs its linear layer as it would be
    np.testing.assert_array_equal(chip.layers[0].state.g, ref.layers[0].state.g)
    x = jr.uniform(jr.PRNGKey(3), (16,))
    w = chip.layers[0].linear
    np.testing.assert_allclose(chip.layers[0](x), (w(x) - w(-x)) / 2, rtol=1e-6)
    assert crossbar.map_tiles(chip, crossbar.ideal_tile).layers[0].tile.device == devices.Ideal()

    inputs = jr.uniform(jr.PRNGKey(4), (5, 16))
    mine = crossbar.estimate_energy(chip, inputs, key=jr.PRNGKey(5))["layers"]
    theirs = crossbar.estimate_energy(ref, inputs, key=jr.PRNGKey(5))["layers"]
    assert len(mine) == len(theirs) == 2
    assert mine[0]["name"].startswith("Antisymmetric")
    assert mine[0]["vectors"] == 2 * theirs[0]["vectors"] == 2 * 4  # two reads a step
    # its second read drives -1 spikes: no longer binary, so it needs the DAC
    assert theirs[0]["binary_input"] and not mine[0]["binary_input"]
    assert mine[0]["array_j"] == pytest.approx(2 * theirs[0]["array_j"], rel=1e-5)
