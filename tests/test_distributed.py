"""Several hosts: `crossbar.sweep` and `evaluate_drift` over two `jax.distributed` CPU
processes on localhost (coordinator on 127.0.0.1, gloo collectives), each with its own
device, give the per-chip results of one process; one process writes the sweep's files and
a resumed sweep resumes in both."""

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent(
    """
    import json, sys
    pid, count, port, path = sys.argv[1:5]
    pid, count = int(pid), int(count)
    import jax
    if count > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=count, process_id=pid)
    import jax.random as jr
    import numpy as np
    import crossbar, devices

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (40, 12)).astype(np.float32)
    y = (x[:, :3].argmax(1)).astype(np.int32)
    data = crossbar.data.arrays(x, y, x[:30], y[:30])
    tile = crossbar.Tile(device=devices.PCM(), rows=8, cols=8, dac=crossbar.DAC(bits=6),
                         adc=crossbar.ADC(bits=6, bound=8.0), out_noise=0.05)
    net = crossbar.AnalogLinear(12, 3, tile=tile, key=jr.PRNGKey(0))
    r = crossbar.sweep(net, data, {"t": [1.0, 1e6, 3e7]}, key=jr.PRNGKey(1), n_chips=6,
                       path=path)
    d = crossbar.evaluate_drift(net, data, [1.0, 3e7], 6, jr.PRNGKey(2))
    print(json.dumps({"processes": jax.process_count(), "devices": len(jax.devices()),
                      "rows": list(r), "drift": d["accuracy"]}))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=1"
    return dict(os.environ, XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")


def _run(count: int, paths: list) -> list[dict]:
    """The child in `count` processes (process i with `paths[i]`), their printed results. A
    process that fails stops them all (the others would wait for it in a collective)."""
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(i), str(count), port, str(paths[i])],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    start = time.monotonic()
    try:
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            assert not failed, failed[0].stderr.read()[-3000:]
            assert time.monotonic() - start < 300, "the processes did not finish in 300 s"
            time.sleep(0.2)
        outs = []
        for p in procs:
            out, err = p.communicate()
            assert p.returncode == 0, err[-3000:]
            outs.append(json.loads(out.strip().splitlines()[-1]))
        return outs
    finally:
        for p in procs:
            p.kill()


def _in_this_process(path) -> dict:
    """The child's work as one process, here (no second interpreter to start)."""
    out, argv = io.StringIO(), sys.argv
    try:
        sys.argv = ["child", "0", "1", "0", str(path)]
        with contextlib.redirect_stdout(out):
            exec(CHILD, {"__name__": "child"})
    finally:
        sys.argv = argv
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_two_processes_give_the_results_of_one(tmp_path):
    one = _in_this_process(tmp_path / "one")
    # An interrupted two-process sweep: process 0's files hold the first point. Process 1 is
    # given another path, with no files: it must resume where process 0 does (from what
    # process 0 read) and write nothing.
    saved = json.loads((tmp_path / "one.json").read_text())
    (tmp_path / "a.json").write_text(json.dumps({**saved, "rows": saved["rows"][:1]}))
    a, b = _run(2, [tmp_path / "a", tmp_path / "b"])
    assert one["processes"] == 1 and a["processes"] == b["processes"] == 2
    assert a["devices"] == 2
    assert len(one["rows"]) == 3
    for got in (a, b):
        for r1, r2 in zip(one["rows"], got["rows"], strict=True):
            assert r1["accuracy_chips"] == r2["accuracy_chips"]
            assert r1["output_error_chips"] == pytest.approx(r2["output_error_chips"], rel=1e-5)
        assert got["drift"] == one["drift"]  # [chip][time] accuracies
    assert json.loads((tmp_path / "a.json").read_text())["rows"] == a["rows"]
    assert (tmp_path / "a.csv").exists()
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "b.csv").exists()
