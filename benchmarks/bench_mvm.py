"""The analog MVM against a plain matmul, chips under vmap, and aihwkit, side by side.

A `size x size` AnalogLinear, batch 256, a PCM chip read at 1 hour, 8-bit DAC and ADC, output
noise on, all jitted. Prints ratios measured in one run, the contenders alternated in rounds,
medians over rounds of each round's ratio (nothing is asserted; the machines are shared and
noisy):

- time of the analog forward / time of a plain jitted `x @ W.T` (target <= 1.5);
- peak memory of the analog forward / of the plain matmul, from XLA's memory analysis of the
  compiled programs (target <= 2: no per-example conductance copies);
- 32 chips under `jax.vmap` / 32 chips one after another (read at 1 hour + forward; target
  <= 0.5);
- when aihwkit's C++ tile runs: aihwkit's `InferenceRPUConfig` forward with the same settings /
  ours (target >= 3).

    python benchmarks/bench_mvm.py [--size 512] [--batch 256] [--rounds 7]
    python benchmarks/bench_mvm.py --size 4096    # for GPU runs
"""

from __future__ import annotations

import argparse

import equinox as eqx
import jax
import jax.random as jr
import numpy as np
from _timing import alternated

import crossbar
import devices


def peak_bytes(jitted, *args):
    """(arguments it reads, outputs, temporaries) of the compiled program, in bytes, from
    XLA's memory analysis (jit drops unused arguments, so unread chip state is not counted)."""
    stats = jitted.lower(*args).compile().memory_analysis()
    if stats is None:
        return float("nan"), float("nan"), float("nan")
    return stats.argument_size_in_bytes, stats.output_size_in_bytes, stats.temp_size_in_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--chips", type=int, default=32)
    parser.add_argument("--chip-batch", type=int, default=64)
    parser.add_argument(
        "--rounds",
        "--repeats",
        dest="rounds",
        type=int,
        default=7,
        help="alternated rounds per comparison (each the median of a few calls)",
    )
    args = parser.parse_args()
    n, batch = args.size, args.batch

    tile = crossbar.Tile(
        device=devices.PCM(),
        dac=crossbar.DAC(bits=8),
        adc=crossbar.ADC(bits=8, bound=10.0),
        out_noise=0.04,
        rows=512,
        cols=512,
    )
    layer = crossbar.AnalogLinear(n, n, tile=tile, key=jr.PRNGKey(0))
    chip = jax.jit(crossbar.at_time)(crossbar.program(layer, jr.PRNGKey(1)), 3600.0, jr.PRNGKey(2))
    x = jr.normal(jr.PRNGKey(3), (batch, n))
    w = layer.weight

    @eqx.filter_jit
    def analog(chip, x, key):
        with crossbar.value_checks(False):
            return jax.vmap(lambda x, k: chip(x, key=k))(x, jr.split(key, x.shape[0]))

    @jax.jit
    def plain(w, x):
        return x @ w.T

    key = jr.PRNGKey(4)
    times, ratios = alternated(
        {"plain": lambda: plain(w, x), "analog": lambda: analog(chip, x, key)}, args.rounds
    )
    t_analog, t_plain = times["analog"], times["plain"]
    dynamic, static = eqx.partition(chip, eqx.is_array)
    analog_arrays = jax.jit(lambda d, x, k: analog(eqx.combine(d, static), x, k))
    a_args, a_out, a_tmp = peak_bytes(analog_arrays, dynamic, x, key)
    p_args, p_out, p_tmp = peak_bytes(plain, w, x)
    m_analog, m_plain = a_args + a_out + a_tmp, p_args + p_out + p_tmp
    print(
        f"jax {jax.__version__} on {jax.devices()[0].device_kind}: {n} x {n} AnalogLinear, "
        f"batch {batch}, PCM read at 1 h, 8-bit DAC/ADC, output noise 0.04"
    )
    print(f"  analog forward      {t_analog * 1e3:9.3f} ms")
    print(f"  plain x @ W.T       {t_plain * 1e3:9.3f} ms")
    print(f"  time   analog / plain = {ratios['analog']:6.2f}   (target <= 1.5)")
    mib = 2.0**20
    print(f"  memory analog / plain = {m_analog / m_plain:6.2f}   (target <= 2)")
    print(
        f"    analog: {a_args / mib:.2f} MiB read + {a_out / mib:.2f} out + {a_tmp / mib:.2f} temp;"
        f" plain: {p_args / mib:.2f} read + {p_out / mib:.2f} out + {p_tmp / mib:.2f} temp"
    )

    programmed = crossbar.program(layer, jr.PRNGKey(5))

    xc = x[: args.chip_batch]

    def one_chip(k):
        k1, k2 = jr.split(k)
        read = crossbar.at_time(programmed, 3600.0, k1)
        with crossbar.value_checks(False):
            return jax.vmap(lambda x, k: read(x, key=k))(xc, jr.split(k2, xc.shape[0]))

    keys = jr.split(jr.PRNGKey(6), args.chips)
    many = eqx.filter_jit(jax.vmap(one_chip))
    single = eqx.filter_jit(one_chip)
    times, ratios = alternated(
        {"loop": lambda: [single(k) for k in keys], "vmap": lambda: many(keys)},
        args.rounds,
        reps=3,
    )
    print(
        f"  {args.chips} chips (read at 1 h + forward, batch {xc.shape[0]}): "
        f"vmap {times['vmap'] * 1e3:.1f} ms, loop {times['loop'] * 1e3:.1f} ms: "
        f"vmap / loop = {ratios['vmap']:5.2f}   (target <= 0.5)"
    )

    try:
        import torch
        from aihwkit.nn import AnalogLinear
        from aihwkit.simulator.configs import InferenceRPUConfig
        from aihwkit.simulator.parameters.enums import BoundManagementType

        cfg = InferenceRPUConfig()
        cfg.forward.inp_res, cfg.forward.out_res = 1 / 254, 1 / 254
        cfg.forward.out_bound, cfg.forward.out_noise = 10.0, 0.04
        cfg.forward.bound_management = BoundManagementType.NONE
        cfg.mapping.weight_scaling_omega = 1.0
        theirs = AnalogLinear(n, n, rpu_config=cfg)
        theirs.set_weights(
            torch.from_numpy(np.asarray(w)), torch.from_numpy(np.asarray(layer.bias))
        )
        theirs.eval()
        theirs.program_analog_weights()
        theirs.drift_analog_weights(3600.0)
        xt = torch.from_numpy(np.asarray(x))
        with torch.no_grad():  # alternated with ours, so the ratio is side by side too
            times, ratios = alternated(
                {"analog": lambda: analog(chip, x, key), "theirs": lambda: theirs(xt)},
                args.rounds,
            )
        t_theirs = times["theirs"]
        print(
            f"  aihwkit {type(cfg).__name__} (C++ tile, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads): {t_theirs * 1e3:.3f} ms"
        )
        print(f"  aihwkit / crossbar-jax = {ratios['theirs']:6.2f}   (target >= 3)")
    except Exception as e:  # not installed, or its C++ tile does not run with this torch
        print(f"  aihwkit: not compared ({type(e).__name__}: {str(e)[:80]})")


if __name__ == "__main__":
    main()
