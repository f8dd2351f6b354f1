"""Timing helpers shared by the benchmark scripts (run as `python benchmarks/bench_*.py`)."""

import time

import jax
import numpy as np


def alternated(contenders: dict, rounds: int, reps: int = 5) -> tuple[dict, dict]:
    """Each contender (a name -> a function of no arguments) timed in `rounds` rounds, the
    order reversed every other round, each round the median of `reps` calls after one warm-up
    call per contender. **Returns:** `(medians, ratios)`: each contender's median over rounds
    of its round medians (seconds), and the median over rounds of each one's round median over
    the first contender's (so a slow minute of a shared machine moves both together)."""
    names = list(contenders)
    for f in contenders.values():
        jax.block_until_ready(f())
    per_round = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                jax.block_until_ready(contenders[name]())
                times.append(time.perf_counter() - start)
            per_round[name].append(float(np.median(times)))
    base = np.asarray(per_round[names[0]])
    medians = {name: float(np.median(v)) for name, v in per_round.items()}
    ratios = {name: float(np.median(np.asarray(v) / base)) for name, v in per_round.items()}
    return medians, ratios
