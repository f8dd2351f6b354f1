"""Checkpoints: a model (and optimiser state) written atomically, read back with checks."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

from ._io import atomic_write_bytes

MAGIC = b"crossbar-jax checkpoint\n"


def _fingerprint(tree) -> str:
    """What the checkpoint must match: the tree structure and every array's shape and dtype."""
    leaves, treedef = jax.tree_util.tree_flatten(eqx.filter(tree, eqx.is_array))
    text = str(treedef) + "".join(f"{np.shape(x)}{np.asarray(x).dtype}" for x in leaves)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_checkpoint(path: str | os.PathLike, tree, **meta: Any) -> Path:
    """Write `tree` (a model, or `(model, opt_state)`) and JSON-able `meta` to `path`, atomically.

    A run killed while writing leaves the previous checkpoint whole. The file holds a header
    (format, fingerprint of the tree's structure and shapes, payload size, `meta`) and the
    arrays (`eqx.tree_serialise_leaves`)."""
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, tree)
    payload = buf.getvalue()
    header = {"version": 1, "fingerprint": _fingerprint(tree), "bytes": len(payload), "meta": meta}
    return atomic_write_bytes(path, MAGIC + json.dumps(header).encode() + b"\n" + payload)


def _read(path: Path) -> tuple[dict, bytes]:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist.")
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError(f"checkpoint {str(path)!r} is not a crossbar-jax checkpoint.")
    head, sep, payload = data[len(MAGIC) :].partition(b"\n")
    try:
        header = json.loads(head)
    except json.JSONDecodeError:
        header = None
    if not sep or not isinstance(header, dict) or "bytes" not in header:
        raise ValueError(f"checkpoint {str(path)!r} is truncated or corrupt (bad header).")
    if len(payload) != header["bytes"]:
        raise ValueError(
            f"checkpoint {str(path)!r} is truncated: {len(payload)} of {header['bytes']} bytes."
        )
    return header, payload


def checkpoint_meta(path: str | os.PathLike) -> dict:
    """The metadata of a checkpoint (what `save_checkpoint` was given), without its arrays."""
    return _read(Path(path))[0]["meta"]


def load_checkpoint(path: str | os.PathLike, like) -> tuple[Any, dict]:
    """Read a checkpoint into the structure of `like` (a model of the same architecture, or
    `(model, opt_state)`). **Returns:** `(tree, meta)`.

    Raises `FileNotFoundError` for a missing file and `ValueError` for a file that is not a
    checkpoint, is truncated, or was written for another model (different structure or
    shapes), saying which."""
    path = Path(path)
    header, payload = _read(path)
    if header["fingerprint"] != _fingerprint(like):
        raise ValueError(
            f"checkpoint {str(path)!r} was written for another model: its structure or shapes "
            "differ from the model given (build the same architecture to load it)."
        )
    tree = eqx.tree_deserialise_leaves(io.BytesIO(payload), like)
    return tree, header["meta"]
