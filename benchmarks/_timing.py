"""Timing helpers shared by the benchmark scripts (run as `python benchmarks/bench_*.py`)."""

import time

import jax
import numpy as np


def best_of(f, repeats: int) -> float:
    """The fastest of `repeats` timed calls of `f`, in seconds, after one warm-up call (which
    compiles); JAX results are waited for."""
    jax.block_until_ready(f())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(f())
        times.append(time.perf_counter() - start)
    return float(np.min(times))
