"""Every ```python block of the README runs as written.

The blocks form one story (each may use the names of the blocks before it), so they run in
order in one fresh process, in an empty folder; a block that calls `jax.distributed.initialize`
is a process of its own (that call must come before any other JAX work), run under the
environment a one-task SLURM job gives. Only sizes are shrunk, each by a substitution that must
match the README (so a changed README fails here instead of being skipped), and the names the
blocks end with are checked."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

#: (what the README says, what the test runs): sizes only.
SMALLER = [
    ("epochs=40", "epochs=1"),
    ("n_chips=10", "n_chips=2"),
    ("n_chips=16", "n_chips=2"),
    ("n_chips=64", "n_chips=2"),
    ("jr.split(jr.PRNGKey(5), 100)", "jr.split(jr.PRNGKey(5), 4)"),
    ('{"adc.bits": [4, 6, 8], "t"', '{"adc.bits": [4, 8], "t"'),  # a bit count: one program each
]

CHECKS = """
import json, math, os
import numpy as np
assert chips.shape == (1000, 6) and np.isfinite(np.asarray(grad)).all()
assert errors.shape == (4,) and np.isfinite(np.asarray(errors)).all()
assert i.shape == (64,) and np.isfinite(np.asarray(i)).all()
assert len(history) == 1 and math.isfinite(history[0]["loss"])
assert drift["times_s"] == [1, 3600, 86400, 3.15e7] and len(drift["accuracy"]) == 2
assert len(result) == 6 and all(0 <= r["accuracy_median"] <= 1 for r in result), result
assert os.path.exists("results/adc.csv") and os.path.exists("results/net.ckpt")
energy = json.load(open("results/energy.json"))
assert energy["joules_per_inference"] > 0, energy
assert os.path.exists("net.nir") and isinstance(net, crossbar.SpikingNetwork)
print("README OK")
"""


def blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)


def shrink(code: str, used: set) -> str:
    for old, new in SMALLER:
        if old in code:
            code = code.replace(old, new)
            used.add(old)
    return code


def run(script: str, cwd: Path, env=None) -> str:
    path = cwd / "snippets.py"
    path.write_text(script)
    out = subprocess.run(
        [sys.executable, str(path)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-6000:]
    return out.stdout


def free_slurm_job_id() -> int:
    """A SLURM job id whose coordinator port (jax: 61440 + id % 4096) is free here."""
    for job in range(1000, 1000 + 4096):
        with socket.socket() as s:
            try:
                s.bind(("localhost", 61440 + job % 4096))
            except OSError:
                continue
            return job
    raise RuntimeError("no free port in 61440-65535")


def test_every_readme_snippet_runs(tmp_path):
    found = blocks()
    assert len(found) >= 7, f"{len(found)} python blocks in the README"
    used: set = set()
    story = [shrink(b, used) for b in found if "jax.distributed.initialize" not in b]
    alone = [shrink(b, used) for b in found if "jax.distributed.initialize" in b]
    assert used == {old for old, _ in SMALLER}, f"not in the README: {set(dict(SMALLER)) - used}"
    assert len(alone) == 1

    out = run("\n\n".join(story) + "\n" + CHECKS, tmp_path)
    assert "README OK" in out

    env = dict(os.environ)
    env.update(
        SLURM_JOB_ID=str(free_slurm_job_id()),
        SLURM_STEP_NODELIST="localhost",
        SLURM_NTASKS="1",
        SLURM_PROCID="0",
        SLURM_LOCALID="0",
    )
    check = "\nassert jax.process_count() == 1 and len(result) == 2\nprint('DIST OK')\n"
    (tmp_path / "d").mkdir()
    assert "DIST OK" in run(alone[0] + check, tmp_path / "d", env)
