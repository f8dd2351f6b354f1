"""The main job: a spiking network trained hardware-aware on PCM crossbars, beside one trained
plain, both evaluated over a year on many chips."""

from __future__ import annotations

import time
from pathlib import Path

import jax.random as jr
import numpy as np

from ..core._chip import at_time, program
from ..data import digits
from ..io._atomic import atomic_write_json, pyplot, save_figure
from ..models import DEFAULT_CONFIG, build_snn
from ..studies._energy import estimate_energy
from ..studies._reports import DRIFT_TIMES, format_drift_table
from ..studies._train import evaluate_drift, train


def run_demo(
    out: str | Path = "results",
    *,
    epochs: int = 40,
    n_chips: int = 10,
    seed: int = 0,
    config: dict | None = None,
    log=print,
) -> dict:
    """Train the demo SNN twice on the digits (hardware-aware and plain, same initial
    weights and batches), evaluate both over `DRIFT_TIMES` on `n_chips` PCM chips, and
    write `OUT/demo.json` and `OUT/demo.png`. **Returns:** the results dict."""
    start = time.perf_counter()
    config = {**DEFAULT_CONFIG, **(config or {})}
    data = digits()
    k_init, k_train, k_eval = jr.split(jr.PRNGKey(seed), 3)
    model = build_snn(config, data.x_train.shape[1], data.n_classes, key=k_init)
    networks, histories, trained_hwa = {}, {}, None
    for name, hwa in (("hardware_aware", True), ("plain", False)):
        log(f"training the {name.replace('_', '-')} network ({epochs} epochs)")
        trained, history = train(
            model,
            data,
            key=k_train,
            epochs=epochs,
            hardware_aware=hwa,
            progress=False,
            log=None,
        )
        histories[name] = history
        trained_hwa = trained if hwa else trained_hwa
        log(f"  final test accuracy during training: {history[-1]['test_accuracy']:.3f}")
        networks[name] = evaluate_drift(trained, data, DRIFT_TIMES, n_chips, k_eval)
    results = {
        "times_s": list(DRIFT_TIMES),
        "networks": {
            name: {key: r[key] for key in ("median", "min", "max", "mean", "std", "accuracy")}
            for name, r in networks.items()
        },
        "n_chips": n_chips,
        "epochs": epochs,
        "seed": seed,
        "config": config,
        "data": {
            "name": "sklearn digits 8x8",
            "train": int(data.x_train.shape[0]),
            "test": int(data.x_test.shape[0]),
        },
        "history": histories,
    }
    log(format_drift_table(results))
    # The energy of the hardware-aware network, read a day after programming, on 64 test digits.
    k_prog, k_read, k_energy = jr.split(jr.fold_in(k_eval, 1), 3)
    chip = at_time(program(trained_hwa, k_prog), 86400.0, k_read)
    energy = estimate_energy(chip, data.x_test[:64], key=k_energy)
    log(str(energy))
    results["energy"] = dict(energy)
    out = Path(out)
    results["seconds"] = time.perf_counter() - start
    atomic_write_json(out / "demo.json", results)
    log(f"written: {out / 'demo.json'}")
    png = plot_drift(results, out / "demo.png")
    if png is not None:
        log(f"written: {png}")
    log(f"({results['seconds']:.0f} s)")
    return results


def plot_drift(results: dict, path: Path) -> Path | None:
    """Accuracy against time since programming, median and min..max over chips; None when
    matplotlib is not installed."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    t = np.asarray(results["times_s"])
    for name, r in results["networks"].items():
        med = 100 * np.asarray(r["median"])
        ax.plot(t, med, marker="o", label=name.replace("_", "-"))
        ax.fill_between(t, 100 * np.asarray(r["min"]), 100 * np.asarray(r["max"]), alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("time since programming (s)")
    ax.set_ylabel(f"test accuracy (%), median and range of {results['n_chips']} chips")
    ax.set_title("SNN on PCM crossbars: accuracy over the chip's life")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save_figure(fig, path, dpi=120, bbox_inches="tight")
