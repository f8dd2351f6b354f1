"""A device study: many devices programmed to a few targets, read at several times."""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import PRNGKeyArray

from devices import AbstractDevice
from devices.checks import is_integer

from ._reports import format_duration

#: The device study's default times: 1 s, 1 hour, 1 day, 1 year after programming.
STUDY_TIMES = (1.0, 3600.0, 86400.0, 365.0 * 86400.0)


def device_study(
    device: AbstractDevice,
    g_targets: Sequence[float],
    times: Sequence[float],
    *,
    n_devices: int = 10_000,
    key: PRNGKeyArray,
) -> dict:
    """Program `n_devices` devices to each target once, and read them at each time.

    The whole study is one jitted computation: the targets and the devices are one array,
    programmed once; each time is read with its own key (`jax.vmap` over times).

    **Arguments:**

    - `device`: any `devices` model.
    - `g_targets`: target conductances, uS.
    - `times`: seconds since programming.
    - `n_devices`: devices per target.
    - `key`: a JAX PRNG key.

    **Returns:** a dict of plain lists: `g_target_uS`, `times_s`, and `mean_uS`, `std_uS`,
    each `[target][time]`.
    """
    if not is_integer(n_devices) or n_devices < 2:
        raise ValueError(f"device_study: `n_devices` must be an integer >= 2; got {n_devices!r}.")
    if not g_targets or not times:
        raise ValueError("device_study: `g_targets` and `times` must each hold at least one value.")
    for t in times:
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"device_study: `times` must be finite and >= 0 s; got {t!r}.")

    targets = jnp.asarray(g_targets, jnp.float32)
    reads = _study(device, targets, jnp.asarray(times, jnp.float32), int(n_devices), key)
    mean, std = (np.asarray(a, np.float64).T for a in reads)
    return {
        "device": type(device).__name__,
        "n_devices": n_devices,
        "g_target_uS": [float(g) for g in g_targets],
        "times_s": [float(t) for t in times],
        "mean_uS": mean.tolist(),
        "std_uS": std.tolist(),
    }


@eqx.filter_jit
def _study(device, g_targets, times, n_devices: int, key):
    """Program `n_devices` devices to each target, read them at every time: `(mean, std)`,
    `(times, targets)` each. Compiled at module level: once per device structure, target and
    time count (a closure built per call compiled on every call)."""
    k_prog, k_read = jr.split(key)
    g = jnp.repeat(g_targets[:, None], n_devices, axis=1)
    state = device.program(k_prog, g)
    keys = jr.split(k_read, times.shape[0])
    reads = jax.vmap(lambda k, t: device.read(k, state, t))(keys, times)
    return reads.mean(-1), reads.std(-1, ddof=1)


def format_study(study: dict) -> str:
    """The study as a text table: one row per target, mean +- std per time, and the ratio."""
    times = study["times_s"]
    head = f"{'target uS':>10} | " + " | ".join(f"{format_duration(t):>21}" for t in times)
    lines = [
        f"{study['device']}: {study['n_devices']} devices per target, "
        "mean +- std in uS (mean / target)",
        head,
        "-" * len(head),
    ]
    for g, means, stds in zip(study["g_target_uS"], study["mean_uS"], study["std_uS"]):
        cells = [
            f"{m:6.2f} +-{s:5.2f} ({m / g:4.2f})" if g > 0 else f"{m:6.2f} +-{s:5.2f}       "
            for m, s in zip(means, stds)
        ]
        lines.append(f"{g:10.2f} | " + " | ".join(f"{c:>21}" for c in cells))
    return "\n".join(lines)
