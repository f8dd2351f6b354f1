"""The `crossbar` command line: `demo`, `train`, `evaluate`, `energy`, `sweep`, `convert`,
`device-study`. The parser and the dispatch; what each command does is in `_commands`."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx

from ..models import DEFAULT_CONFIG, DEVICES
from ..studies._device_study import STUDY_TIMES
from ..studies._reports import DRIFT_TIMES
from ._checks import check_args
from ._commands import (
    convert_command,
    energy_command,
    evaluate_command,
    run_study,
    sweep_command,
    train_command,
)
from ._demo import run_demo


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


def _version() -> str:
    try:
        return importlib.metadata.version("crossbar-jax")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crossbar",
        description="crossbar-jax: a memristor-crossbar in-memory-computing emulator in JAX.",
    )
    parser.add_argument("--version", action="version", version=f"crossbar-jax {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="the main job: an SNN trained hardware-aware on PCM, beside a plain one and an "
        "equal-size MLP, over a year",
        description="The main job. --data mnist1d (default): a recurrent spiking network "
        "(8-sample windows of MNIST-1D over 40 steps, 8-128-10, recurrent weights on the chip "
        "too) on PCM crossbars (8-bit DAC and ADC, output noise 0.04, four differential pairs "
        "per weight: --pairs), pre-trained plain, "
        "then fine-tuned hardware-aware beside a copy fine-tuned plain; --data digits: the "
        "rate-coded 64-128-10 SNN on 8x8 digits, hardware-aware and plain from the same "
        "start. Beside them a non-spiking MLP of equal parameter count trained hardware-aware. "
        "Every network is evaluated digitally (the ceiling) and 1 s, 1 h, 1 day, 1 month and 1 "
        "year after programming on N chips; prints the table and the energy report, writes "
        "OUT/demo.json and OUT/demo.png.",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("results"), help="output folder (default: results)"
    )
    demo.add_argument(
        "--data",
        choices=("mnist1d", "digits"),
        default="mnist1d",
        help="the task: mnist1d (temporal; needs the mnist1d package, in the demo extra) or "
        "digits (default: mnist1d)",
    )
    demo.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (mnist1d: of the plain pre-training, default 60; digits: per "
        "network, default 40)",
    )
    demo.add_argument(
        "--finetune-epochs",
        type=int,
        default=None,
        help="mnist1d: epochs of fine-tuning, hardware-aware and plain (default: 40)",
    )
    demo.add_argument(
        "--pairs",
        type=int,
        default=None,
        help="differential PCM pairs per weight (a multi-memristive synapse; default: 4 on "
        "mnist1d, 1 on digits)",
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
        "--allow-changed",
        action="store_true",
        help="resume a checkpoint written with other settings (--lr, --plain, ...) under the "
        "new ones (without it, such a checkpoint is refused)",
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
        "--pairs",
        type=int,
        default=DEFAULT_CONFIG["pairs"],
        help="differential PCM pairs per weight, their currents summed on the column (a "
        "multi-memristive synapse: device errors average down by sqrt(N); default: 1)",
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
        "report test accuracy per time: the percent of the test examples classified correctly, "
        "the median [min, max] over the chips. --out writes every chip's accuracy (fractions) "
        "as JSON with where it came from (checkpoint, data, seed, version, arguments) and a "
        "plot beside it (.png, with matplotlib).",
    )
    _checkpoint_argument(ev, "checkpoint written by `crossbar train`")
    _data_argument(ev)
    ev.add_argument(
        "--times",
        type=_floats,
        default=list(DRIFT_TIMES),
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
        "OUT.csv, OUT.json (after every point; rerun to resume) and OUT.png. Per point: "
        "accuracy, the fraction of the test examples classified correctly (median, min, max, "
        "mean, std over the chips, and every chip's), and output_error, the RMS of the chip's "
        "outputs minus the digital network's over the RMS of the digital outputs.",
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
        default=list(STUDY_TIMES),
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_args(args)
        if args.command == "demo":
            run_demo(
                args.out,
                data=args.data,
                epochs=args.epochs,
                finetune_epochs=args.finetune_epochs,
                n_chips=args.chips,
                seed=args.seed,
                config=None if args.pairs is None else {"pairs": args.pairs},
            )
        elif args.command == "train":
            train_command(args)
        elif args.command == "evaluate":
            evaluate_command(args)
        elif args.command == "energy":
            energy_command(args)
        elif args.command == "sweep":
            sweep_command(args)
        elif args.command == "convert":
            convert_command(args)
        elif args.command == "device-study":
            run_study(args.device, args.targets, args.times, args.n_devices, args.seed, args.out)
    except (ValueError, FileNotFoundError) as e:
        print(f"crossbar: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the file system refused: the message names the path
        print(f"crossbar: error: {e}", file=sys.stderr)
        return 1
    except eqx.EquinoxRuntimeError as e:  # a check of a traced value: its message only
        print(f"crossbar: error: {_first_message(e)}", file=sys.stderr)
        return 2
    return 0


def _first_message(error: Exception) -> str:
    """The message an `eqx.error_if` check gave, without Equinox's advice lines."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if not line.lower().startswith(("the above", "-----", "equinox", "note")):
            return line
    return lines[0] if lines else type(error).__name__
