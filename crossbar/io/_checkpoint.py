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

from ._atomic import atomic_write_bytes

MAGIC = b"crossbar-jax checkpoint\n"


#: The format written now. 2: the arrays only, and a fingerprint of their paths, shapes and
#: dtypes. 1 (crossbar-jax before December 2026): every leaf (then all arrays) and a
#: fingerprint of the tree structure's text, which held the repr of every static Tile: it
#: changed with any new field of a configuration. Format 1 files still load.
VERSION = 2


def _arrays(tree):
    """The array leaves of `tree` (what a checkpoint stores), None elsewhere: configuration
    floats (a Tile's noise levels, a device's coefficients) come from the model the
    checkpoint is loaded into, which the caller builds from the checkpoint's `meta`."""
    return eqx.filter(tree, eqx.is_array)


def _fingerprint(tree) -> str:
    """What a checkpoint must match: the path, shape and dtype of every array leaf. A new
    configuration field, or a new value of one, leaves it as it is; another architecture,
    layer size or optimiser changes it."""
    leaves = jax.tree_util.tree_flatten_with_path(_arrays(tree))[0]
    text = "\n".join(
        f"{jax.tree_util.keystr(path)} {np.shape(x)} {np.asarray(x).dtype}" for path, x in leaves
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_checkpoint(path: str | os.PathLike, tree, **meta: Any) -> Path:
    """Write the arrays of `tree` (a model, or `(model, opt_state)`) and JSON-able `meta` to
    `path`, atomically.

    A run killed while writing leaves the previous checkpoint whole. The file holds a header
    (format `VERSION`, fingerprint of the arrays' paths, shapes and dtypes, payload size,
    `meta`) and the arrays (`eqx.tree_serialise_leaves`). Configuration values (tiles,
    devices) are not stored: build the model to load into from `meta`."""
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, _arrays(tree))
    payload = buf.getvalue()
    header = {
        "version": VERSION,
        "fingerprint": _fingerprint(tree),
        "bytes": len(payload),
        "meta": meta,
    }
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
    version = header.get("version")
    if version not in (1, VERSION):
        raise ValueError(
            f"checkpoint {str(path)!r} has format {version!r}; this crossbar-jax reads formats "
            f"1 and {VERSION} (a newer crossbar-jax wrote it: upgrade to read it)."
        )
    other = (
        f"checkpoint {str(path)!r} was written for another model: its arrays' paths, shapes or "
        "dtypes differ from the model given (build the same architecture to load it)."
    )
    if version == VERSION and header["fingerprint"] != _fingerprint(like):
        raise ValueError(other)
    arrays = _arrays(like)
    buf = io.BytesIO(payload)
    try:
        loaded = eqx.tree_deserialise_leaves(buf, arrays)
    except (ValueError, RuntimeError, OSError, EOFError) as e:  # a shape or dtype differs
        # (Equinox checks every array's type, shape and dtype against `like`. That is the
        # whole check for format 1, which stored every leaf of the tree, then all arrays, in
        # the order the arrays have now: its fingerprint was the text of a structure that no
        # longer exists.)
        raise ValueError(f"{other} ({e})") from None
    if buf.tell() != len(payload):  # the file holds more arrays than the model
        raise ValueError(other)
    return eqx.combine(loaded, like), header["meta"]
