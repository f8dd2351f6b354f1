"""The exact IR-drop forward against the ideal forward, and many chips under vmap.

One `size x size` AnalogLinear on one tile (differential PCM pairs, read at 1 hour, 8-bit
DAC and ADC), batch 64, all jitted. Prints ratios measured side by side in one run, the
contenders alternated in rounds, medians (nothing is asserted; the machines are shared and
noisy):

- time of the forward with exact IR drop (1 ohm wires) / the same forward with ideal wires,
  for 256 x 256 and 512 x 512 (the exact solve is a few conjugate-gradient iterations, each a
  pass over the grid and a tridiagonal solve of every row and column wire);
- the same with aihwkit's approximation / ideal;
- 64 chips under `jax.vmap` / 64 chips one after another, each chip read and run with exact
  IR drop on a batch of 8 (target <= 0.5);
- the largest disagreement of `solve_ir_drop` with badcrossbar's nodal solve, when installed.

    python benchmarks/bench_ir_drop.py [--sizes 256,512] [--batch 64] [--rounds 5]
"""

from __future__ import annotations

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from _timing import alternated

import crossbar
import devices


def layer(size: int, ir_drop) -> crossbar.AnalogLinear:
    tile = crossbar.Tile(
        device=devices.PCM(),
        dac=crossbar.DAC(bits=8),
        adc=crossbar.ADC(bits=8, bound=20.0),
        rows=size,
        cols=size,
        ir_drop=ir_drop,
    )
    return crossbar.AnalogLinear(size, size, tile=tile, key=jr.PRNGKey(0))


def forward(size: int, batch: int, ir_drop):
    """A function of no arguments: the jitted forward of a read chip on a batch."""
    chip = crossbar.at_time(
        crossbar.program(layer(size, ir_drop), jr.PRNGKey(1)), 3600.0, jr.PRNGKey(2)
    )
    x = jr.uniform(jr.PRNGKey(3), (batch, size))
    f = eqx.filter_jit(lambda c, x: jax.vmap(c)(x))
    return lambda: f(chip, x)


def chips_ratio(size: int, n_chips: int, batch: int, rounds: int) -> float:
    net = crossbar.program(layer(size, crossbar.IRDrop(r_wire=1.0)), jr.PRNGKey(1))
    x = jr.uniform(jr.PRNGKey(3), (batch, size))

    def one(k):
        return jax.vmap(crossbar.at_time(net, 3600.0, k))(x)

    keys = jr.split(jr.PRNGKey(4), n_chips)
    many = eqx.filter_jit(lambda keys: jax.vmap(one)(keys))
    single = eqx.filter_jit(one)
    _, ratios = alternated(
        {"loop": lambda: [single(k) for k in keys], "vmap": lambda: many(keys)}, rounds, reps=1
    )
    return ratios["vmap"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="256,512")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--chips", type=int, default=64)
    p.add_argument("--rounds", "--repeats", dest="rounds", type=int, default=5)
    a = p.parse_args()
    print(f"backend: {jax.default_backend()}, devices: {jax.devices()}")
    for size in [int(s) for s in a.sizes.split(",")]:
        runs = {
            "ideal": forward(size, a.batch, None),
            "exact": forward(size, a.batch, crossbar.IRDrop(r_wire=1.0)),
            "approx": forward(size, a.batch, crossbar.IRDrop(method="aihwkit")),
        }
        times, ratios = alternated(runs, a.rounds, reps=3)
        t_ideal, t_exact, t_approx = times["ideal"], times["exact"], times["approx"]
        y_ideal, y_exact = runs["ideal"](), runs["exact"]()
        change = float(jnp.linalg.norm(y_exact - y_ideal) / jnp.linalg.norm(y_ideal))
        print(
            f"{size}x{size}, batch {a.batch}: ideal {t_ideal * 1e3:.2f} ms, exact IR drop "
            f"{t_exact * 1e3:.1f} ms (ratio {ratios['exact']:.0f}; outputs change by "
            f"{change:.1%}), aihwkit approximation {t_approx * 1e3:.2f} ms "
            f"(ratio {ratios['approx']:.2f})"
        )
    ratio = chips_ratio(128, a.chips, 8, a.rounds)
    print(
        f"{a.chips} chips of 128x128 with exact IR drop, batch 8: "
        f"vmap / loop = {ratio:.2f} (target <= 0.5)"
    )
    try:
        import logging

        import badcrossbar

        logging.disable(logging.INFO)
        rng = np.random.default_rng(0)
        g, v = rng.uniform(1, 25, (256, 256)), rng.uniform(0, 0.2, 256)
        ref = (
            np.ravel(
                badcrossbar.compute(
                    v[:, None], 1e6 / g, 1.0, node_voltages=False, all_currents=False
                ).currents.output
            )
            * 1e6
        )
        out = np.asarray(
            crossbar.solve_ir_drop(jnp.asarray(g, jnp.float32), jnp.asarray(v, jnp.float32), 1.0)
        )
        diff = np.max(np.abs(out - ref) / np.abs(ref))
        effect = np.max(np.abs(v @ g - ref) / ref)
        print(
            f"solve_ir_drop vs badcrossbar, 256x256, 1 ohm: largest relative difference "
            f"{diff:.1e} (IR drop {effect:.0%})"
        )
    except (ImportError, AttributeError):
        print("badcrossbar not installed: no comparison")


if __name__ == "__main__":
    main()
