"""A sweep over a float parameter: 16 points against 1 point, compilation included.

Each run is a fresh Python process (so no compiled program is reused between runs), timing
only the `crossbar.sweep` call: building, compiling and running every point. The two sizes
are alternated over `--rounds` rounds; the script prints the medians and the ratio 16 / 1
(target: <= 3 for `tile.out_noise`, `device.prog_noise_scale` and `t`).

The network: the demo's 64-128-10 spiking network on its PCM tile (8-bit converters,
output noise 0.04), untrained (the timing does not depend on the weights), the digits test
split (360 examples), 8 chips per point, read at one day.

    python benchmarks/bench_sweep.py [--rounds 3] [--params tile.out_noise t ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

VALUES = {
    "tile.out_noise": lambda n: list(np.linspace(0.0, 0.15, n)),
    "device.prog_noise_scale": lambda n: list(np.linspace(0.0, 2.0, n)),
    "t": lambda n: list(np.geomspace(1.0, 3.15e7, n)),
    "adc.bound": lambda n: list(np.linspace(4.0, 16.0, n)),
}


def _child(param: str, n: int) -> None:
    import time

    import jax.random as jr

    import crossbar
    import devices

    tile = crossbar.Tile(
        device=devices.PCM(),
        dac=crossbar.DAC(bits=8),
        adc=crossbar.ADC(bits=8, bound=10.0),
        out_noise=0.04,
    )
    k1, k2 = jr.split(jr.PRNGKey(0))
    net = crossbar.SpikingNetwork(
        [
            crossbar.AnalogLinear(64, 128, tile=tile, key=k1),
            crossbar.LIF(beta=0.9),
            crossbar.AnalogLinear(128, 10, tile=tile, key=k2),
        ],
        encoder=crossbar.Encoder("rate", 8),
        readout="mean",
    )
    data = crossbar.data.digits()
    values = [float(v) for v in VALUES[param](n)]
    start = time.perf_counter()
    rows = crossbar.sweep(net, data, {param: values}, key=jr.PRNGKey(1), n_chips=8)
    seconds = time.perf_counter() - start
    assert len(rows) == n
    print(json.dumps({"seconds": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--points", type=int, default=16)
    parser.add_argument("--params", nargs="+", default=list(VALUES), choices=list(VALUES))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), *sys.path])}

    def run(param, n):
        out = subprocess.run(
            [sys.executable, __file__, "--child", param, str(n)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]

    print(f"sweep of 1 and {args.points} points, fresh process each, {args.rounds} rounds")
    print(f"{'parameter':>24} | {'1 point':>9} | {f'{args.points} points':>10} | ratio")
    for param in args.params:
        one, many, ratios = [], [], []
        for r in range(args.rounds):
            order = [(1, one), (args.points, many)]
            for n, sink in order if r % 2 == 0 else order[::-1]:
                sink.append(run(param, n))
            ratios.append(many[-1] / one[-1])
        print(
            f"{param:>24} | {np.median(one):8.2f}s | {np.median(many):9.2f}s | "
            f"{np.median(ratios):5.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
