"""NIR export and import: a round trip keeps the spike trains of an ideal network exactly."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices

nir = pytest.importorskip("nir")


def ideal_net(reset="subtract"):
    tile = crossbar.ideal_tile(crossbar.Tile())
    k = jr.split(jr.PRNGKey(0), 2)
    return crossbar.SpikingNetwork(
        [
            crossbar.AnalogLinear(12, 16, tile=tile, key=k[0]),
            crossbar.LIF(beta=0.9, threshold=0.5, reset=reset),
            crossbar.AnalogLinear(16, 5, tile=tile, key=k[1]),
            crossbar.LIF(tau=3.0, threshold=0.1, reset=reset),
        ],
        encoder=None,
        readout="sum",
    )


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_round_trip_keeps_spike_trains(tmp_path, reset):
    net = ideal_net(reset)
    crossbar.export_nir(net, tmp_path / "net.nir")
    back = crossbar.import_nir(tmp_path / "net.nir")
    x = (jr.uniform(jr.PRNGKey(1), (20, 12)) < 0.4).astype(jnp.float32)  # (T, in) spikes
    out_a, act_a = net.record(x)
    out_b, act_b = back.record(x)
    for i in (1, 3):  # the LIF layers' spike trains
        np.testing.assert_array_equal(act_a[i], act_b[i])
        assert 0 < float(jnp.mean(act_a[i])) < 1  # the test has spikes to lose
    np.testing.assert_array_equal(out_a, out_b)
    assert back.readout == "sum"


def test_per_neuron_decays_travel_both_ways():
    tile = crossbar.ideal_tile(crossbar.Tile())
    beta = np.linspace(0.6, 0.95, 16)
    net = crossbar.SpikingNetwork(
        [crossbar.AnalogLinear(12, 16, tile=tile, key=jr.PRNGKey(0)), crossbar.LIF(beta=beta)],
        encoder=None,
    )
    graph = crossbar.export_nir(net)
    np.testing.assert_allclose(graph.nodes["1_lif"].tau, 1e-3 / (1 - beta), rtol=1e-6)
    back = crossbar.import_nir(graph)
    np.testing.assert_array_equal(back.layers[1].beta, net.layers[1].beta)
    x = (jr.uniform(jr.PRNGKey(1), (30, 12)) < 0.4).astype(jnp.float32)
    (_, act_a), (_, act_b) = net.record(x), back.record(x)
    np.testing.assert_array_equal(act_a[1], act_b[1])
    assert 0 < float(jnp.mean(act_a[1])) < 1
    # A foreign graph: per-neuron r / tau gains are folded into the feeding layer's rows.
    node = graph.nodes["1_lif"]
    scaled = nir.LIF(
        tau=node.tau,
        r=2 * node.r,
        v_leak=node.v_leak,
        v_threshold=node.v_threshold,
        v_reset=node.v_reset,
    )
    graph.nodes["1_lif"] = scaled
    folded = crossbar.import_nir(graph)
    gain = 1e-3 * np.asarray(scaled.r, np.float64) / np.asarray(scaled.tau, np.float64)
    np.testing.assert_allclose(
        folded.layers[0].weight, net.layers[0].weight * gain[:, None], rtol=1e-6
    )
    np.testing.assert_allclose(folded.layers[1].beta, beta, rtol=1e-6)


def test_export_of_a_chip_uses_its_realised_weights():
    tile = crossbar.Tile(device=devices.PCM())
    net = crossbar.SpikingNetwork(
        [crossbar.AnalogLinear(6, 4, tile=tile, key=jr.PRNGKey(0)), crossbar.LIF(beta=0.8)],
        encoder=None,
    )
    chip = crossbar.at_time(crossbar.program(net, jr.PRNGKey(1)), 86400.0, jr.PRNGKey(2))
    graph = crossbar.export_nir(chip)
    affine = graph.nodes["0_analoglinear"]
    np.testing.assert_allclose(affine.weight, chip.layers[0].realised_weight(), rtol=1e-6)
    assert not np.allclose(affine.weight, net.layers[0].weight)  # programmed and drifted
    lif = graph.nodes["1_lif"]
    np.testing.assert_allclose(lif.tau, 1e-3 / 0.2)  # tau = dt / (1 - beta)
    np.testing.assert_allclose(lif.r * 1e-3, lif.tau)  # r = tau / dt


def test_unsupported_things_are_named():
    conv = crossbar.SpikingNetwork(
        [crossbar.AnalogConv2d(1, 2, 3, key=jr.PRNGKey(0)), crossbar.LIF(beta=0.5)], encoder=None
    )
    with pytest.raises(ValueError, match="AnalogConv2d"):
        crossbar.export_nir(conv)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1, 4, 4])}),
            "conv": nir.Conv2d(
                input_shape=(4, 4),
                weight=np.ones((1, 1, 3, 3)),
                stride=1,
                padding=1,
                dilation=1,
                groups=1,
                bias=np.zeros(1),
            ),
            "output": nir.Output(output_type={"output": np.array([1, 4, 4])}),
        },
        edges=[("input", "conv"), ("conv", "output")],
    )
    with pytest.raises(ValueError, match="unsupported NIR node types \\['Conv2d'\\]"):
        crossbar.import_nir(graph)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_gains_in_the_weights_is_the_same_network(reset):
    """`gains="weights"`: every `r` is 1 and the feeding rows carry `r` (tau / dt, here 10 and
    1.5); importing folds `dt r / tau` back, so the weights and the spikes come back."""
    net = ideal_net(reset)
    graph = crossbar.export_nir(net, gains="weights")
    plain = crossbar.export_nir(net)
    for cell, fed in (("1_lif", "0_analoglinear"), ("3_lif", "2_analoglinear")):
        np.testing.assert_array_equal(graph.nodes[cell].r, 1.0)
        r = np.asarray(plain.nodes[cell].r, np.float64)[:, None]
        np.testing.assert_allclose(graph.nodes[fed].weight, plain.nodes[fed].weight * r, rtol=1e-6)
    assert graph.metadata["crossbar_gains"] == "weights"
    back = crossbar.import_nir(graph)
    np.testing.assert_allclose(back.layers[0].weight, net.layers[0].weight, rtol=1e-6, atol=1e-7)
    x = (jr.uniform(jr.PRNGKey(1), (20, 12)) < 0.4).astype(jnp.float32)
    _, act_a = net.record(x)
    _, act_b = back.record(x)
    for i in (1, 3):
        np.testing.assert_array_equal(act_a[i], act_b[i])
        assert 0 < float(jnp.mean(act_a[i])) < 1
