"""ANN-to-SNN conversion: the rate code converges to the ANN, the normalisation, bad input."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import crossbar
from crossbar import LIF, AnalogLinear


def _mlp(key, sizes=(6, 16, 12, 4)):
    return eqx.nn.MLP(sizes[0], sizes[-1], sizes[1], len(sizes) - 2, jax.nn.relu, key=key)


def test_rates_converge_to_the_ann_logits(getkey):
    mlp = eqx.nn.MLP(6, 4, 16, 2, jax.nn.relu, key=getkey())
    x = jr.uniform(getkey(), (64, 6))
    # Max-norm (percentile 100): no activation exceeds the threshold, so after T steps each
    # rate is the ReLU output / lambda to within 1/T, and the output current is the logits.
    tile = crossbar.ideal_tile(crossbar.Tile())
    snn = crossbar.convert(mlp, x, tile=tile, steps=1000, percentile=100.0)
    ann = jax.vmap(mlp)(x)
    over_time = jax.vmap(lambda xi: snn.readout_over_time(xi))(x)  # (N, T, 4)
    scale = float(jnp.abs(ann).max())
    np.testing.assert_allclose(over_time[:, -1], ann, atol=0.01 * scale)
    err = [float(jnp.abs(over_time[:, t - 1] - ann).max()) / scale for t in (4, 40, 1000)]
    assert err[0] > 0.05 and err[0] > err[1] > err[2], err  # coarser with fewer steps
    # The running readout is what a shorter inference answers, and its end the usual one.
    short = crossbar.convert(mlp, x, tile=tile, steps=40, percentile=100.0)
    np.testing.assert_allclose(
        jax.vmap(lambda xi: short(xi))(x), over_time[:, 39], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(jax.vmap(lambda xi: snn(xi))(x), over_time[:, -1], rtol=1e-6)


def test_weights_and_thresholds_are_normalised_by_the_percentiles(getkey):
    seq = eqx.nn.Sequential(
        [
            eqx.nn.Linear(5, 8, key=getkey()),
            eqx.nn.Lambda(jax.nn.relu),
            eqx.nn.Dropout(0.2),
            eqx.nn.Linear(8, 7, key=getkey()),
            eqx.nn.Lambda(jax.nn.relu),
            eqx.nn.Linear(8 - 1, 3, use_bias=False, key=getkey()),
        ]
    )
    x = np.asarray(jr.uniform(getkey(), (200, 5)))
    snn = crossbar.convert(seq, x, steps=8, percentile=99.0)
    l1, l2, l3 = seq.layers[0], seq.layers[3], seq.layers[5]
    a1 = np.maximum(x @ np.asarray(l1.weight).T + np.asarray(l1.bias), 0)
    a2 = np.maximum(a1 @ np.asarray(l2.weight).T + np.asarray(l2.bias), 0)
    lam1, lam2 = np.percentile(a1, 99.0), np.percentile(a2, 99.0)
    layers = snn.layers
    assert [type(v) for v in layers] == [AnalogLinear, LIF, AnalogLinear, LIF, AnalogLinear]
    assert all(
        float(v.beta) == 1.0 and v.threshold == 1.0 and v.reset == "subtract"
        for v in (layers[1], layers[3])
    )
    assert snn.encoder == crossbar.Encoder("direct", 8) and snn.readout == "mean"
    np.testing.assert_allclose(layers[0].weight, np.asarray(l1.weight) / lam1, rtol=1e-5)
    np.testing.assert_allclose(layers[0].bias, np.asarray(l1.bias) / lam1, rtol=1e-5)
    np.testing.assert_allclose(layers[2].weight, np.asarray(l2.weight) * lam1 / lam2, rtol=1e-5)
    np.testing.assert_allclose(layers[4].weight, np.asarray(l3.weight) * lam2, rtol=1e-5)
    assert layers[4].bias is None


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda k: eqx.nn.Sequential([eqx.nn.Conv2d(1, 2, 3, key=k)]), "Conv2d"),
        (
            lambda k: eqx.nn.Sequential([eqx.nn.Linear(3, 3, key=k), eqx.nn.Lambda(jax.nn.tanh)]),
            "tanh",
        ),
        (lambda k: eqx.nn.MLP(3, 2, 4, 1, jax.nn.sigmoid, key=k), "relu"),
        (
            lambda k: eqx.nn.Sequential([eqx.nn.Linear(3, 3, key=k), eqx.nn.Linear(3, 2, key=k)]),
            "no ReLU",
        ),
        (
            lambda k: eqx.nn.Sequential([eqx.nn.Linear(3, 3, key=k), eqx.nn.LayerNorm(3)]),
            "LayerNorm",
        ),
        (lambda k: jax.nn.relu, "eqx.nn.MLP"),
    ],
)
def test_layers_without_a_spiking_counterpart_are_named(make, match, getkey):
    with pytest.raises(ValueError, match=match):
        crossbar.convert(make(getkey()), np.zeros((4, 3), np.float32))


def test_bad_arguments(getkey):
    mlp = _mlp(getkey())
    with pytest.raises(ValueError, match="percentile"):
        crossbar.convert(mlp, np.zeros((4, 6)), percentile=0.0)
    with pytest.raises(ValueError, match="x_calib"):
        crossbar.convert(mlp, np.zeros((4, 5)))
    with pytest.raises(ValueError, match="steps"):
        crossbar.convert(mlp, np.zeros((4, 6)), steps=0)


def test_convert_command_writes_the_curve(tmp_path):
    """`crossbar convert` end to end on the digits (short ANN training, two step counts)."""
    pytest.importorskip("sklearn")
    out = tmp_path / "curve.json"
    from crossbar.cli._main import main

    code = main(["convert", "--epochs", "8", "--steps", "4,32", "--chips", "2", "--out", str(out)])
    assert code == 0
    c = json.loads(out.read_text())
    assert c["steps"] == [4, 32] and len(c["snn_device_chips"][1]) == 2
    assert c["ann"] > 0.9
    # More steps, closer to the ANN; the PCM chip a day after programming stays near.
    assert c["snn_ideal"][1] > c["snn_ideal"][0] and c["snn_ideal"][1] > c["ann"] - 0.03
    assert c["snn_device"][1] > c["ann"] - 0.05
