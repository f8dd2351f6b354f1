"""Bad input at the edges: every case gets a clear error that names the argument or flag,
before any long work; real scalars of every kind are accepted."""

import subprocess
import sys

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices
from crossbar.cli._main import main


def cli(capsys, *argv):
    """(exit code, stderr) of the command line; argparse's usage errors exit with 2."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def tiny_data(n_classes=2, n=12):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(n, 6)).astype(np.float32)
    y = (np.arange(n) % n_classes).astype(np.int32)
    return crossbar.data.arrays(x, y, x, y)


def tiny_net(n_out=2):
    tile = crossbar.Tile(device=devices.PCM(), rows=8, cols=8, train_time=(1.0, 1e6))
    return crossbar.AnalogLinear(6, n_out, tile=tile, key=jr.PRNGKey(0))


# ------------------------------------------------------------------ command line


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["demo", "--chips", "0"], "--chips must be an integer >= 1; got 0"),
        (["demo", "--epochs", "0"], "--epochs must be an integer >= 1"),
        (["demo", "--finetune-epochs", "-1"], "--finetune-epochs must be an integer >= 0"),
        (["demo", "--data", "digits", "--finetune-epochs", "3"], "applies to --data mnist1d"),
        (["demo", "--data", "cifar"], "invalid choice: 'cifar'"),
        (["train", "--hidden", "0"], "--hidden must be an integer >= 1; got 0"),
        (["train", "--train-time", "0,100"], "--train-time: T_MIN must be > 0"),
        (["train", "--train-time", "5,1"], "--train-time must be T_MIN,T_MAX"),
        (["train", "--lr", "nan"], "--lr must be a finite number > 0; got nan"),
        (["train", "--lr", "-0.1"], "--lr must be a finite number > 0"),
        (["train", "--beta", "1.5"], "--beta must be a finite number >= 0 and <= 1"),
        (["train", "--adc-bits", "0"], "--adc-bits must be an integer from 1 to 24"),
        (["train", "--out-noise", "-1"], "--out-noise must be a finite number >= 0"),
        (["train", "--pairs", "0"], "--pairs must be an integer from 1 to 64; got 0"),
        (["demo", "--pairs", "65"], "--pairs must be an integer from 1 to 64; got 65"),
        (["device-study", "--targets", "nan"], "--targets must be comma-separated"),
        (["device-study", "--n-devices", "1"], "--n-devices must be an integer >= 2"),
        (["evaluate", "--times", "-1"], "--times must be comma-separated"),
        (["energy", "--checkpoint", "nowhere.ckpt"], "--checkpoint: nowhere.ckpt does not exist"),
        (["convert", "--steps", "0,4"], "--steps must be comma-separated integers >= 1"),
        (["convert", "--percentile", "0"], "--percentile must be a finite number > 0"),
        (["train", "--data", "missing.npz"], "--data: 'missing.npz' is neither 'digits'"),
    ],
)
def test_cli_flags_are_checked_before_any_work(capsys, argv, flag):
    code, err = cli(capsys, *argv)
    assert code == 2
    assert flag in err


def test_cli_output_paths_are_checked_before_any_work(capsys, tmp_path):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    cases = [
        (["train", "--checkpoint", str(folder)], "it is a folder"),
        (["train", "--checkpoint", str(a_file / "model.ckpt")], "is a file, not a folder"),
        (["demo", "--out", str(a_file)], "it is a file, not a folder"),
        (["device-study", "--out", str(a_file / "deeper" / "s.json")], "is a file, not a folder"),
    ]
    for argv, message in cases:
        code, err = cli(capsys, *argv)
        assert code == 2, argv
        assert message in err and ("--checkpoint" in err or "--out" in err), err


def test_cli_data_files_that_are_not_npz_of_arrays(capsys, tmp_path):
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file at all")
    np.savez(tmp_path / "empty.npz", x_train=np.zeros((0, 4)), y_train=np.zeros(0, int),
             x_test=np.zeros((2, 4)), y_test=np.zeros(2, int))  # fmt: skip
    np.savez(tmp_path / "labels.npz", x_train=np.zeros((3, 4)), y_train=np.zeros(2, int),
             x_test=np.zeros((2, 4)), y_test=np.zeros(2, int))  # fmt: skip
    np.savez(tmp_path / "objects.npz", x_train=np.array([{}, {}], dtype=object))
    cases = [
        ("one.npy", "holds one array (an .npy file)"),
        ("garbage.npz", "is not an .npz file of arrays"),
        ("empty.npz", "x_train must be (N, ...) with N >= 1"),
        ("labels.npz", "`y_train` must have shape (3,)"),
        ("objects.npz", "lacks the arrays"),
        (".", "is neither 'digits' nor an existing .npz file"),
    ]
    for name, message in cases:
        with pytest.raises(ValueError) as e:
            crossbar.cli._commands.load_data(str(tmp_path / name))
        assert "--data" in str(e.value) and message in str(e.value), str(e.value)
        assert "allow_pickle" not in str(e.value)
    np.savez(
        tmp_path / "objects2.npz",
        x_train=np.array([{}, {}], dtype=object),
        y_train=np.zeros(2, int),
        x_test=np.zeros((2, 4)),
        y_test=np.zeros(2, int),
    )
    with pytest.raises(ValueError, match="an array of Python objects") as e:
        crossbar.cli._commands.load_data(str(tmp_path / "objects2.npz"))
    assert "allow_pickle" not in str(e.value)


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("crossbar-jax ")


# ------------------------------------------------------------------ the library


def test_train_time_needs_a_positive_start():
    with pytest.raises(ValueError, match="train_time.*0 < t_min"):
        crossbar.Tile(train_time=(0.0, 100.0))
    crossbar.Tile(train_time=(0.0, 0.0))  # one fixed time, t = 0: defined
    crossbar.Tile(train_time=(1.0, 100.0))


NUMPY_SCALARS = """
import jax.numpy as jnp, jax.random as jr, numpy as np
import crossbar, devices
pcm = devices.PCM(g_max=np.float32(25), prog_noise_scale=np.float64(0.5))
tile = crossbar.Tile(
    device=pcm,
    dac=crossbar.DAC(bits=np.int64(4)),
    adc=crossbar.ADC(bits=np.int32(6), bound=np.float32(10)),
    rows=np.int64(8),
    cols=8,
    train_time=(np.float32(1), np.float64(100)),
)
layer = crossbar.AnalogLinear(np.int64(6), np.int32(3), tile=tile, key=jr.PRNGKey(0))
y = layer(jnp.ones(6), key=jr.PRNGKey(1))
assert y.shape == (3,) and bool(jnp.all(jnp.isfinite(y)))
crossbar.LIF(beta=np.float32(0.9))
try:
    crossbar.DAC(bits=np.bool_(True))
except ValueError as e:
    assert "bits" in str(e)
else:
    raise AssertionError("a bool taken for bits")
print("ok")
"""


def test_numpy_scalars_are_real_numbers():
    """NumPy's integers and floats are accepted wherever a number is (in a fresh process:
    the suite's runtime type checker reads the annotations `int` and `float` strictly)."""
    done = subprocess.run([sys.executable, "-c", NUMPY_SCALARS], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_absurd_device_settings_are_refused():
    with pytest.raises(ValueError, match="prog_noise_scale.*at most 10"):
        devices.PCM(prog_noise_scale=1e6)
    with pytest.raises(ValueError, match="read_noise_scale"):
        devices.PCM(read_noise_scale=11.0)
    devices.PCM(prog_noise_scale=10.0)


def test_at_time_says_that_t_is_a_scalar():
    chip = crossbar.program(tiny_net(), jr.PRNGKey(0))
    with pytest.raises(ValueError, match="`t` is one read time.*jax.vmap"):
        crossbar.at_time(chip, jnp.array([1.0, 2.0]), jr.PRNGKey(1))


def test_train_refuses_labels_the_network_cannot_give():
    with pytest.raises(ValueError, match="labels reach 2.*2 outputs"):
        crossbar.train(tiny_net(2), tiny_data(3), key=jr.PRNGKey(0), epochs=1, batch_size=4,
                       log=None, progress=False)  # fmt: skip


@pytest.mark.parametrize("lr", [float("nan"), -1e-3, 0.0])
def test_train_refuses_a_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="learning_rate"):
        crossbar.train(tiny_net(), tiny_data(), key=jr.PRNGKey(0), epochs=1, batch_size=4,
                       learning_rate=lr, log=None, progress=False)  # fmt: skip


def test_a_checkpoint_is_not_resumed_under_other_settings(tmp_path):
    path = tmp_path / "model.ckpt"
    kw = dict(key=jr.PRNGKey(0), epochs=1, batch_size=4, checkpoint=path, log=None, progress=False)
    crossbar.train(tiny_net(), tiny_data(), hardware_aware=False, **kw)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="hardware_aware=False, this run has hardware_aware=True"):
        crossbar.train(tiny_net(), tiny_data(), hardware_aware=True, **(kw | {"epochs": 2}))
    with pytest.raises(ValueError, match="learning_rate"):
        crossbar.train(tiny_net(), tiny_data(), hardware_aware=False, learning_rate=0.1,
                       **(kw | {"epochs": 2}))  # fmt: skip
    assert path.read_bytes() == before  # nothing overwritten
    # more epochs under the same settings resume; a changed setting with the explicit switch
    _, history = crossbar.train(tiny_net(), tiny_data(), hardware_aware=False,
                                **(kw | {"epochs": 2}))  # fmt: skip
    assert len(history) == 2
    _, history = crossbar.train(tiny_net(), tiny_data(), hardware_aware=True, allow_changed=True,
                                **(kw | {"epochs": 3}))  # fmt: skip
    assert len(history) == 3
    assert crossbar.io._checkpoint.checkpoint_meta(path)["hardware_aware"] is True


def test_sweep_values_are_checked_before_the_first_point():
    net, data = tiny_net(), tiny_data()
    for grid, message in [
        ({"t": [1.0, -1.0]}, "read time `t` must be a finite number of seconds >= 0; got -1.0"),
        ({"adc.bits": [4, 0]}, "adc.bits=0 is not allowed"),
        ({"stuck_fraction": [1.5]}, "stuck_fraction` must lie in"),
        ({"device.prog_noise_scale": [1e6]}, "device.prog_noise_scale=1000000.0 is not allowed"),
    ]:
        with pytest.raises(ValueError, match="sweep: ") as e:
            crossbar.sweep(net, data, grid, key=jr.PRNGKey(0), n_chips=2)
        assert message in str(e.value), str(e.value)


# ------------------------------------------------------------------ NIR


def _nir_chain(tau=2e-3, r=2.0, cycle=False):
    nir = pytest.importorskip("nir")
    w = np.eye(3, dtype=np.float32)
    ones = np.ones(3, np.float32)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([3])}),
        "fc": nir.Affine(weight=w, bias=np.zeros(3, np.float32)),
        "lif": nir.LIF(
            tau=tau * ones, r=r * ones, v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones
        ),  # fmt: skip
    }
    if cycle:  # back to the first layer (no Output: a chain cannot leave a cycle)
        edges = [("input", "fc"), ("fc", "lif"), ("lif", "fc")]
    else:
        nodes["output"] = nir.Output(output_type={"output": np.array([3])})
        edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3}, type_check=not cycle)


def test_nir_import_uses_r_and_refuses_bad_tau_and_cycles():
    # dt r / tau = 1e-3 * 2 / 2e-3 = 1: the input is added as it is; r = 4 doubles it
    one = crossbar.import_nir(_nir_chain(r=2.0))
    two = crossbar.import_nir(_nir_chain(r=4.0))
    np.testing.assert_allclose(two.layers[0].weight, 2 * one.layers[0].weight)
    assert float(one.layers[1].beta) == pytest.approx(0.5)
    x = jnp.full((6, 3), 0.3)
    assert not np.array_equal(np.asarray(one(x)), np.asarray(two(x)))
    with pytest.raises(ValueError, match="tau = 0.0 s; it must be >= the graph's dt"):
        crossbar.import_nir(_nir_chain(tau=0.0))
    with pytest.raises(ValueError, match="cycle through node"):
        crossbar.import_nir(_nir_chain(cycle=True))


def test_nir_import_takes_dt_over_the_metadata_and_refuses_a_bad_one():
    # tau 2e-3 s: dt 1e-3 (the metadata) gives beta 0.5; dt=1e-4 given gives 0.95
    assert float(crossbar.import_nir(_nir_chain(r=2.0)).layers[1].beta) == pytest.approx(0.5)
    given = crossbar.import_nir(_nir_chain(r=2.0), dt=1e-4)
    assert float(given.layers[1].beta) == pytest.approx(0.95)
    for bad in (0.0, -1e-3, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="import_nir: `dt` must be a number of seconds > 0"):
            crossbar.import_nir(_nir_chain(r=2.0), dt=bad)
