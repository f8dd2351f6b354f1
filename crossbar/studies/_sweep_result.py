"""What a sweep leaves: its rows (`SweepResult`: CSV, JSON, plot), their statistics over
chips, and the fingerprint and resume of an interrupted sweep."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from devices.checks import is_real

from ..io._atomic import atomic_write_bytes, atomic_write_json, pyplot, save_figure


def _fingerprint(model, config: dict) -> str:
    leaves = [np.asarray(v) for v in jax.tree.leaves(eqx.filter(model, eqx.is_array))]
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for leaf in leaves:
        h.update(leaf.tobytes())
    return h.hexdigest()[:16]


class SweepResult(list):
    """The rows of a sweep (one dict per grid point: the parameters, then `accuracy` and
    `output_error` as `median`, `mean`, `std`, `min`, `max` over chips and the per-chip
    lists); `to_csv`, `to_json` and `plot`."""

    def __init__(self, rows, params: Sequence[str], meta: dict):
        super().__init__(rows)
        self.params = list(params)
        self.meta = meta

    def to_json(self, path) -> None:
        atomic_write_json(path, {"meta": self.meta, "params": self.params, "rows": list(self)})

    def to_csv(self, path) -> None:
        buf = io.StringIO()
        stats = [f"{m}_{s}" for m in ("accuracy", "output_error") for s in _STATS]
        writer = csv.writer(buf)
        writer.writerow(self.params + stats)
        for row in self:
            writer.writerow([row[p] for p in self.params] + [row[s] for s in stats])
        atomic_write_bytes(path, buf.getvalue().encode())

    def plot(self, path, metric: str = "accuracy"):
        """One panel per parameter: the median over chips (and over the other parameters'
        values) with the chip-to-chip range shaded. None without matplotlib."""
        plt = pyplot()
        if plt is None:
            return None
        fig, axes = plt.subplots(1, len(self.params), figsize=(4 * len(self.params), 3.2))
        axes = np.atleast_1d(axes)
        for ax, p in zip(axes, self.params):
            values = sorted({row[p] for row in self}, key=lambda v: (isinstance(v, str), v))
            chips = [
                np.concatenate([row[f"{metric}_chips"] for row in self if row[p] == v])
                for v in values
            ]
            xs = np.arange(len(values)) if any(isinstance(v, str) for v in values) else values
            med = [np.median(c) for c in chips]
            ax.fill_between(xs, [c.min() for c in chips], [c.max() for c in chips], alpha=0.3)
            ax.plot(xs, med, "o-")
            if p in ("t", "r_wire") and all(is_real(v) and v > 0 for v in values):
                ax.set_xscale("log")
            ax.set_xlabel(p)
            ax.set_ylabel(metric.replace("_", " "))
        fig.tight_layout()
        return save_figure(fig, path, dpi=110)


_STATS = ("median", "mean", "std", "min", "max")


def _stats(name: str, values: np.ndarray) -> dict:
    values = np.asarray(values, np.float64)
    out = {f"{name}_{s}": float(getattr(np, s)(values)) for s in _STATS}
    out[f"{name}_chips"] = values.tolist()
    return out


def _resume(path, meta: dict) -> list:
    """The finished rows of an earlier run of the same sweep, or [] if there is none."""
    file = Path(f"{path}.json")
    if not file.exists():
        return []
    try:
        saved = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(
            f"sweep: {file} exists but is not a sweep's JSON ({e}); move it away."
        ) from e
    if saved.get("meta") != meta:
        raise ValueError(
            f"sweep: {file} holds a different sweep (other model, grid, chips, time or key); "
            "it is left untouched. Choose another `path` or remove it."
        )
    return list(saved["rows"])
