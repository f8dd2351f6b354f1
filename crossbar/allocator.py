"""Keeping freed memory for reuse: glibc's allocator returns large blocks to the system.

XLA's CPU runtime allocates every temporary array of a computation afresh on every call
and frees it at the end. glibc hands blocks above its mmap threshold (128 KiB, adapting up
to 32 MiB) straight back to the kernel on `free`, and trims the top of the heap beyond its
trim threshold, so the next call page-faults the same memory in again: on this project's
2-core CPU a 2048 x 2048 training step spent more than half its time in page faults (plain
JAX as well: 30 ms against 16 ms with the memory kept). `tune()` raises both thresholds to
1 GiB with `mallopt`, so freed blocks stay in the process's heap and are reused. Done once
when `crossbar` is imported, on Linux with glibc; `CROSSBAR_KEEP_FREED_MEMORY=0` turns it
off. The cost: the process keeps its peak memory until it exits. Setting the environment
variables `MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_` has the same effect for any
program (the benchmarks give their peers the same).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
THRESHOLD = 2**30
#: The environment that gives another process the same allocator settings.
ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(THRESHOLD)}

_tuned: list[bool] = []


def tune() -> bool:
    """Keep freed memory in the heap (see the module docstring). **Returns:** whether the
    allocator was tuned (glibc on Linux, not turned off)."""
    if _tuned:
        return _tuned[0]
    ok = False
    if sys.platform.startswith("linux") and os.environ.get("CROSSBAR_KEEP_FREED_MEMORY") != "0":
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, THRESHOLD)) and bool(
                libc.mallopt(_M_TRIM_THRESHOLD, THRESHOLD)
            )
        except (OSError, AttributeError):  # not glibc (musl has no mallopt)
            ok = False
    _tuned.append(ok)
    return ok
