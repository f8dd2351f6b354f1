"""Non-ideality studies: a grid over tile and device parameters, many chips per point,
sharded over every JAX device, written as it goes and resumable."""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec
from jaxtyping import PRNGKeyArray

import devices
from devices.checks import check_int, is_real

from ..core._checks import value_checks
from ..core._chip import analog_layers, as_digital, at_time, map_tiles, program
from ..core._circuit import IRDrop
from ..core._tile import Tile, grid
from ..data import Dataset
from ._hosts import chip_mesh, from_writer, is_writer, to_host
from ._sweep_result import SweepResult, _fingerprint, _resume, _stats

#: Parameters that are not a field of `Tile`, its converters or its device.
SPECIAL = {
    "t": "seconds since programming",
    "r_wire": "ohms per wire segment (exact IR drop unless the tile's IRDrop says otherwise)",
    "stuck_fraction": "stuck cells, half at g_min and half at g_max (devices.StuckAt)",
}


def _allowed() -> str:
    tile = [f"tile.{f.name}" for f in dataclasses.fields(Tile) if f.name not in ("dac", "adc")]
    return (
        ", ".join(sorted(SPECIAL))
        + ", dac.<field>, adc.<field>, device.<field> (the tile's device), "
        + ", ".join(tile)
    )


def _check_name(name: str, model) -> None:
    tile = analog_layers(model)[0].tile
    if name in SPECIAL:
        return
    head, _, field = name.partition(".")
    target = {"tile": tile, "dac": tile.dac, "adc": tile.adc, "device": tile.device}.get(head)
    names = [f.name for f in dataclasses.fields(target)] if target is not None else []
    if not field or field not in names:
        raise ValueError(
            f"sweep: unknown parameter {name!r}. Allowed: {_allowed()}"
            + (f"; fields of {type(target).__name__}: {', '.join(names)}" if names else "")
            + "."
        )


def _check_value(name: str, value, model) -> None:
    """Raise, naming the parameter, unless every analog layer accepts `value` for `name` (so
    a bad value fails before the first point is computed, not inside it)."""
    if name == "t":
        if not is_real(value) or not math.isfinite(value) or value < 0:
            raise ValueError(
                f"sweep: the read time `t` must be a finite number of seconds >= 0; got {value!r}."
            )
        return
    if name == "r_wire" and not (is_real(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"sweep: `r_wire` (ohm) must be a finite number > 0; got {value!r}.")
    if name == "stuck_fraction" and not (is_real(value) and 0 <= value <= 1):
        raise ValueError(f"sweep: `stuck_fraction` must lie in [0, 1]; got {value!r}.")
    for layer in analog_layers(model):
        try:
            _apply(layer.tile, name, value)
        except (ValueError, TypeError) as e:
            raise ValueError(f"sweep: {name}={value!r} is not allowed: {e}") from None


def _apply(tile: Tile, name: str, value) -> Tile:
    """`tile` with the parameter `name` set to `value`."""
    if name == "r_wire":
        ir = tile.ir_drop if tile.ir_drop is not None else IRDrop()
        return dataclasses.replace(tile, ir_drop=dataclasses.replace(ir, r_wire=float(value)))
    if name == "stuck_fraction":
        f = float(value) / 2
        return dataclasses.replace(tile, device=devices.StuckAt(tile.device, p_low=f, p_high=f))
    head, _, field = name.partition(".")
    if head == "tile":
        return dataclasses.replace(tile, **{field: value})
    sub = dataclasses.replace(getattr(tile, head), **{field: value})
    return dataclasses.replace(tile, **{head: sub})


def _memory_estimate(model, n_test: int, n_chips: int) -> int:
    """Bytes one point needs at once (float32): per chip the conductance arrays in their
    several forms (programmed state, read conductances, readout weights, temporaries), and
    per chip and test example the widest activation."""
    cells = 0
    linears = [layer.crossbar for layer in analog_layers(model)]
    for layer in linears:
        t_r, t_c, rows, cols = grid(layer.in_features, layer.out_features, layer.tile)
        cells += layer.tile.mapping.n_arrays * t_r * t_c * rows * cols
    widest = max(max(layer.in_features, layer.out_features) for layer in linears)
    return 4 * n_chips * (6 * cells + 4 * n_test * widest)


#: The most grid points computed in one vmapped call (fewer where memory says so).
MAX_POINTS_PER_CALL = 16


def _point(model, x, y, mask, ex_keys, t, chip_keys, reference):
    """Per chip: accuracy (labels) and the relative RMS error of the outputs against the
    digital network's (`reference`), over the real (unmasked) examples."""

    def one_chip(k):
        k_prog, k_read = jr.split(k)
        chip = at_time(program(model, k_prog), t, k_read)
        with value_checks(False):  # the data were checked where they entered
            out = jax.vmap(lambda x, k: chip(x, key=k))(x, ex_keys)
        correct = jnp.sum(jnp.where(mask, jnp.argmax(out, -1) == y, False))
        err = jnp.sum(jnp.where(mask[:, None], (out - reference) ** 2, 0.0))
        ref = jnp.sum(jnp.where(mask[:, None], reference**2, 0.0))
        return correct / jnp.sum(mask), jnp.sqrt(err / ref)

    return jax.vmap(one_chip)(chip_keys)


@eqx.filter_jit
def _points(model, index, values, ts, x, y, mask, ex_keys, chip_keys, reference):
    """`_point` for several grid points at once, under `jax.vmap`: the points' models are
    `model` with its leaves at positions `index` (of `jax.tree.leaves`) set to `values`
    (one array `(P,)` per position), read at the times `ts` `(P,)`. **Returns:** accuracy and
    output error, `(P, n_chips)` each."""
    leaves, treedef = jax.tree_util.tree_flatten(model)

    def one(vals, t):
        new = list(leaves)
        for i, v in zip(index, vals):
            new[i] = v
        variant = jax.tree_util.tree_unflatten(treedef, new)
        return _point(variant, x, y, mask, ex_keys, t, chip_keys, reference)

    return jax.vmap(one)(values, ts)


#: A stand-in for the swept floats in the model that `_points` is given (their values come
#: as arrays), so that every chunk of a group has one static part: one program.
_PLACEHOLDER = 0.0


def _is_float(v) -> bool:
    return isinstance(v, (float, np.floating)) and not isinstance(v, bool)


def _groups(flat: list) -> list[tuple[list[int], tuple[int, ...]]]:
    """Consecutive points whose models (`flat`: each `(leaves, treedef)`) differ only in float
    leaves (a swept noise level, bound, coefficient...): `(point indices, positions of the
    leaves that differ)` per group. Anything else that differs (a bit count, a tile size, a
    device class: the program's structure) starts a new group."""
    groups: list[tuple[list[int], set[int]]] = []
    for i, point in enumerate(flat):
        differ = _differing(flat[groups[-1][0][0]], point) if groups else None
        if differ is None:
            groups.append(([i], set()))
        else:
            groups[-1][0].append(i)
            groups[-1][1].update(differ)
    return [(idx, tuple(sorted(pos))) for idx, pos in groups]


def _differing(a, b) -> set[int] | None:
    """The leaf positions where two flattened models differ, all of them floats; None when
    they differ otherwise (structure, or a leaf that is not a float)."""
    (la, ta), (lb, tb) = a, b
    if ta != tb:
        return None
    out = set()
    for i, (u, v) in enumerate(zip(la, lb)):
        if u is v:
            continue
        if _is_float(u) and _is_float(v):
            if u != v:
                out.add(i)
            continue
        if isinstance(u, (jax.Array, np.ndarray)) or isinstance(v, (jax.Array, np.ndarray)):
            return None
        if type(u) is not type(v) or u != v:
            return None
    return out


def sweep(
    model,
    data: Dataset,
    grid: Mapping[str, Sequence],
    *,
    key: PRNGKeyArray,
    n_chips: int = 8,
    t: float = 86400.0,
    n_test: int | None = None,
    path: str | os.PathLike | None = None,
    max_bytes: int | None = None,
) -> SweepResult:
    """Accuracy and output error over a grid of tile and device parameters, many chips each.

    **Arguments:**

    - `model`: a trained network with analog layers (e.g. a `SpikingNetwork`).
    - `data`: a `crossbar.data.Dataset`; its test split (the first `n_test` examples, default
      all) is evaluated.
    - `grid`: `{name: values}`; the points are the Cartesian product, in order. Names: `t`
      (seconds since programming), `r_wire` (exact IR drop), `stuck_fraction`,
      `tile.<field>` (`tile.out_noise`, `tile.rows`, ...), `dac.<field>` / `adc.<field>`
      (`adc.bits`), `device.<field>` (`device.prog_noise_scale`, `device.drift_scale`, ...).
    - `key`: every point uses the same chip keys (common random numbers: differences between
      points are the parameters', not the draws').
    - `n_chips`: Monte-Carlo chips per point, all under one `vmap`; `t`: the read time when
      `t` is not swept.
    - `path`: a stem: `path.csv` and `path.json` are rewritten atomically as points finish;
      an interrupted sweep called again with the same arguments resumes after its last
      finished point (other arguments: an error, the files are left as they are).
    - `max_bytes`: refuse points estimated to need more memory (default: the machine's).

    Points whose models differ only in float values (noise levels, bounds, coefficients,
    `t`, `r_wire`: every float of a Tile and its device is an array leaf) run as one compiled
    program under `jax.vmap` over (points x chips), `MAX_POINTS_PER_CALL` at a time (fewer
    where `max_bytes` says so); a change of structure (a bit count, a tile size, a mode, a
    noise turned off by the value 0) starts a new program. The files are rewritten after every
    such call.

    Chips and test examples are sharded over every JAX device (`jax.devices()`: all cores
    or GPUs; several hosts after `jax.distributed.initialize()`): as many devices on the
    chips axis as divide `n_chips`, the rest on the examples. The numbers do not depend on
    the number of devices.

    **Returns:** a `SweepResult` (a list of rows; `to_csv`, `to_json`, `plot`).
    """
    if not isinstance(data, Dataset):
        raise ValueError(
            f"sweep: `data` must be a crossbar.data.Dataset; got {type(data).__name__}."
        )
    if not analog_layers(model):
        raise ValueError("sweep: `model` has no analog layers to vary.")
    check_int("sweep", "n_chips", n_chips)
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(
            f"sweep: `grid` must be a non-empty {{name: values}} mapping; got {grid!r}."
        )
    for name, values in grid.items():
        _check_name(name, model)
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(
                f"sweep: the values of {name!r} must be a non-empty list; got {values!r}."
            )
        for value in values:
            _check_value(name, value, model)
    _check_value("t", t, model)
    x, y = np.asarray(data.x_test), np.asarray(data.y_test)
    if n_test is not None:
        check_int("sweep", "n_test", n_test)
        x, y = x[:n_test], y[:n_test]
    need = _memory_estimate(model, len(x), n_chips)
    limit = max_bytes if max_bytes is not None else _physical_memory()
    if need > limit:
        raise ValueError(
            f"sweep: one point would need about {need / 2**30:.2f} GiB ({n_chips} chips x "
            f"{len(x)} examples), more than the {limit / 2**30:.2f} GiB allowed; use fewer "
            "chips (`n_chips`) or examples (`n_test`), or raise `max_bytes`."
        )
    names = list(grid)
    points = list(itertools.product(*(list(grid[n]) for n in names)))
    config = {
        "grid": {n: list(grid[n]) for n in names},
        "n_chips": n_chips,
        "t": t,
        "n_test": len(x),
        "key": np.asarray(jax.random.key_data(key)).tolist(),
    }
    meta = {"fingerprint": _fingerprint(model, config), **config}
    rows = from_writer(lambda: _resume(path, meta)) if path is not None else []

    mesh = chip_mesh(n_chips)
    d_batch = mesh.shape["batch"]
    k_chips, k_ex = jr.split(key)
    chip_keys = jax.device_put(
        jr.split(k_chips, n_chips), NamedSharding(mesh, PartitionSpec("chips"))
    )
    pad = -len(x) % d_batch
    ex_keys = jr.split(k_ex, len(x))
    batch = NamedSharding(mesh, PartitionSpec("batch"))
    # The digital reference sees the same per-example keys, so a rate encoder draws the same
    # spikes for it and for every chip: the output error is the hardware's alone.
    digital = as_digital(model)
    reference = jax.vmap(lambda x, k: digital(x, key=k))(jnp.asarray(x), ex_keys)

    def shard(a):
        return jax.device_put(jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1)), batch)

    xs, ys = shard(jnp.asarray(x)), shard(jnp.asarray(y))
    mask = shard(jnp.ones(len(x), bool))
    ex_keys = shard(ex_keys)
    reference = shard(reference)

    params = [dict(zip(names, p)) for p in points]
    times = [float(q.get("t", t)) for q in params]
    # each point's model, flattened once: (leaves, treedef)
    flat = [
        jax.tree_util.tree_flatten(map_tiles(model, lambda tile, q=q: _tiles(tile, q)))
        for q in params
    ]
    # Points that differ only in floats run as one compiled, vmapped program over (points x
    # chips), in chunks that fit in memory; the files are rewritten after every chunk.
    per_chunk = max(1, min(MAX_POINTS_PER_CALL, limit // max(need, 1)))
    for index, positions in _groups(flat):
        size = min(per_chunk, len(index))
        for start in range(0, len(index), size):
            chunk = [i for i in index[start : start + size] if i >= len(rows)]
            if not chunk:
                continue
            padded = chunk + [chunk[-1]] * (size - len(chunk))  # one shape: one program
            leaves, treedef = flat[padded[0]]
            leaves = [_PLACEHOLDER if i in positions else v for i, v in enumerate(leaves)]
            base = jax.tree_util.tree_unflatten(treedef, leaves)
            values = tuple(jnp.asarray([flat[j][0][i] for j in padded]) for i in positions)
            ts = jnp.asarray([times[j] for j in padded])
            acc, err = _points(
                base, positions, values, ts, xs, ys, mask, ex_keys, chip_keys, reference
            )
            acc, err = to_host(acc), to_host(err)
            for k, j in enumerate(chunk):
                rows.append(
                    {
                        **{n: _plain(v) for n, v in zip(names, points[j])},
                        **_stats("accuracy", acc[k]),
                        **_stats("output_error", err[k]),
                    }
                )
            result = SweepResult(rows, names, meta)
            if path is not None and is_writer():
                result.to_json(Path(f"{path}.json"))
                result.to_csv(Path(f"{path}.csv"))
    return SweepResult(rows, names, meta)


def _tiles(tile: Tile, params: dict) -> Tile:
    for name, value in params.items():
        if name != "t":
            tile = _apply(tile, name, value)
    return tile


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30
