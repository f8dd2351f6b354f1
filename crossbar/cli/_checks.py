"""The command line's flags checked before any work: each bad value a usage error that names
the flag, the value and what is allowed (`crossbar._cli.main` prints it, exit code 2)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..core._mapping import MAX_PAIRS

#: Integer flags and their least values (the flag's `dest`).
_AT_LEAST = {
    "epochs": 1,
    "finetune_epochs": 0,
    "chips": 1,
    "batch_size": 1,
    "hidden": 1,
    "steps": 1,
    "layers": 1,
    "examples": 1,
    "n_devices": 2,
    "seed": 0,
}
#: Number flags: (the least value, whether it is allowed itself, the greatest or None).
_RANGES = {
    "lr": (0.0, False, None),
    "clip_sigma": (0.0, False, None),
    "beta": (0.0, True, 1.0),
    "adc_bound": (0.0, False, None),
    "out_noise": (0.0, True, None),
    "time": (0.0, True, None),
    "adc_fom": (0.0, False, None),
    "percentile": (0.0, False, 100.0),
}
#: Flags that name a file the command writes (or, for the demo, a folder).
_OUTPUTS = {"demo": "out", "train": "checkpoint"}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


class _UsageError(ValueError):
    """A bad flag: `main` prints it and returns 2."""


def _fail(message: str):
    raise _UsageError(message)


def check_args(args: argparse.Namespace) -> None:
    """Every flag checked before any work: a usage error (exit code 2) that names the flag,
    the value and what is allowed."""
    fail = _fail
    if args.command == "demo" and args.data == "digits" and args.finetune_epochs:
        fail(f"--finetune-epochs applies to --data mnist1d only; got {args.finetune_epochs}.")
    for dest, least in _AT_LEAST.items():
        value = getattr(args, dest, None)
        if isinstance(value, int) and value < least:
            fail(f"{_flag(dest)} must be an integer >= {least}; got {value}.")
    for dest, (low, closed, high) in _RANGES.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        ok = math.isfinite(value) and (value >= low if closed else value > low)
        if not ok or (high is not None and value > high):
            allowed = f"{'>=' if closed else '>'} {low:g}" + (
                f" and <= {high:g}" if high is not None else ""
            )
            fail(f"{_flag(dest)} must be a finite number {allowed}; got {value}.")
    for dest in ("dac_bits", "adc_bits"):
        value = getattr(args, dest, None)
        if value is not None and not 1 <= value <= 24:
            fail(f"{_flag(dest)} must be an integer from 1 to 24; got {value}.")
    pairs = getattr(args, "pairs", None)
    if pairs is not None and not 1 <= pairs <= MAX_PAIRS:
        fail(f"--pairs must be an integer from 1 to {MAX_PAIRS}; got {pairs}.")
    if args.command == "train":
        tt = args.train_time
        if len(tt) != 2 or not all(math.isfinite(v) for v in tt) or not 0 <= tt[0] <= tt[1]:
            fail(f"--train-time must be T_MIN,T_MAX with 0 < T_MIN <= T_MAX seconds; got {tt}.")
        if tt[0] == 0 < tt[1]:
            fail(
                "--train-time: T_MIN must be > 0 (each step's time is drawn log-uniformly "
                f"between T_MIN and T_MAX), or equal to T_MAX for one fixed time; got {tt}."
            )
    for dest, what in (("times", "read times in seconds"), ("targets", "conductances in uS")):
        values = getattr(args, dest, None)
        if values is None:
            continue
        if not values or not all(math.isfinite(v) and v >= 0 for v in values):
            fail(f"{_flag(dest)} must be comma-separated {what}, finite and >= 0; got {values}.")
    if args.command == "convert" and not all(v >= 1 for v in args.steps):
        fail(f"--steps must be comma-separated integers >= 1; got {args.steps}.")
    if args.command in ("evaluate", "energy", "sweep") and not args.checkpoint.is_file():
        what = "is not a file" if args.checkpoint.exists() else "does not exist"
        fail(f"--checkpoint: {args.checkpoint} {what} (write one with `crossbar train`).")
    data = getattr(args, "data", None)  # the demo's --data is a choice argparse checked
    if args.command != "demo" and data not in (None, "digits") and not Path(data).is_file():
        fail(f"--data: {data!r} is neither 'digits' nor an existing .npz file.")
    dest = _OUTPUTS.get(args.command, "out")
    path = getattr(args, dest, None)
    if path is not None:
        if args.command == "sweep":  # a stem: OUT.csv, OUT.json, OUT.png
            targets = [path.with_name(path.name + ".csv")]
        else:
            targets = [path]
        for target in targets:
            problem = _unwritable(target, folder=args.command == "demo")
            if problem:
                fail(f"{_flag(dest)}: cannot write {target}: {problem}.")


def _unwritable(path: Path, folder: bool) -> str | None:
    """Why `path` (a file, or a folder when `folder`) cannot be written, or None."""
    if folder:
        if path.exists() and not path.is_dir():
            return "it is a file, not a folder"
    elif path.is_dir():
        return "it is a folder"
    parent = path if folder else path.parent
    while not parent.exists():  # the nearest existing folder above it is made into
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{parent} is not writable"
    if path.exists() and not os.access(path, os.W_OK):
        return "it is read-only"
    return None
