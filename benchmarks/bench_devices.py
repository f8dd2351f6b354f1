"""Device-model throughput: program + read of PCM devices, measured side by side in one run.

Prints the time of our jitted `PCM` (program, then read at 1 day) for N devices, of 32 chips
under `jax.vmap` against 32 one after another, and, when aihwkit is importable, of aihwkit's
`PCMLikeNoiseModel` on the same N (torch, CPU) as a ratio to ours. Contenders alternated in
rounds, medians (`_timing.alternated`); ratios only: the machines are shared and noisy, so
nothing here is asserted.

    python benchmarks/bench_devices.py [--n 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import jax.random as jr
from _timing import alternated

import devices


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="devices (default 1e6)")
    parser.add_argument("--rounds", "--repeats", dest="rounds", type=int, default=5)
    args = parser.parse_args()
    n, day = args.n, 86400.0
    pcm = devices.PCM()
    g = jr.uniform(jr.PRNGKey(0), (n,), minval=0.0, maxval=25.0)

    @jax.jit
    def ours(key, g):
        k1, k2 = jr.split(key)
        return pcm.read(k2, pcm.program(k1, g), day)

    contenders = {"ours": lambda: ours(jr.PRNGKey(1), g)}
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}; "
        f"{n:,} PCM devices, program + read at 1 day"
    )

    chips, m = 32, max(n // 32, 1)
    g_small = g[:m]
    many = jax.jit(jax.vmap(ours, in_axes=(0, None)))
    keys = jr.split(jr.PRNGKey(2), chips)
    _, ratios = alternated(
        {"loop": lambda: [ours(k, g_small) for k in keys], "vmap": lambda: many(keys, g_small)},
        args.rounds,
    )
    vmap_line = f"  {chips} chips of {m:,}: vmap / loop = {ratios['vmap']:.2f}  (target <= 0.5)"

    try:
        import torch
        from aihwkit.inference.noise.pcm import PCMLikeNoiseModel
    except ImportError:
        torch = None
    if torch is not None:
        model = PCMLikeNoiseModel(g_max=25.0)
        g_t = torch.from_numpy(jnp.asarray(g).__array__().copy())

        def theirs():
            prog = model.apply_programming_noise_to_conductance(g_t.clone())
            nu = model.generate_drift_coefficients(g_t.clone())
            return model.apply_drift_noise_to_conductance(prog, nu, day)

        contenders["theirs"] = theirs
    times, ratios = alternated(contenders, args.rounds)
    print(f"  crossbar-jax (jit):           {times['ours'] * 1e3:9.2f} ms")
    print(vmap_line)
    if torch is None:
        print("  aihwkit not importable: no peer comparison")
        return
    print(
        f"  aihwkit PCMLikeNoiseModel:    {times['theirs'] * 1e3:9.2f} ms (torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads)"
    )
    print(f"  aihwkit / crossbar-jax = {ratios['theirs']:.2f}")


if __name__ == "__main__":
    main()
