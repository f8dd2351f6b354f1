"""The main job: a spiking network trained hardware-aware on PCM crossbars, beside the same
network trained plain and a non-spiking network of equal parameter count, all evaluated over
a year on many chips, with the digital accuracy of each as its ceiling."""

from __future__ import annotations

import time
from pathlib import Path

import jax.random as jr
import numpy as np
import optax

from ..core._chip import as_digital, at_time, program
from ..data import digits, mnist1d
from ..io._atomic import atomic_write_json, pyplot, save_figure
from ..models import (
    DEFAULT_CONFIG,
    build_snn,
    chip_tile,
    count_parameters,
    equal_size_mlp,
    recurrent_snn,
)
from ..studies._energy import estimate_energy
from ..studies._reports import DRIFT_TIMES, format_drift_table
from ..studies._train import evaluate_drift, train

#: The tasks of `crossbar demo --data`.
TASKS = ("mnist1d", "digits")

#: The chip's keys of a config (`crossbar.models.chip_tile`); the temporal task takes these
#: and `hidden`, `steps` and `window`.
_CHIP_KEYS = ("device", "dac_bits", "adc_bits", "adc_bound", "out_noise", "train_time", "pairs")
#: Four differential pairs per weight on the temporal task (`crossbar.Differential(pairs=4)`,
#: a multi-memristive synapse: the PCM errors of its devices average down by 2); the digits
#: keep one.
_MNIST1D_DEFAULTS = {"hidden": 128, "steps": 40, "window": 8, "pairs": 4}

#: The training recipe of each task: epochs of the first phase and of the fine-tuning phase,
#: their peak learning rates (Adam, cosine decay) and the weight clip of the second phase.
_RECIPES = {
    # Plain pre-training, then hardware-aware fine-tuning (a chip per step, weights clipped
    # to 2.5 sigma: aihwkit's recipe); the plain network trains on for the same epochs with
    # the same schedule, as conventional training does (no chip, no clip).
    "mnist1d": {
        "epochs": 60,
        "finetune_epochs": 40,
        "lr": 5e-3,
        "finetune_lr": 5e-3,
        "clip_sigma": 2.5,
    },
    # The digits: both networks trained from the same start for `epochs`, Adam at 2e-3.
    "digits": {
        "epochs": 40,
        "finetune_epochs": 0,
        "lr": 2e-3,
        "finetune_lr": 0.0,
        "clip_sigma": None,
    },
}


def run_demo(
    out: str | Path = "results",
    *,
    data: str = "mnist1d",
    epochs: int | None = None,
    finetune_epochs: int | None = None,
    n_chips: int = 10,
    seed: int = 0,
    config: dict | None = None,
    log=print,
) -> dict:
    """The main job. On `data="mnist1d"` (default; MNIST-1D as sliding windows over 40 time
    steps): a recurrent SNN (`crossbar.models.recurrent_snn`) pre-trained plain for `epochs`
    (default 60), then fine-tuned hardware-aware for `finetune_epochs` (default 40) beside a
    copy trained on plain for as long, every weight on four differential pairs of PCM devices
    (`config={"pairs": 1}` for one); on `data="digits"`: the rate-coded 64-128-10 SNN of
    `crossbar.models.build_snn` trained hardware-aware and plain from the same start for
    `epochs` (default 40). Beside them, a non-spiking MLP of equal parameter count
    (`crossbar.models.equal_size_mlp`) trained as the hardware-aware SNN is. Every network is
    evaluated digitally and over `DRIFT_TIMES` on `n_chips` PCM chips; the energy of the
    hardware-aware SNN read a day after programming is estimated on 64 test examples.
    Writes `OUT/demo.json` and `OUT/demo.png`. **Returns:** the results dict."""
    start = time.perf_counter()
    if data not in TASKS:
        raise ValueError(f"run_demo: `data` must be one of {list(TASKS)}; got {data!r}.")
    recipe = dict(_RECIPES[data])
    recipe["epochs"] = recipe["epochs"] if epochs is None else epochs
    if data == "mnist1d":
        recipe["finetune_epochs"] = (
            recipe["finetune_epochs"] if finetune_epochs is None else finetune_epochs
        )
    elif finetune_epochs:
        raise ValueError("run_demo: `finetune_epochs` applies to data='mnist1d' only.")
    k_init, k_train, k_eval, k_ann = jr.split(jr.PRNGKey(seed), 4)
    if data == "mnist1d":
        task, snn, ann, config = _mnist1d_task(config, k_init, k_ann)
    else:
        task, snn, ann, config = _digits_task(config, k_init, k_ann)
    n_params = count_parameters(snn)

    snns, histories = _train_pair(snn, task["snn_data"], recipe, k_train, log)
    log(f"training the equal-size MLP ({count_parameters(ann)} parameters)")
    ann, _ = _train_pair(ann, task["ann_data"], recipe, jr.fold_in(k_train, 7), None, plain=False)
    ann = ann["hardware_aware"]

    networks = {}
    for name, net in snns.items():
        networks[name] = _evaluate(net, task["snn_data"], n_chips, k_eval)
    ann_result = _evaluate(ann, task["ann_data"], n_chips, k_eval)
    results = {
        "task": task["name"],
        "times_s": list(DRIFT_TIMES),
        "networks": networks,
        "ann": {"parameters": count_parameters(ann), **ann_result},
        "snn_parameters": n_params,
        "n_chips": n_chips,
        "epochs": recipe["epochs"],
        "finetune_epochs": recipe["finetune_epochs"],
        "recipe": recipe,
        "seed": seed,
        "config": config,
        "data": task["data"],
        "history": histories,
    }
    log(format_drift_table(results))
    # The energy of the hardware-aware network, read a day after programming, on 64 test
    # examples: the per-layer SynOps and firing rates, the array, converter and neuron energy.
    k_prog, k_read, k_energy = jr.split(jr.fold_in(k_eval, 1), 3)
    chip = at_time(program(snns["hardware_aware"], k_prog), 86400.0, k_read)
    energy = estimate_energy(chip, task["snn_data"].x_test[:64], key=k_energy)
    log(str(energy))
    results["energy"] = dict(energy)
    out = Path(out)
    results["seconds"] = time.perf_counter() - start
    atomic_write_json(out / "demo.json", results)
    log(f"written: {out / 'demo.json'}")
    png = plot_drift(results, out / "demo.png")
    if png is not None:
        log(f"written: {png}")
    log(f"(the demo took {results['seconds']:.0f} s)")
    return results


def _mnist1d_task(config, k_init, k_ann):
    """MNIST-1D: the recurrent SNN on sliding windows, the MLP on the whole sequence."""
    config = {**_MNIST1D_DEFAULTS, **(config or {})}
    allowed = {*_CHIP_KEYS, *_MNIST1D_DEFAULTS}
    unknown = set(config) - allowed
    if unknown:
        raise ValueError(
            f"run_demo: unknown config keys {sorted(unknown)} for data='mnist1d'; allowed: "
            f"{sorted(allowed)}."
        )
    tile = chip_tile({k: v for k, v in config.items() if k in _CHIP_KEYS})
    seq = mnist1d(config["steps"], window=config["window"])
    whole = mnist1d(None)
    snn = recurrent_snn(tile, key=k_init, n_in=config["window"], hidden=config["hidden"])
    ann = equal_size_mlp(tile, count_parameters(snn), key=k_ann, n_in=whole.x_train.shape[1])
    task = {
        "name": "mnist1d",
        "snn_data": seq,
        "ann_data": whole,
        "data": {
            "name": f"MNIST-1D (Greydanus and Kobak 2024), {config['steps']} steps of "
            f"{config['window']}-sample windows",
            "train": int(seq.x_train.shape[0]),
            "test": int(seq.x_test.shape[0]),
        },
    }
    return task, snn, ann, config


def _digits_task(config, k_init, k_ann):
    """The 8 x 8 digits, rate-coded for the SNN, as they are for the MLP."""
    config = {**DEFAULT_CONFIG, **(config or {})}
    data = digits()
    snn = build_snn(config, data.x_train.shape[1], data.n_classes, key=k_init)
    ann = equal_size_mlp(
        chip_tile(config), count_parameters(snn), key=k_ann, n_in=data.x_train.shape[1]
    )
    task = {
        "name": "digits",
        "snn_data": data,
        "ann_data": data,
        "data": {
            "name": "sklearn digits 8x8",
            "train": int(data.x_train.shape[0]),
            "test": int(data.x_test.shape[0]),
        },
    }
    return task, snn, ann, config


def _pct(record: dict) -> str:
    """A history record's test accuracy as the commands print accuracies: percent."""
    return f"{100 * record['test_accuracy']:.1f} %"


def _adam(lr: float, epochs: int, n_train: int, batch_size: int = 64):
    """Adam with a cosine decay of the learning rate over the phase's steps."""
    return optax.adam(optax.cosine_decay_schedule(lr, max(1, epochs * (n_train // batch_size))))


def _train_pair(model, data, recipe, key, log, *, plain: bool = True):
    """The hardware-aware network and (with `plain`) the plain one, trained from `model`
    by `recipe`: `({name: network}, {name: history})`."""
    n = data.x_train.shape[0]
    phase = {"progress": False, "log": None}
    names = ("hardware_aware", "plain") if plain else ("hardware_aware",)
    if recipe["finetune_epochs"] == 0:  # from the same start, each its own way
        nets, histories = {}, {}
        for name in names:
            if log:
                log(f"training the {name.replace('_', '-')} network ({recipe['epochs']} epochs)")
            nets[name], histories[name] = train(
                model,
                data,
                key=key,
                epochs=recipe["epochs"],
                hardware_aware=name != "plain",
                learning_rate=recipe["lr"],
                **phase,
            )
            if log:
                log(f"  test accuracy after training: {_pct(histories[name][-1])}")
        return nets, histories
    if log:
        log(f"pre-training plain ({recipe['epochs']} epochs)")
    pre, first = train(
        model,
        data,
        key=key,
        epochs=recipe["epochs"],
        hardware_aware=False,
        optimizer=_adam(recipe["lr"], recipe["epochs"], n),
        **phase,
    )
    if log:
        log(f"  digital test accuracy: {_pct(first[-1])}")
    nets, histories = {}, {}
    for name in names:
        if log:
            log(f"fine-tuning {name.replace('_', '-')} ({recipe['finetune_epochs']} epochs)")
        nets[name], second = train(
            pre,
            data,
            key=jr.fold_in(key, 1),
            epochs=recipe["finetune_epochs"],
            hardware_aware=name != "plain",
            clip_sigma=recipe["clip_sigma"] if name != "plain" else None,
            optimizer=_adam(recipe["finetune_lr"], recipe["finetune_epochs"], n),
            **phase,
        )
        histories[name] = first + second
        if log:
            log(f"  test accuracy after fine-tuning: {_pct(second[-1])}")
    return nets, histories


def _evaluate(net, data, n_chips, key) -> dict:
    """Over the chip's life on `n_chips` chips, and digitally (the ceiling)."""
    r = evaluate_drift(net, data, DRIFT_TIMES, n_chips, key)
    digital = evaluate_drift(as_digital(net), data, [1.0], 1, key)["median"][0]
    keys = ("median", "min", "max", "mean", "std", "accuracy")
    return {"digital": digital, **{k: r[k] for k in keys}}


def plot_drift(results: dict, path: Path) -> Path | None:
    """Accuracy against time since programming, median and min..max over chips, each
    network's digital accuracy dashed; None when matplotlib is not installed."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    t = np.asarray(results["times_s"])
    curves = dict(results["networks"])
    if "ann" in results:
        curves[f"MLP, hardware-aware ({results['ann']['parameters']} parameters)"] = results["ann"]
    for name, r in curves.items():
        med = 100 * np.asarray(r["median"])
        (line,) = ax.plot(t, med, marker="o", label=name.replace("_", "-"))
        ax.fill_between(
            t,
            100 * np.asarray(r["min"]),
            100 * np.asarray(r["max"]),
            alpha=0.2,
            color=line.get_color(),
        )
        if "digital" in r:
            ax.axhline(100 * r["digital"], ls="--", lw=1, color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("time since programming (s); dashed: the same network computed digitally")
    ax.set_ylabel(f"test accuracy (%), median and range of {results['n_chips']} chips")
    task = {"mnist1d": "MNIST-1D, recurrent SNN", "digits": "8x8 digits, SNN"}
    ax.set_title(f"{task.get(results.get('task'), 'SNN')} on PCM crossbars over the chip's life")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=120, bbox_inches="tight")
