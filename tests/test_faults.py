"""Kill -9 in the middle of `crossbar train` and of `crossbar sweep`, then rerun the same
command: it resumes, and what it leaves equals an uninterrupted run's (the checkpoint's model,
optimiser state and history; the sweep's files byte for byte)."""

import json
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from crossbar.cli._main import main
from crossbar.io._checkpoint import checkpoint_meta
from crossbar.models import load_trained

TRAIN = ["--hidden", "24", "--steps", "4", "--batch-size", "128", "--epochs", "3"]


def killed_when(args: list[str], ready, timeout: float = 600.0) -> None:
    """Run `python -m crossbar ARGS` and SIGKILL it as soon as `ready()` holds (polled every
    2 ms); fail if it ends first."""
    deadline = time.monotonic() + timeout
    with subprocess.Popen(
        [sys.executable, "-m", "crossbar", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            while not ready():
                if proc.poll() is not None:
                    pytest.fail(
                        f"`crossbar {args[0]}` ended before it was killed: {proc.stderr.read()}"
                    )
                if time.monotonic() > deadline:
                    pytest.fail(f"`crossbar {args[0]}` did not get there in {timeout} s")
                time.sleep(0.002)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def rows_in(path) -> int:
    try:
        return len(json.loads(path.read_text())["rows"])
    except (OSError, ValueError, KeyError):
        return 0


def test_kill_9_mid_training_and_mid_sweep_then_resume(tmp_path, capsys):
    whole, cut = tmp_path / "whole.ckpt", tmp_path / "cut.ckpt"
    assert main(["train", "--checkpoint", str(whole), *TRAIN]) == 0

    killed_when(["train", "--checkpoint", str(cut), *TRAIN], cut.exists)
    done = checkpoint_meta(cut)["epoch"]
    assert done < 2, f"killed after epoch {done + 1} of 3: too late to test a resume"
    assert main(["train", "--checkpoint", str(cut), *TRAIN]) == 0
    assert f"resumed from {cut} after epoch {done + 1}" in capsys.readouterr().out

    a, b = load_trained(whole), load_trained(cut)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        assert np.array_equal(np.asarray(x), np.asarray(y))
    ha, hb = (checkpoint_meta(p)["history"] for p in (whole, cut))
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in ha] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in hb
    ]
    assert len(ha) == 3

    sweep = ["sweep", "--checkpoint", str(whole), "--chips", "2", "--examples", "64"]
    sweep += ["--param", "adc.bits=4,8", "--param", "t=1,86400"]
    assert main([*sweep, "--out", str(tmp_path / "s_whole")]) == 0
    part = tmp_path / "s_cut.json"
    killed_when([*sweep, "--out", str(tmp_path / "s_cut")], lambda: rows_in(part) >= 1)
    assert 1 <= rows_in(part) < 4
    assert main([*sweep, "--out", str(tmp_path / "s_cut")]) == 0
    for ext in (".json", ".csv"):
        whole_bytes = (tmp_path / f"s_whole{ext}").read_bytes()
        assert (tmp_path / f"s_cut{ext}").read_bytes() == whole_bytes
