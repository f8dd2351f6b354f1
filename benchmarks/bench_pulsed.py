"""Pulsed updates: k pulses on every cell of a `size x size` array, ours against aihwkit.

Both apply `k` SET pulses to every cell of a soft-bounds array with aihwkit's default spread
(30 % device-to-device) and 30 % pulse-to-pulse noise, one pulse after another: ours with
`devices.SoftBounds.update` (jitted), aihwkit 1.1 with its C++ `AnalogTile.update` on an
all-ones rank-1 update with deterministic pulse trains of length `k` (`DETERMINISTIC_IMPLICIT`,
`desired_bl = k`, no update management), the same k coincidences per cell. Prints the times
and their ratio, measured side by side in one run, the two alternated in rounds, medians
(nothing asserted; machines are shared and noisy). aihwkit's timed call resets its weights
(`set_weights`, one copy of the array) and then updates, so every call starts from the same
state, as ours does.
aihwkit's C++ tile needs torch 2.10 (`pip install torch==2.10.0` then `pip install --no-deps
aihwkit==1.1.0`); without it only our time is printed.

    python benchmarks/bench_pulsed.py [--size 512] [--pulses 31] [--rounds 5]
"""

from __future__ import annotations

import argparse

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from _timing import alternated

import devices


def aihwkit_update(size: int, pulses: int):
    """A function of no arguments: one aihwkit update from zero weights (the reset
    included), or None without aihwkit's C++ tile."""
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

    def update():
        tile.set_weights(torch.zeros(size, size))
        return tile.update(x, d)

    return update


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--pulses", type=int, default=31)
    ap.add_argument("--rounds", "--repeats", dest="rounds", type=int, default=5)
    args = ap.parse_args()
    dev = devices.SoftBounds(g_min=0.0, g_max=2.0, dg_min=0.01)
    state = dev.program(jr.PRNGKey(0), jnp.full((args.size, args.size), 1.0))
    n = jnp.full((args.size, args.size), args.pulses, jnp.int32)
    update = eqx.filter_jit(dev.update)
    moved = float(update(state, n, jr.PRNGKey(1)).g.mean() - 1.0)
    print(
        f"{args.size} x {args.size} cells, {args.pulses} pulses each (mean change {moved:.3f} uS)"
    )
    contenders = {"ours": lambda: update(state, n, jr.PRNGKey(1)).g}
    theirs = aihwkit_update(args.size, args.pulses)
    if theirs is not None:
        contenders["theirs"] = theirs
    times, ratios = alternated(contenders, args.rounds)
    print(f"ours (JAX, jit): {times['ours'] * 1e3:.2f} ms")
    if theirs is None:
        print("aihwkit: not installed or its C++ tile does not run with this torch")
    else:
        print(
            f"aihwkit (C++ tile, with its weight reset): {times['theirs'] * 1e3:.2f} ms; "
            f"aihwkit / ours = {ratios['theirs']:.2f}"
        )


if __name__ == "__main__":
    main()
