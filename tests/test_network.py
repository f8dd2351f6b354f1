"""Spiking networks over time, training, checkpoints, drift evaluation, the demo and the CLI."""

import dataclasses
import json
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices
from crossbar.cli._main import main
from crossbar.io._checkpoint import checkpoint_meta
from crossbar.models import build_snn

IDEAL = crossbar.Tile(dac=crossbar.DAC(bits=None), adc=crossbar.ADC(bits=None, bound=float("inf")))
SMALL = {"hidden": 24, "steps": 4}


def mlp(key, tile=IDEAL, encoder=crossbar.Encoder("direct", 3), readout="mean"):
    k1, k2 = jr.split(key)
    layers = [
        crossbar.AnalogLinear(6, 5, tile=tile, key=k1),
        crossbar.LIF(beta=0.5),
        crossbar.AnalogLinear(5, 3, tile=tile, key=k2),
    ]
    if readout != "mean":
        layers.append(crossbar.LIF(beta=0.7, threshold=0.5))
    return crossbar.SpikingNetwork(layers, encoder=encoder, readout=readout)


def manual(net, x):
    """The network unrolled by hand in numpy-like JAX: a reference for the scan."""
    l1, lif1, l2 = net.layers[:3]
    u1 = jnp.zeros(5)
    u2 = jnp.zeros(3)
    outs, mems = [], []
    for _ in range(3):
        s1, u1 = lif1(l1.weight @ x + l1.bias, u1)
        h = l2.weight @ s1 + l2.bias
        if len(net.layers) == 4:
            h, u2 = net.layers[3](h, u2)
            mems.append(u2)
        outs.append(h)
    return jnp.stack(outs), (jnp.stack(mems) if mems else None)


@pytest.mark.parametrize("readout", ["mean", "sum", "membrane"])
def test_scan_equals_a_hand_unrolled_network(readout, getkey):
    net = mlp(getkey(), readout=readout)
    x = jr.uniform(getkey(), (6,), minval=0.0, maxval=3.0)
    outs, mems = manual(net, x)
    expected = {"mean": outs.mean(0), "sum": outs.sum(0), "membrane": None}[readout]
    if readout == "membrane":
        expected = mems.mean(0)
    np.testing.assert_allclose(net(x), expected, rtol=1e-5, atol=1e-6)
    # The readout after every step: running mean, sum or mean membrane of the unrolled net.
    seq = mems if readout == "membrane" else outs
    running = jnp.cumsum(seq, 0)
    if readout != "sum":
        running = running / jnp.arange(1, 4, dtype=running.dtype)[:, None]
    np.testing.assert_allclose(net.readout_over_time(x), running, rtol=1e-5, atol=1e-6)


def test_vmap_jit_grad_through_a_network(getkey):
    tile = crossbar.Tile(device=devices.PCM(), out_noise=0.02)
    net = mlp(getkey(), tile=tile, encoder=crossbar.Encoder("rate", 4))
    xs = jr.uniform(getkey(), (8, 6))

    @eqx.filter_jit
    def loss(net, xs, key):
        chip = crossbar.sample_chip(net, key)
        return jnp.sum(jax.vmap(lambda x, k: chip(x, key=k))(xs, jr.split(key, 8)) ** 2)

    g = eqx.filter_grad(loss)(net, xs, getkey())
    assert (
        bool(jnp.all(jnp.isfinite(g.layers[0].weight)))
        and float(jnp.abs(g.layers[0].weight).sum()) > 0
    )
    with pytest.raises(RuntimeError, match="needs a key"):
        net(xs[0])


def test_network_bad_input(getkey):
    with pytest.raises(ValueError, match="at least one layer"):
        crossbar.SpikingNetwork([])
    with pytest.raises((ValueError, TypeError), match="readout"):
        crossbar.SpikingNetwork([crossbar.LIF(beta=0.5)], readout="max")
    with pytest.raises(ValueError, match="membrane.*LIF"):
        crossbar.SpikingNetwork([crossbar.Flatten()], readout="membrane")
    net = mlp(getkey(), encoder=None)
    with pytest.raises(ValueError, match=r"input must have shape \(6,\); got \(7,\)"):
        net(jnp.ones((3, 7)))
    with pytest.raises(ValueError, match="steps"):
        crossbar.Encoder("rate", 0)


def test_pooling_and_flatten():
    x = jnp.arange(2 * 5 * 4, dtype=jnp.float32).reshape(2, 5, 4)
    y = crossbar.MaxPool2d(2)(x)
    expected = np.asarray(x)[:, :4, :].reshape(2, 2, 2, 2, 2).max(axis=(2, 4))
    np.testing.assert_array_equal(np.asarray(y), expected)
    assert crossbar.Flatten()(y).shape == (8,)


def test_data_sets():
    d = crossbar.data.digits()
    assert d.x_train.shape == (1438, 64) and d.x_test.shape == (359, 64)
    assert d.x_train.min() >= 0 and d.x_train.max() <= 1 and d.n_classes == 10
    assert np.array_equal(crossbar.data.digits().y_test, d.y_test)  # a fixed split
    assert crossbar.data.upsample(d.x_test[:2]).shape == (2, 1, 28, 28)
    own = crossbar.data.arrays(np.ones((4, 3)), [0, 1, 1, 0], np.ones((2, 3)), [1, 0])
    assert own.n_classes == 2
    with pytest.raises(ValueError, match="y_train.*shape \\(4,\\)"):
        crossbar.data.arrays(np.ones((4, 3)), [0, 1], np.ones((2, 3)), [1, 0])
    with pytest.raises(ValueError, match="integer labels"):
        crossbar.data.arrays(np.ones((4, 3)), [0.5, 1, 1, 0], np.ones((2, 3)), [1, 0])
    with pytest.raises(ValueError, match="one shape"):
        crossbar.data.arrays(np.ones((4, 3)), [0, 1, 1, 0], np.ones((2, 5)), [1, 0])


@pytest.fixture(scope="module")
def digits():
    return crossbar.data.digits()


def test_hardware_aware_training_learns_and_resumes(digits, tmp_path):
    model = build_snn(SMALL, 64, 10, key=jr.PRNGKey(0))
    ckpt = tmp_path / "m.ckpt"
    kw = dict(key=jr.PRNGKey(1), batch_size=64, progress=False, log=None)
    full, hist = crossbar.train(model, digits, epochs=3, checkpoint=ckpt, **kw)
    assert hist[-1]["test_accuracy"] > 0.5 and hist[-1]["loss"] < hist[0]["loss"]
    # Stop after 2 epochs, then resume to 3: the same weights as the run straight through.
    part_ckpt = tmp_path / "p.ckpt"
    crossbar.train(model, digits, epochs=2, checkpoint=part_ckpt, **kw)
    resumed, hist2 = crossbar.train(model, digits, epochs=3, checkpoint=part_ckpt, **kw)
    assert [h["epoch"] for h in hist2] == [1, 2, 3]
    np.testing.assert_array_equal(
        np.asarray(resumed.layers[0].weight), np.asarray(full.layers[0].weight)
    )


def test_checkpoint_errors_and_atomic_writes(tmp_path, getkey):
    model = build_snn(SMALL, 64, 10, key=getkey())
    path = tmp_path / "c.ckpt"
    crossbar.save_checkpoint(path, model, epoch=1)
    loaded, meta = crossbar.load_checkpoint(path, model)
    assert meta == {"epoch": 1}
    assert eqx.tree_equal(eqx.filter(loaded, eqx.is_array), eqx.filter(model, eqx.is_array))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        crossbar.load_checkpoint(tmp_path / "missing.ckpt", model)
    other = build_snn({**SMALL, "hidden": 25}, 64, 10, key=getkey())
    with pytest.raises(ValueError, match="another model"):
        crossbar.load_checkpoint(path, other)
    data = path.read_bytes()
    (tmp_path / "t.ckpt").write_bytes(data[:-100])
    with pytest.raises(ValueError, match="truncated"):
        crossbar.load_checkpoint(tmp_path / "t.ckpt", model)
    (tmp_path / "x.ckpt").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a crossbar-jax checkpoint"):
        crossbar.load_checkpoint(tmp_path / "x.ckpt", model)

    # A write killed before the rename leaves the old checkpoint whole, and no stray file.
    def killed(*args):
        raise KeyboardInterrupt

    real = os.replace
    os.replace = killed
    try:
        with pytest.raises(KeyboardInterrupt):
            crossbar.save_checkpoint(path, other, epoch=2)
    finally:
        os.replace = real
    assert crossbar.load_checkpoint(path, model)[1] == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt", "t.ckpt", "x.ckpt"]


def test_a_format_1_checkpoint_loads_and_a_new_config_field_changes_nothing(tmp_path, getkey):
    """`tests/data/checkpoint_v1.ckpt` was written by crossbar-jax 428c929 (format 1: the
    Tile then a static field, its repr in the fingerprint): it loads, every array equal to
    what that code saved (`checkpoint_v1_leaves.npz`). The fingerprint of format 2 is the
    arrays' paths, shapes and dtypes: a tile with other values (or a new defaulted field)
    loads the same file; another architecture is refused."""
    import optax

    data = Path(__file__).parent / "data"
    saved = np.load(data / "checkpoint_v1_leaves.npz")
    meta = checkpoint_meta(data / "checkpoint_v1.ckpt")
    assert meta["config"] == {"hidden": 16}
    net = build_snn(meta["config"], meta["n_in"], meta["n_out"], key=getkey())
    like = (net, optax.adam(2e-3).init(eqx.filter(net, eqx.is_inexact_array)))
    (model, state), meta = crossbar.load_checkpoint(data / "checkpoint_v1.ckpt", like)
    got = jax.tree_util.tree_leaves(eqx.filter((model, state), eqx.is_array))
    assert len(got) == len(saved.files) == 16
    for i, leaf in enumerate(got):
        np.testing.assert_array_equal(np.asarray(leaf), saved[f"arr_{i}"])
    assert model.layers[0].tile == net.layers[0].tile  # the configuration is the model's
    wider = build_snn({"hidden": 17}, 64, 10, key=getkey())
    wider_like = (wider, optax.adam(2e-3).init(eqx.filter(wider, eqx.is_inexact_array)))
    with pytest.raises(ValueError, match="another model"):
        crossbar.load_checkpoint(data / "checkpoint_v1.ckpt", wider_like)

    # format 2: written and read back; a changed tile value keeps the fingerprint
    path = tmp_path / "v2.ckpt"
    crossbar.save_checkpoint(path, model, epoch=3)
    assert json.loads(path.read_bytes().split(b"\n")[1])["version"] == 2
    noisier = crossbar.map_tiles(
        model, lambda t: dataclasses.replace(t, out_noise=0.1, adc=crossbar.ADC(bits=6))
    )
    loaded, _ = crossbar.load_checkpoint(path, noisier)
    assert loaded.layers[0].tile == noisier.layers[0].tile
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(loaded, eqx.is_array)), got, strict=False):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="another model"):
        crossbar.load_checkpoint(path, build_snn({"hidden": 17}, 64, 10, key=getkey()))
    future = path.read_bytes().replace(b'"version": 2', b'"version": 9')
    (tmp_path / "future.ckpt").write_bytes(future)
    with pytest.raises(ValueError, match="format 9"):
        crossbar.load_checkpoint(tmp_path / "future.ckpt", model)


def test_evaluate_drift_on_an_ideal_chip_is_flat(digits, getkey):
    model = build_snn({**SMALL, "device": "ideal", "out_noise": 0.0}, 64, 10, key=getkey())
    r = crossbar.evaluate_drift(model, digits, [1.0, 3e7], 3, getkey())
    acc = np.asarray(r["accuracy"])
    assert acc.shape == (3, 2)
    # Ideal devices do not drift: the same chip at 1 s and 1 year differs only by encoding noise.
    assert abs(np.mean(acc[:, 0]) - np.mean(acc[:, 1])) < 0.05
    with pytest.raises(ValueError, match="times"):
        crossbar.evaluate_drift(model, digits, [-1.0], 2, getkey())
    with pytest.raises((ValueError, TypeError), match="Dataset"):
        crossbar.evaluate_drift(model, (digits.x_test, digits.y_test), [1.0], 2, getkey())


def test_train_bad_input(digits, getkey):
    model = build_snn(SMALL, 64, 10, key=getkey())
    with pytest.raises(ValueError, match="epochs"):
        crossbar.train(model, digits, key=getkey(), epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        crossbar.train(model, digits, key=getkey(), batch_size=10_000)
    wrong = crossbar.data.arrays(
        np.ones((8, 5)), np.zeros(8, int), np.ones((2, 5)), np.zeros(2, int)
    )
    with pytest.raises(ValueError, match=r"shape \(64,\); got \(5,\)"):
        crossbar.train(model, wrong, key=getkey(), epochs=1, batch_size=4, progress=False, log=None)


@pytest.mark.parametrize(
    "task, config",
    # the digits on an ideal device (their own path is the task and the recipe; PCM is what
    # the MNIST-1D case runs): a compilation of the PCM chip less
    [
        ("mnist1d", {"hidden": 16, "steps": 4, "window": 10}),
        ("digits", {**SMALL, "device": "ideal"}),
    ],
)
def test_demo_on_a_tiny_setting(tmp_path, task, config):
    lines = []
    finetune = 1 if task == "mnist1d" else None
    r = crossbar.cli.run_demo(
        tmp_path,
        data=task,
        epochs=1,
        finetune_epochs=finetune,
        n_chips=2,
        config=config,
        log=lines.append,
    )
    saved = json.loads((tmp_path / "demo.json").read_text())
    assert saved["task"] == task
    assert saved["times_s"] == [1.0, 3600.0, 86400.0, 2592000.0, 31536000.0]
    for r_net in (*saved["networks"].values(), saved["ann"]):
        for key in ("median", "min", "max"):
            assert len(r_net[key]) == 5
            assert all(0.0 <= a <= 1.0 for a in r_net[key])
        assert 0.0 <= r_net["digital"] <= 1.0
    assert set(saved["networks"]) == {"hardware_aware", "plain"}
    # the MLP has the SNN's parameter count, to within one hidden unit (n_in + n_out + 1)
    n_in = 40 if task == "mnist1d" else 64  # the MLP sees the whole sequence
    width = n_in + 10 + 1
    assert abs(saved["ann"]["parameters"] - saved["snn_parameters"]) <= width // 2 + 1
    assert r["n_chips"] == 2
    table = "\n".join(lines)
    assert "digital" in table and "mlp (ann)" in table and "the demo took" in table
    if task == "mnist1d":  # the recurrent layer's row in the energy report
        assert any("recurrent" in layer["name"] for layer in saved["energy"]["layers"])
        assert (
            saved["history"]["plain"][0]["train_accuracy"]
            == saved["history"]["hardware_aware"][0]["train_accuracy"]
        )  # one plain pre-training shared by both
    energy = saved["energy"]
    assert energy["joules_per_inference"] > 0 and energy["macs"] > 0
    assert {"digital_fp32", "digital_int8"} <= set(energy["baselines"])
    assert all(
        k.endswith("_j")
        or k
        in (
            "name",
            "synops",
            "firing_rate",
            "macs",
            "events",
            "binary_input",
            "dac_conversions",
            "adc_conversions",
            "in_features",
            "out_features",
            "vectors",
        )
        for k in energy["layers"][0]
    )


def test_a_model_from_python_goes_to_the_command_line(tmp_path, capsys):
    """A network of `build_snn` (any weights: trained in Python) saves to a file that
    `crossbar evaluate` reads and `load_trained` reads back to the same arrays; a network that
    is not what its config builds is refused. (`test_cli_train_and_evaluate` loads the CLI's
    own checkpoint with `load_trained`.)"""
    net = build_snn(SMALL, 64, 10, key=jr.PRNGKey(5))
    net = eqx.tree_at(lambda m: m.layers[0].weight, net, 2.0 * net.layers[0].weight)
    path = crossbar.models.save_trained(tmp_path / "py.ckpt", net, SMALL, data="digits")
    back = crossbar.models.load_trained(path)
    for a, b in zip(jax.tree.leaves(eqx.filter(net, eqx.is_array)),
                    jax.tree.leaves(eqx.filter(back, eqx.is_array)), strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)
    out = tmp_path / "e.json"
    assert main(["evaluate", "--checkpoint", str(path), "--chips", "2", "--times", "1",
                 "--out", str(out)]) == 0  # fmt: skip
    assert json.loads(out.read_text())["n_chips"] == 2
    with pytest.raises(ValueError, match="is not the network build_snn"):
        crossbar.models.save_trained(tmp_path / "x.ckpt", net, {**SMALL, "hidden": 32})
    with pytest.raises(ValueError, match="is not the network build_snn"):
        crossbar.models.save_trained(tmp_path / "x.ckpt", net, {**SMALL, "out_noise": 0.1})
    crossbar.save_checkpoint(tmp_path / "other.ckpt", net)
    with pytest.raises(ValueError, match="has no network config"):
        crossbar.models.load_trained(tmp_path / "other.ckpt")


def test_cli_train_and_evaluate(tmp_path, capsys):
    ckpt = tmp_path / "m.ckpt"
    args = ["--hidden", "24", "--steps", "4", "--epochs", "1"]  # the shapes of SMALL
    assert main(["train", "--checkpoint", str(ckpt), *args, "--pairs", "2"]) == 0
    # the CLI's model in Python, one public call, on the chip it was trained for
    loaded = crossbar.models.load_trained(ckpt)
    assert loaded.layers[0].weight.shape == (24, 64)
    assert loaded.layers[0].tile.mapping == crossbar.Differential(pairs=2)
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(ckpt),
                "--chips",
                "2",
                "--times",
                "1,86400",
                "--out",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    evaluated = json.loads((tmp_path / "e.json").read_text())
    assert "1 day" in out and evaluated["n_chips"] == 2
    source = evaluated["source"]  # where the numbers came from
    assert source["checkpoint"] == str(ckpt) and source["data"] == "digits"
    assert source["seed"] == 0 and source["command"] == "evaluate" and source["crossbar_jax"]
    assert (tmp_path / "e.png").stat().st_size > 0  # the plot beside the JSON
    assert (
        main(
            [
                "energy",
                "--checkpoint",
                str(ckpt),
                "--examples",
                "4",
                "--out",
                str(tmp_path / "n.json"),
            ]
        )
        == 0
    )
    energy = json.loads((tmp_path / "n.json").read_text())
    assert energy["examples"] == 4 and energy["source"]["command"] == "energy"
    sweep_args = ["sweep", "--checkpoint", str(ckpt), "--chips", "2", "--examples", "16"]
    stem = str(tmp_path / "s")
    assert main([*sweep_args, "--param", "t=1,86400", "--out", stem]) == 0
    assert "t=86400: accuracy" in capsys.readouterr().out
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 3
    assert main([*sweep_args, "--param", "tile.colour=1", "--out", stem + "2"]) == 2
    assert "unknown parameter 'tile.colour'" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tmp_path / "nope.ckpt")]) == 2
    assert "does not exist" in capsys.readouterr().err
