"""The `crossbar` command line: `demo`, `train`, `evaluate`, `energy`, `sweep`, `convert`,
`device-study`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax.random as jr
import numpy as np
import optax

from ._checkpoint import checkpoint_meta, load_checkpoint
from ._chip import at_time, program
from ._convert import conversion_curve, format_conversion, train_ann
from ._demo import (
    DEFAULT_CONFIG,
    DEMO_DRIFT_TIMES,
    DEVICES,
    build_snn,
    chip_tile,
    format_drift_table,
    run_demo,
)
from ._device_study import DEMO_TIMES, device_study, format_study
from ._energy import EnergyModel, estimate_energy
from ._io import atomic_write_json
from ._sweep import sweep
from ._train import evaluate_drift, train
from .data import Dataset, arrays, digits


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers; got {text!r}")


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers; got {text!r}")


def _run_study(device_name, targets, times, n_devices, seed, out: Path | None) -> dict:
    device = DEVICES[device_name]()
    if targets is None:
        targets = [device.g_max * f for f in (0.1, 0.2, 0.4, 0.6, 0.8, 1.0)]
    start = time.perf_counter()
    study = device_study(device, targets, times, n_devices=n_devices, key=jr.PRNGKey(seed))
    study["seed"] = seed
    print(format_study(study))
    print(f"({time.perf_counter() - start:.1f} s)")
    if out is not None:
        path = atomic_write_json(out, study)
        print(f"written: {path}")
    return study


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crossbar",
        description="crossbar-jax: a memristor-crossbar in-memory-computing emulator in JAX.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="the main job: an SNN trained hardware-aware on PCM, beside a plain one, over a year",
        description="Train a 64-128-10 spiking network (rate-coded digits, T=8) on PCM crossbars "
        "(8-bit DAC and ADC, output noise 0.04), hardware-aware and plain from the same start; "
        "evaluate both 1 s, 1 h, 1 day, 1 month and 1 year after programming on N chips; print "
        "the table and write OUT/demo.json and OUT/demo.png.",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("results"), help="output folder (default: results)"
    )
    demo.add_argument(
        "--epochs", type=int, default=40, help="training epochs per network (default: 40)"
    )
    demo.add_argument("--chips", type=int, default=10, help="Monte-Carlo chips (default: 10)")
    demo.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")

    tr = sub.add_parser(
        "train",
        help="train a spiking network on crossbars and write a checkpoint",
        description="Train AnalogLinear -> LIF -> AnalogLinear on a data set, hardware-aware "
        "(a fresh chip per step) or plain, checkpointing atomically after every epoch and "
        "resuming from an existing checkpoint.",
    )
    _data_argument(tr)
    _checkpoint_argument(tr, "checkpoint file, written after every epoch")
    tr.add_argument(
        "--no-resume", action="store_true", help="start afresh even if the checkpoint exists"
    )
    tr.add_argument(
        "--plain", action="store_true", help="train without hardware awareness (digital)"
    )
    tr.add_argument("--epochs", type=int, default=40, help="epochs (default: 40)")
    tr.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    tr.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default: 0.002)")
    tr.add_argument(
        "--clip-sigma",
        type=float,
        default=None,
        help="clip weights to this many standard deviations after each step",
    )
    tr.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    tr.add_argument(
        "--hidden",
        type=int,
        default=DEFAULT_CONFIG["hidden"],
        help="hidden LIF neurons (default: 128)",
    )
    tr.add_argument(
        "--steps", type=int, default=DEFAULT_CONFIG["steps"], help="time steps T (default: 8)"
    )
    tr.add_argument(
        "--beta",
        type=float,
        default=DEFAULT_CONFIG["beta"],
        help="LIF decay per step (default: 0.9)",
    )
    tr.add_argument(
        "--encoder",
        choices=["rate", "latency", "direct"],
        default="rate",
        help="input coding (default: rate)",
    )
    tr.add_argument(
        "--device", choices=sorted(DEVICES), default="pcm", help="device model (default: pcm)"
    )
    tr.add_argument("--dac-bits", type=int, default=8, help="DAC bits (default: 8)")
    tr.add_argument("--adc-bits", type=int, default=8, help="ADC bits (default: 8)")
    tr.add_argument(
        "--adc-bound", type=float, default=10.0, help="ADC bound in tile units (default: 10)"
    )
    tr.add_argument(
        "--out-noise", type=float, default=0.04, help="output noise, tile units (default: 0.04)"
    )
    tr.add_argument(
        "--train-time",
        type=_floats,
        default=[1.0, 365 * 86400.0],
        help="t_min,t_max seconds: each step reads its chip at a time drawn log-uniformly "
        "in this range (default: 1,31536000)",
    )

    ev = sub.add_parser(
        "evaluate",
        help="evaluate a checkpoint over time since programming on many chips",
        description="Program N chips with a trained checkpoint, read each at every time, and "
        "report test accuracy (median, min, max over chips) per time.",
    )
    _checkpoint_argument(ev, "checkpoint written by `crossbar train`")
    _data_argument(ev)
    ev.add_argument(
        "--times",
        type=_floats,
        default=list(DEMO_DRIFT_TIMES),
        help="comma-separated seconds since programming "
        "(default: 1 s, 1 h, 1 day, 1 month, 1 year)",
    )
    ev.add_argument("--chips", type=int, default=10, help="Monte-Carlo chips (default: 10)")
    ev.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    ev.add_argument("--out", type=Path, default=None, help="write the results as JSON to this file")

    en = sub.add_parser(
        "energy",
        help="energy, SynOps and latency per inference of a checkpoint on a programmed chip",
        description="Program a chip with a checkpoint from `crossbar train`, read it T seconds "
        "later, run N test examples through it and count energy per inference by layer and "
        "component (array, DAC, ADC, neurons), SynOps, firing rates, MACs and latency, beside "
        "digital (fp32, int8, int4) and neuromorphic (TrueNorth, Loihi) baselines.",
    )
    _checkpoint_argument(en, "checkpoint written by `crossbar train`")
    _data_argument(en)
    en.add_argument(
        "--time",
        type=float,
        default=86400.0,
        help="seconds since programming when the chip is read (default: 86400)",
    )
    en.add_argument("--examples", type=int, default=64, help="test examples counted (default: 64)")
    en.add_argument(
        "--adc-fom",
        type=float,
        default=5e-15,
        help="ADC Walden figure of merit, J per conversion step (default: 5e-15)",
    )
    en.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    en.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the report as JSON to this file (and a bar chart beside it, .png)",
    )

    sw = sub.add_parser(
        "sweep",
        help="accuracy and output error of a checkpoint over a grid of tile/device parameters",
        description="Program many chips with a checkpoint from `crossbar train` at every point "
        "of a grid of parameters (--param name=v1,v2,... repeated; names: t, r_wire, "
        "stuck_fraction, tile.<field>, dac.<field>, adc.<field>, device.<field>) and write "
        "OUT.csv, OUT.json (after every point; rerun to resume) and OUT.png.",
    )
    _checkpoint_argument(sw, "checkpoint written by `crossbar train`")
    _data_argument(sw)
    sw.add_argument(
        "--param",
        action="append",
        required=True,
        metavar="NAME=V1,V2,...",
        help="a swept parameter and its values (repeat for a grid)",
    )
    sw.add_argument("--chips", type=int, default=8, help="Monte-Carlo chips per point (default: 8)")
    sw.add_argument(
        "--time", type=float, default=86400.0, help="read time when t is not swept (default: 86400)"
    )
    sw.add_argument("--examples", type=int, default=None, help="test examples (default: all)")
    sw.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    sw.add_argument(
        "--out", type=Path, required=True, help="output stem: OUT.csv, OUT.json, OUT.png"
    )

    cv = sub.add_parser(
        "convert",
        help="train a ReLU network, convert it to a spiking one, accuracy against time steps",
        description="Train an ordinary ReLU MLP, convert it to integrate-and-fire neurons on "
        "crossbars (weights and thresholds normalised by activation percentiles, reset by "
        "subtraction, direct input coding) and report test accuracy against the number of time "
        "steps for the ANN, the SNN on ideal devices and the SNN on DEVICE read TIME seconds "
        "after programming (mean over CHIPS chips; the demo's 8-bit converters).",
    )
    _data_argument(cv)
    cv.add_argument("--hidden", type=int, default=128, help="hidden width (default: 128)")
    cv.add_argument("--layers", type=int, default=2, help="hidden layers (default: 2)")
    cv.add_argument("--epochs", type=int, default=40, help="ANN training epochs (default: 40)")
    cv.add_argument(
        "--steps",
        type=_ints,
        default=[4, 8, 16, 32, 64, 128],
        help="comma-separated time steps (default: 4,8,16,32,64,128)",
    )
    cv.add_argument(
        "--device", choices=sorted(DEVICES), default="pcm", help="device model (default: pcm)"
    )
    cv.add_argument(
        "--time", type=float, default=86400.0, help="seconds since programming (default: 86400)"
    )
    cv.add_argument("--chips", type=int, default=5, help="Monte-Carlo chips (default: 5)")
    cv.add_argument(
        "--percentile",
        type=float,
        default=99.9,
        help="activation percentile for the normalisation (default: 99.9)",
    )
    cv.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    cv.add_argument(
        "--out", type=Path, default=None, help="write the curve as JSON (and a .png beside it)"
    )

    study = sub.add_parser(
        "device-study",
        help="program many devices of one model and read them at chosen times",
        description="Program N devices to each target conductance and read them at each time.",
    )
    study.add_argument(
        "--device", choices=sorted(DEVICES), default="pcm", help="device model (default: pcm)"
    )
    study.add_argument(
        "--targets",
        type=_floats,
        default=None,
        help="comma-separated target conductances in uS (default: 10%%..100%% of g_max)",
    )
    study.add_argument(
        "--times",
        type=_floats,
        default=list(DEMO_TIMES),
        help="comma-separated read times in seconds since programming "
        "(default: 1,3600,86400,31536000)",
    )
    study.add_argument(
        "--n-devices", type=int, default=10_000, help="devices per target (default: 10000)"
    )
    study.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    study.add_argument(
        "--out", type=Path, default=None, help="write the study as JSON to this file"
    )
    return parser


def _checkpoint_argument(parser, what: str) -> None:
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("results/model.ckpt"),
        help=f"{what} (default: results/model.ckpt)",
    )


def _data_argument(parser) -> None:
    parser.add_argument(
        "--data",
        default="digits",
        help="'digits' (scikit-learn's bundled 8x8 digits, no download) or a .npz file with "
        "x_train, y_train, x_test, y_test (default: digits)",
    )


def _load_data(spec: str) -> Dataset:
    if spec == "digits":
        return digits()
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"--data: {spec!r} is neither 'digits' nor an existing .npz file.")
    with np.load(path) as f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise ValueError(f"--data: {spec!r} lacks the arrays {sorted(missing)}.")
        x_train, x_test = f["x_train"], f["x_test"]
        return arrays(
            x_train.reshape(len(x_train), -1),
            f["y_train"],
            x_test.reshape(len(x_test), -1),
            f["y_test"],
        )


def _train(args) -> None:
    data = _load_data(args.data)
    config = {
        "hidden": args.hidden,
        "steps": args.steps,
        "beta": args.beta,
        "encoder": args.encoder,
        "device": args.device,
        "dac_bits": args.dac_bits,
        "adc_bits": args.adc_bits,
        "adc_bound": args.adc_bound,
        "out_noise": args.out_noise,
        "train_time": args.train_time,
    }
    n_in, n_out = data.x_train.shape[1], data.n_classes
    model = build_snn(config, n_in, n_out, key=jr.PRNGKey(args.seed))
    meta = {"config": config, "n_in": n_in, "n_out": n_out, "lr": args.lr, "data": args.data}
    _, history = train(
        model,
        data,
        key=jr.fold_in(jr.PRNGKey(args.seed), 1),
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=optax.adam(args.lr),
        hardware_aware=not args.plain,
        clip_sigma=args.clip_sigma,
        checkpoint=args.checkpoint,
        resume=not args.no_resume,
        meta=meta,
    )
    print(f"checkpoint: {args.checkpoint} (test accuracy {history[-1]['test_accuracy']:.3f})")


def _load_trained(path):
    meta = checkpoint_meta(path)
    if "config" not in meta:
        raise ValueError(f"{path}: not written by `crossbar train` (no network config).")
    model = build_snn(meta["config"], meta["n_in"], meta["n_out"], key=jr.PRNGKey(0))
    like = (model, optax.adam(meta["lr"]).init(eqx.filter(model, eqx.is_inexact_array)))
    (model, _), _ = load_checkpoint(path, like)
    return model


def _energy(args) -> None:
    model = _load_trained(args.checkpoint)
    data = _load_data(args.data)
    if args.examples < 1:
        raise ValueError(f"--examples must be >= 1; got {args.examples}.")
    k_prog, k_read, k_run = jr.split(jr.PRNGKey(args.seed), 3)
    chip = at_time(program(model, k_prog), args.time, k_read)
    report = estimate_energy(
        chip, data.x_test[: args.examples], key=k_run, model=EnergyModel(adc_fom=args.adc_fom)
    )
    print(report)
    if args.out is not None:
        report.to_json(args.out)
        png = report.plot(args.out.with_suffix(".png"))
        print(f"written: {args.out}" + (f", {png}" if png else ""))


def _evaluate(args) -> None:
    model = _load_trained(args.checkpoint)
    data = _load_data(args.data)
    result = evaluate_drift(model, data, args.times, args.chips, jr.PRNGKey(args.seed))
    print(format_drift_table({"times_s": result["times_s"], "networks": {"checkpoint": result}}))
    if args.out is not None:
        print(f"written: {atomic_write_json(args.out, result)}")


def _param(spec: str) -> tuple[str, list]:
    name, sep, values = spec.partition("=")
    if not sep or not name or not values:
        raise ValueError(f"--param must be NAME=V1,V2,...; got {spec!r}.")
    out = []
    for v in values.split(","):
        try:
            number = float(v)
            out.append(
                int(number) if number.is_integer() and "." not in v and "e" not in v else number
            )
        except ValueError:
            out.append({"true": True, "false": False, "none": None}.get(v.lower(), v))
    return name, out


def _sweep(args) -> None:
    model = _load_trained(args.checkpoint)
    data = _load_data(args.data)
    grid = dict(_param(p) for p in args.param)
    result = sweep(
        model,
        data,
        grid,
        key=jr.PRNGKey(args.seed),
        n_chips=args.chips,
        t=args.time,
        n_test=args.examples,
        path=args.out,
    )
    for row in result:
        params = ", ".join(f"{n}={row[n]}" for n in result.params)
        print(
            f"{params}: accuracy {row['accuracy_median']:.3f} "
            f"[{row['accuracy_min']:.3f}, {row['accuracy_max']:.3f}], "
            f"output error {row['output_error_median']:.3f}"
        )
    png = result.plot(args.out.with_suffix(".png"))
    print(f"written: {args.out}.csv, {args.out}.json" + (f", {png}" if png else ""))


def _convert(args) -> None:
    data = _load_data(args.data)
    k_ann, k_curve = jr.split(jr.PRNGKey(args.seed))
    start = time.perf_counter()
    ann = train_ann(data, (args.hidden,) * args.layers, key=k_ann, epochs=args.epochs)
    tile = chip_tile({"device": args.device})
    curve = conversion_curve(
        ann,
        data,
        args.steps,
        tile=tile,
        t=args.time,
        n_chips=args.chips,
        percentile=args.percentile,
        key=k_curve,
    )
    curve.update(device=args.device, seed=args.seed, hidden=[args.hidden] * args.layers)
    print(format_conversion(curve, f"{args.device} @ {args.time:g} s"))
    print(f"({time.perf_counter() - start:.1f} s)")
    if args.out is not None:
        path = atomic_write_json(args.out, curve)
        png = _plot_curve(curve, args.out.with_suffix(".png"))
        print(f"written: {path}" + (f", {png}" if png else ""))


def _plot_curve(curve: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.axhline(curve["ann"], color="k", ls="--", label="ANN")
    ax.plot(curve["steps"], curve["snn_ideal"], "o-", label="SNN, ideal devices")
    ax.plot(curve["steps"], curve["snn_device"], "s-", label=f"SNN, {curve['device']}")
    ax.set(xscale="log", xlabel="time steps", ylabel="test accuracy")
    ax.set_xticks(curve["steps"], [str(s) for s in curve["steps"]])
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            run_demo(args.out, epochs=args.epochs, n_chips=args.chips, seed=args.seed)
        elif args.command == "train":
            _train(args)
        elif args.command == "evaluate":
            _evaluate(args)
        elif args.command == "energy":
            _energy(args)
        elif args.command == "sweep":
            _sweep(args)
        elif args.command == "convert":
            _convert(args)
        elif args.command == "device-study":
            _run_study(args.device, args.targets, args.times, args.n_devices, args.seed, args.out)
    except (ValueError, FileNotFoundError) as e:
        print(f"crossbar: error: {e}", file=sys.stderr)
        return 2
    return 0
