"""Writing results so that nothing a user has produced is lost."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically: a killed process leaves the old file or the new one.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the file is
    renamed over `path` (`os.replace`, atomic on POSIX and Windows). Missing parent folders
    are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """`obj` as indented JSON at `path`, written atomically."""
    return atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def pyplot():
    """`matplotlib.pyplot` on the non-interactive Agg backend, or None when matplotlib is not
    installed (plots are optional: the `plot` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def save_figure(fig, path: str | os.PathLike, **savefig) -> Path:
    """`fig` as a PNG at `path`, written atomically (`atomic_write_bytes`), then closed;
    `savefig` passes on to `Figure.savefig` (`dpi`, `bbox_inches`)."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
