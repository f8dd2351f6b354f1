"""The device study behind `make demo`, and the command line."""

import json

import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices
from crossbar.cli._main import main


def test_study_reproduces_worked_drift_factors():
    """High targets sit at the nu = 0.049 floor: REFERENCE's 0.775, 0.664, 0.497 (read noise
    and the spread of nu move the mean by well under 1 %)."""
    study = crossbar.device_study(
        devices.PCM(), [25.0], [3600.0, 86400.0, 365 * 86400.0], n_devices=50_000, key=jr.PRNGKey(0)
    )
    ratios = np.asarray(study["mean_uS"][0]) / 25.0
    np.testing.assert_allclose(ratios, [0.775, 0.664, 0.497], rtol=0.01)


def test_study_is_deterministic_and_shaped():
    args = (devices.PCM(), [5.0, 10.0], [1.0, 3600.0])
    a = crossbar.device_study(*args, n_devices=100, key=jr.PRNGKey(3))
    b = crossbar.device_study(*args, n_devices=100, key=jr.PRNGKey(3))
    assert a == b
    assert np.asarray(a["mean_uS"]).shape == (2, 2)
    table = crossbar.format_study(a)
    assert "1 h" in table and "10.00" in table


def test_study_bad_input():
    with pytest.raises(ValueError, match="n_devices"):
        crossbar.device_study(devices.PCM(), [5.0], [1.0], n_devices=1, key=jr.PRNGKey(0))
    with pytest.raises(ValueError, match="times"):
        crossbar.device_study(devices.PCM(), [5.0], [-1.0], key=jr.PRNGKey(0))


def test_cli_device_study_writes_json_atomically(tmp_path, capsys):
    path = tmp_path / "device_study.json"
    assert main(["device-study", "--out", str(path), "--n-devices", "200"]) == 0
    out = capsys.readouterr().out
    assert "1 year" in out and "PCM" in out
    data = json.loads(path.read_text())
    assert data["times_s"] == [1.0, 3600.0, 86400.0, 31536000.0]
    assert [p.name for p in tmp_path.iterdir()] == ["device_study.json"]  # no temporary left


def test_cli_device_study_and_errors(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert (
        main(
            [
                "device-study",
                "--device",
                "rram-cmo",
                "--times",
                "0,60",
                "--targets",
                "20,50",
                "--n-devices",
                "50",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["device"] == "RRAMCMO"
    assert main(["device-study", "--times", "-5", "--n-devices", "50"]) == 2
    assert "times" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["device-study", "--device", "nonsense"])


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "r.json"
    crossbar.atomic_write_json(path, {"a": 1})

    class Boom:
        pass

    with pytest.raises(TypeError):
        crossbar.atomic_write_json(path, {"a": Boom()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
