"""The `crossbar` command line: `crossbar demo`, `crossbar device-study`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax.random as jr

import devices

from ._device_study import DEMO_TIMES, device_study, format_study
from ._io import atomic_write_json

#: Device models by the names the command line accepts.
DEVICES: dict[str, Callable[[], devices.AbstractDevice]] = {
    "ideal": devices.Ideal,
    "pcm": devices.PCM,
    "pcm-hermes": devices.PCM.hermes,
    "rram-cmo": devices.RRAMCMO,
    "rram-wan2022": devices.RRAMWan2022,
    "rram-milo2021": devices.RRAMMilo2021,
}


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
        help="the main job: a device study of PCM read at 1 s, 1 h, 1 day and 1 year",
        description="Program 10,000 PCM devices (Nandakumar/Joshi model, aihwkit constants) to "
        "each of six targets and read them 1 s, 1 hour, 1 day and 1 year later: mean, spread "
        "and mean/target of the read conductances. Writes OUT/device_study.json.",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("results"), help="output folder (default: results)"
    )
    demo.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    demo.add_argument(
        "--n-devices", type=int, default=10_000, help="devices per target (default: 10000)"
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            _run_study(
                "pcm",
                None,
                list(DEMO_TIMES),
                args.n_devices,
                args.seed,
                args.out / "device_study.json",
            )
        elif args.command == "device-study":
            _run_study(args.device, args.targets, args.times, args.n_devices, args.seed, args.out)
    except ValueError as e:
        print(f"crossbar: error: {e}", file=sys.stderr)
        return 2
    return 0
