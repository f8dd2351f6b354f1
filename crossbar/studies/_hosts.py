"""Studies over every JAX device, on one host or several (`jax.distributed`): the mesh the
chips are sharded over, results brought back to every process, and the one process that
writes files."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh


def chip_mesh(n_chips: int) -> Mesh:
    """Every device (all processes' after `jax.distributed.initialize()`): as many on the
    `chips` axis as divide `n_chips`, the rest on `batch`."""
    devs = jax.devices()
    d_chips = math.gcd(len(devs), n_chips)
    return Mesh(np.array(devs).reshape(d_chips, len(devs) // d_chips), ("chips", "batch"))


def to_host(a) -> np.ndarray:
    """A result as a numpy array in every process: a sharded array that spans other
    processes' devices is gathered from all of them first."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        a = multihost_utils.process_allgather(a, tiled=True)
    return np.asarray(a)


def is_writer() -> bool:
    """Whether this process writes a study's files: the first of the processes (every one
    computes and holds the same results; one writes)."""
    return jax.process_index() == 0


def from_writer(load):
    """`load()` run by the writing process (`is_writer`), its result (a JSON value) given to
    every process: what a resumed study takes from its files, so that all processes resume
    at the same point whether or not they see the writer's files. An error in `load` is
    raised in the writer, and in every other process as a RuntimeError that says so (none
    waits for a value that does not come)."""
    if jax.process_count() == 1:
        return load()
    error, data = None, b""
    if is_writer():
        try:
            value = load()
            data = json.dumps(value).encode()
        except Exception as e:  # noqa: BLE001 - re-raised below, after the others are told
            error = e
    n = int(multihost_utils.broadcast_one_to_all(np.int64(-1 if error else len(data))))
    if n < 0:
        if error is not None:
            raise error
        raise RuntimeError(
            "the writing process (process 0) refused the study's files: see its error"
        )
    buf = np.zeros(n, np.uint8)
    if is_writer():
        buf[:] = np.frombuffer(data, np.uint8)
    buf = np.asarray(multihost_utils.broadcast_one_to_all(buf), np.uint8)
    return json.loads(buf.tobytes().decode())
