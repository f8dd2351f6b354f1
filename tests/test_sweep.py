"""Sweeps: the grid, resuming, sharding over devices, and bad input."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices

CHILD = textwrap.dedent(
    """
    import json, sys
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
    r = crossbar.sweep(net, data, {"t": [1.0, 1e6, 3e7]}, key=jr.PRNGKey(1), n_chips=6)
    import jax
    print(json.dumps({"devices": len(jax.devices()), "rows": list(r)}))
    """
)


def _run_child(n_devices: int) -> dict:
    flags = os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n_devices}"
    env = dict(os.environ, XLA_FLAGS=flags.strip())
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_sharded_over_four_devices_gives_the_same_numbers():
    one, four = _run_child(1), _run_child(4)
    assert one["devices"] == 1 and four["devices"] == 4
    assert len(one["rows"]) == 3
    for a, b in zip(one["rows"], four["rows"]):
        assert a["accuracy_chips"] == b["accuracy_chips"]
        np.testing.assert_allclose(a["output_error_chips"], b["output_error_chips"], rtol=1e-5)
    # Drift (uncompensated part and read noise) raises the output error over a year.
    err = [r["output_error_median"] for r in one["rows"]]
    assert err[2] > err[0]


def small():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (30, 10)).astype(np.float32)
    y = x[:, :2].argmax(1).astype(np.int32)
    tile = crossbar.Tile(device=devices.PCM(), rows=8, cols=8)
    net = crossbar.AnalogLinear(10, 2, tile=tile, key=jr.PRNGKey(0))
    return net, crossbar.data.arrays(x, y, x, y)


def test_results_written_as_they_come_and_resumed(tmp_path):
    net, data = small()
    grid = {"stuck_fraction": [0.0, 0.2], "t": [1.0, 1e6]}
    path = tmp_path / "study"
    full = crossbar.sweep(net, data, grid, key=jr.PRNGKey(2), n_chips=3, path=path)
    saved = json.loads((tmp_path / "study.json").read_text())
    assert saved["rows"] == list(full)
    csv = (tmp_path / "study.csv").read_text().splitlines()
    assert csv[0].startswith("stuck_fraction,t,accuracy_median") and len(csv) == 5
    # Interrupted after two points: the rerun keeps them and computes the rest, equal.
    saved["rows"] = saved["rows"][:2]
    (tmp_path / "study.json").write_text(json.dumps(saved))
    again = crossbar.sweep(net, data, grid, key=jr.PRNGKey(2), n_chips=3, path=path)
    assert list(again) == list(full)
    # Faults hurt.
    assert full[2]["output_error_median"] > full[0]["output_error_median"]
    # Another sweep at the same path: an error, the file untouched.
    before = (tmp_path / "study.json").read_bytes()
    with pytest.raises(ValueError, match="different sweep"):
        crossbar.sweep(net, data, grid, key=jr.PRNGKey(3), n_chips=3, path=path)
    assert (tmp_path / "study.json").read_bytes() == before
    assert full.plot(tmp_path / "study.png") is None or (tmp_path / "study.png").exists()


def test_bad_input():
    net, data = small()
    with pytest.raises(ValueError, match="unknown parameter 'tile.colour'"):
        crossbar.sweep(net, data, {"tile.colour": [1]}, key=jr.PRNGKey(0))
    with pytest.raises(ValueError, match="unknown parameter 'noise'"):
        crossbar.sweep(net, data, {"noise": [1]}, key=jr.PRNGKey(0))
    with pytest.raises(ValueError, match="non-empty list"):
        crossbar.sweep(net, data, {"t": []}, key=jr.PRNGKey(0))
    with pytest.raises(ValueError, match=r"would need about .* GiB"):
        crossbar.sweep(net, data, {"t": [1.0]}, key=jr.PRNGKey(0), max_bytes=1000)
    with pytest.raises(ValueError, match="r_wire"):
        crossbar.sweep(net, data, {"r_wire": [-1.0]}, key=jr.PRNGKey(0))


def test_points_that_differ_in_floats_run_together_with_each_points_own_numbers():
    """A grid over floats (noise, a device coefficient, the wire resistance, stuck cells, t)
    runs as vmapped programs over points: every point gives what it gives swept alone (the
    same accuracy of every chip; output errors to float32 rounding), and a bit count splits
    the grid into one program per value."""
    from crossbar.core._chip import map_tiles
    from crossbar.studies._sweep import _groups, _tiles

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (40, 12)).astype(np.float32)
    y = (x[:, :3].argmax(1)).astype(np.int32)
    data = crossbar.data.arrays(x, y, x[:30], y[:30])
    tile = crossbar.Tile(
        device=devices.PCM(),
        rows=8,
        cols=8,
        dac=crossbar.DAC(bits=6),
        adc=crossbar.ADC(bits=6, bound=8.0),
        out_noise=0.05,
        ir_drop=crossbar.IRDrop(r_wire=1.0),
    )
    net = crossbar.AnalogLinear(12, 3, tile=tile, key=jr.PRNGKey(0))
    grid = {
        "tile.out_noise": [0.02, 0.2],
        "device.prog_noise_scale": [0.5, 2.0],
        "r_wire": [0.5, 50.0],
        "stuck_fraction": [0.0, 0.2],
        "t": [10.0, 3e7],
    }
    together = crossbar.sweep(net, data, grid, key=jr.PRNGKey(1), n_chips=3)
    assert len(together) == 32
    for row in together[::31]:  # the first and the last
        point = {name: [row[name]] for name in grid}
        alone = crossbar.sweep(net, data, point, key=jr.PRNGKey(1), n_chips=3)[0]
        assert alone["accuracy_chips"] == row["accuracy_chips"], point
        np.testing.assert_allclose(alone["output_error_chips"], row["output_error_chips"], 1e-5)
    # the floats vary the outputs (the sweep is not of one point repeated)
    assert len({tuple(r["output_error_chips"]) for r in together}) == 32
    flat = jax.tree_util.tree_flatten
    variants = [flat(map_tiles(net, lambda t, b=b: _tiles(t, {"adc.bits": b}))) for b in (4, 6, 8)]
    assert len(_groups(variants)) == 3
    variants = [
        flat(map_tiles(net, lambda t, v=v: _tiles(t, {"tile.out_noise": v})))
        for v in grid["tile.out_noise"]
    ]
    assert [len(i) for i, _ in _groups(variants)] == [2]
