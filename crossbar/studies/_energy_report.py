"""The result of an energy estimate: `EnergyReport`, a dict of plain numbers that prints as a
table, writes itself as JSON and plots a stacked bar chart."""

from __future__ import annotations

import numpy as np

from ..io._atomic import atomic_write_json, pyplot, save_figure

#: The energy components of every layer row, joules per inference.
COMPONENTS = ("array_j", "dac_j", "adc_j", "digital_j", "memory_j", "neuron_j")


class EnergyReport(dict):
    """The result of `estimate_energy`: a dict of plain numbers (JSON as it stands), which
    prints as a table, writes itself with `to_json(path)` (atomically) and plots a stacked
    bar chart with `plot(path)`."""

    def __str__(self) -> str:
        cols = " ".join(f"{c[:-2]:>9}" for c in COMPONENTS)
        width = max([26, *(len(r["name"]) for r in self["layers"])])
        head = f"{'layer':>{width}} | {cols} | {'SynOps':>9} {'rate':>6}"
        lines = [
            f"energy per inference: {_j(self['joules_per_inference'])} "
            f"({self['examples']} examples, T = {self['time_steps']}, "
            f"latency {self['latency_s'] * 1e6:.2f} us)",
            head,
            "-" * len(head),
        ]
        for r in self["layers"]:
            rate = "" if r["firing_rate"] is None else f"{r['firing_rate']:.3f}"
            comps = " ".join(f"{_j(r[c]):>9}" for c in COMPONENTS)
            lines.append(f"{r['name']:>{width}} | {comps} | {r['synops']:9.0f} {rate:>6}")
        lines.append(
            f"MACs {self['macs']:.0f}, SynOps {self['synops']:.0f}; baselines per inference:"
        )
        for name, value in self["baselines"].items():
            lines.append(
                f"  {name:>18}: {_j(value):>10}  "
                f"({value / self['joules_per_inference']:8.1f} x this chip)"
            )
        return "\n".join(lines)

    def to_json(self, path) -> None:
        atomic_write_json(path, dict(self))

    def plot(self, path):
        """A stacked bar per layer and component; None without matplotlib."""
        plt = pyplot()
        if plt is None:
            return None
        fig, ax = plt.subplots(figsize=(6, 4))
        names = [r["name"] for r in self["layers"]]
        bottom = np.zeros(len(names))
        for comp in COMPONENTS:
            values = np.array([r[comp] for r in self["layers"]]) * 1e12
            ax.bar(names, values, bottom=bottom, label=comp[:-2])
            bottom += values
        ax.set_ylabel("energy per inference (pJ)")
        ax.set_title("energy by layer and component")
        ax.legend()
        plt.setp(ax.get_xticklabels(), rotation=15, ha="right")
        return save_figure(fig, path, dpi=120, bbox_inches="tight")


def _j(value: float) -> str:
    """Joules in the unit that reads best."""
    for unit, scale in (("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12), ("fJ", 1e-15)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} J"


def neurobench_counts(rows: list[dict], spikes: list) -> dict:
    """NeuroBench's names for the counts of `rows` (per inference; its `SynapticOperations`
    and `ActivationSparsity`): effective ACs are our SynOps, effective MACs the non-zero
    non-spike inputs times fan-out, dense the MACs; the sparsity is the fraction of zero
    outputs of every neuron layer (`spikes`, each `(N, T, ...)`) over all steps."""
    size = sum(int(np.prod(s.shape)) for s in spikes)
    fired = sum(float(np.sum(s)) for s in spikes)
    return {
        "SynapticOperations": {
            "Effective_MACs": sum(r["events"] for r in rows if not r["binary_input"]),
            "Effective_ACs": sum(r["synops"] for r in rows),
            "Dense": sum(r["macs"] for r in rows),
        },
        "ActivationSparsity": 1.0 - fired / size if size else None,
    }
