"""Pulsed updates: k pulses on every cell of a `size x size` array, ours against aihwkit.

Both apply `k` SET pulses to every cell of a soft-bounds array with aihwkit's default spread
(30 % device-to-device) and 30 % pulse-to-pulse noise, one pulse after another: ours with
`devices.SoftBounds.update` (jitted), aihwkit 1.1 with its C++ `AnalogTile.update` on an
all-ones rank-1 update with deterministic pulse trains of length `k` (`DETERMINISTIC_IMPLICIT`,
`desired_bl = k`, no update management), the same k coincidences per cell. Prints the times
and their ratio, measured side by side (nothing asserted; machines are shared and noisy).
aihwkit's C++ tile needs torch 2.10 (`pip install torch==2.10.0` then `pip install --no-deps
aihwkit==1.1.0`); without it only our time is printed.

    python benchmarks/bench_pulsed.py [--size 512] [--pulses 31] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from _timing import best_of

import devices


def aihwkit_time(size: int, pulses: int, repeats: int) -> float | None:
    try:
        import torch
        from aihwkit.simulator.configs import SingleRPUConfig
        from aihwkit.simulator.configs.devices import SoftBoundsDevice
        from aihwkit.simulator.parameters.enums import PulseType
        from aihwkit.simulator.tiles import AnalogTile
    except ImportError:
        return None
    dev = SoftBoundsDevice(dw_min=0.01, w_min=-1.0, w_max=1.0)
    cfg = SingleRPUConfig(device=dev)
    cfg.update.pulse_type = PulseType.DETERMINISTIC_IMPLICIT
    cfg.update.desired_bl = pulses
    cfg.update.update_bl_management = False
    cfg.update.update_management = False
    tile = AnalogTile(size, size, cfg)
    tile.set_learning_rate(dev.dw_min * pulses)
    try:
        tile.set_weights(torch.zeros(size, size))
    except RuntimeError:  # the C++ tile breaks with torch > 2.10
        return None
    x, d = torch.ones(1, size), -torch.ones(1, size)
    tile.update(x, d)
    times = []
    for _ in range(repeats):
        tile.set_weights(torch.zeros(size, size))
        start = time.perf_counter()
        tile.update(x, d)
        times.append(time.perf_counter() - start)
    return float(np.min(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--pulses", type=int, default=31)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    dev = devices.SoftBounds(g_min=0.0, g_max=2.0, dg_min=0.01)
    state = dev.program(jr.PRNGKey(0), jnp.full((args.size, args.size), 1.0))
    n = jnp.full((args.size, args.size), args.pulses, jnp.int32)
    update = eqx.filter_jit(dev.update)
    ours = best_of(lambda: update(state, n, jr.PRNGKey(1)).g, args.repeats)
    moved = float(update(state, n, jr.PRNGKey(1)).g.mean() - 1.0)
    print(
        f"{args.size} x {args.size} cells, {args.pulses} pulses each (mean change {moved:.3f} uS)"
    )
    print(f"ours (JAX, jit): {ours * 1e3:.2f} ms")
    theirs = aihwkit_time(args.size, args.pulses, args.repeats)
    if theirs is None:
        print("aihwkit: not installed or its C++ tile does not run with this torch")
    else:
        print(f"aihwkit (C++ tile): {theirs * 1e3:.2f} ms; aihwkit / ours = {theirs / ours:.2f}")


if __name__ == "__main__":
    main()
