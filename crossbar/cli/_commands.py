"""What each `crossbar` command does, given its parsed arguments (the parser is `_cli`)."""

from __future__ import annotations

import time
from pathlib import Path

import jax.random as jr
import numpy as np
import optax

from ..core._chip import at_time, program
from ..data import Dataset, arrays, digits
from ..io._atomic import atomic_write_json
from ..models import DEVICES, build_snn, chip_tile, load_trained
from ..studies._conversion_study import (
    conversion_curve,
    format_conversion,
    plot_conversion,
    train_ann,
)
from ..studies._device_study import device_study, format_study
from ..studies._energy import EnergyModel, estimate_energy
from ..studies._reports import format_drift_table
from ..studies._sweep import sweep
from ..studies._train import evaluate_drift, train
from ._demo import plot_drift


def load_data(spec: str) -> Dataset:
    """`--data`: 'digits', or a .npz file of the arrays x_train, y_train, x_test, y_test (read
    without pickles: an .npz of plain arrays)."""
    if spec == "digits":
        return digits()
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"--data: {spec!r} is neither 'digits' nor an existing .npz file.")
    not_npz = (
        f"--data: {spec!r} is not an .npz file of arrays (numpy.savez(path, x_train=..., "
        "y_train=..., x_test=..., y_test=...))"
    )
    try:
        f = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{not_npz}: {type(e).__name__}.") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise ValueError(f"{not_npz}: it holds one array (an .npy file).")
    with f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise ValueError(f"--data: {spec!r} lacks the arrays {sorted(missing)}.")
        try:
            names = ("x_train", "y_train", "x_test", "y_test")
            x_train, y_train, x_test, y_test = (f[k] for k in names)
        except ValueError:  # an array of Python objects (numpy would need pickles for it)
            raise ValueError(f"{not_npz}: it holds an array of Python objects.") from None
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        if x.ndim < 2 or len(x) < 1:
            raise ValueError(
                f"--data: {spec!r}: {name} must be (N, ...) with N >= 1 examples; got shape "
                f"{x.shape}."
            )
    try:
        return arrays(
            x_train.reshape(len(x_train), -1), y_train, x_test.reshape(len(x_test), -1), y_test
        )
    except ValueError as e:
        raise ValueError(f"--data: {spec!r}: {e}") from None


def provenance(args) -> dict:
    """Where a command's JSON came from: the checkpoint, the data, the seed, the package
    version and the command's arguments."""
    from ._main import _version  # the installed package's version (_main imports this module)

    return {
        "checkpoint": str(getattr(args, "checkpoint", None)),
        "data": getattr(args, "data", None) or "digits",
        "seed": getattr(args, "seed", None),
        "crossbar_jax": _version(),
        "command": args.command,
        "arguments": {k: str(v) for k, v in sorted(vars(args).items()) if k != "func"},
    }


def train_command(args) -> None:
    data = load_data(args.data)
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
        "pairs": args.pairs,
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
        allow_changed=args.allow_changed,
    )
    accuracy = 100 * history[-1]["test_accuracy"]
    print(f"checkpoint: {args.checkpoint} (test accuracy {accuracy:.1f} %)")


def evaluate_command(args) -> None:
    model = load_trained(args.checkpoint)
    data = load_data(args.data)
    result = evaluate_drift(model, data, args.times, args.chips, jr.PRNGKey(args.seed))
    table = {
        "times_s": result["times_s"],
        "n_chips": args.chips,
        "networks": {"checkpoint": result},
    }
    print(format_drift_table(table))
    if args.out is not None:
        written = atomic_write_json(args.out, {**result, "source": provenance(args)})
        png = plot_drift(table, Path(args.out).with_suffix(".png"))
        print(f"written: {written}" + (f", {png}" if png else ""))


def energy_command(args) -> None:
    model = load_trained(args.checkpoint)
    data = load_data(args.data)
    if args.examples < 1:
        raise ValueError(f"--examples must be >= 1; got {args.examples}.")
    k_prog, k_read, k_run = jr.split(jr.PRNGKey(args.seed), 3)
    chip = at_time(program(model, k_prog), args.time, k_read)
    report = estimate_energy(
        chip, data.x_test[: args.examples], key=k_run, model=EnergyModel(adc_fom=args.adc_fom)
    )
    print(report)
    if args.out is not None:
        report["source"] = provenance(args)
        report.to_json(args.out)
        png = report.plot(args.out.with_suffix(".png"))
        print(f"written: {args.out}" + (f", {png}" if png else ""))


def parse_param(spec: str) -> tuple[str, list]:
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


def sweep_command(args) -> None:
    model = load_trained(args.checkpoint)
    data = load_data(args.data)
    grid = dict(parse_param(p) for p in args.param)
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
        acc = [100 * row[f"accuracy_{s}"] for s in ("median", "min", "max")]
        print(
            f"{params}: accuracy {acc[0]:.1f} % [{acc[1]:.1f}, {acc[2]:.1f}], "
            f"output error {row['output_error_median']:.3f}"
        )
    png = result.plot(args.out.with_suffix(".png"))
    print(f"written: {args.out}.csv, {args.out}.json" + (f", {png}" if png else ""))


def convert_command(args) -> None:
    data = load_data(args.data)
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
    print(format_conversion(curve, f"{args.device} @ {args.time:g} s", percent=True))
    print(f"({time.perf_counter() - start:.1f} s)")
    if args.out is not None:
        path = atomic_write_json(args.out, curve)
        png = plot_conversion(curve, args.out.with_suffix(".png"))
        print(f"written: {path}" + (f", {png}" if png else ""))


def run_study(device_name, targets, times, n_devices, seed, out: Path | None) -> dict:
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
