"""Data sets that need no internet, and a user's own arrays through the same interface.

A `Dataset` is four numpy arrays: `x_train (N, ...)`, `y_train (N,)` integer labels, and the
same for the test split. Inputs are float32, scaled to [0, 1] for spike encoding.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from devices.checks import is_integer


class Dataset(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def arrays(x_train, y_train, x_test, y_test) -> Dataset:
    """A user's own arrays as a `Dataset`, checked: same number of inputs and labels, integer
    labels >= 0, finite inputs of one shape per example, at least one example in each split."""
    out = []
    for name_x, x, name_y, y in (
        ("x_train", x_train, "y_train", y_train),
        ("x_test", x_test, "y_test", y_test),
    ):
        x = np.asarray(x)
        y = np.asarray(y)
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(f"data: `{name_x}` must be (N, ...) with N >= 1; got shape {x.shape}.")
        if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
            raise ValueError(f"data: `{name_x}` must hold finite numbers; got dtype {x.dtype}.")
        if y.shape != (x.shape[0],):
            raise ValueError(
                f"data: `{name_y}` must have shape ({x.shape[0]},), one label per example of "
                f"`{name_x}`; got {y.shape}."
            )
        if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise ValueError(
                f"data: `{name_y}` must hold integer labels >= 0; got dtype {y.dtype}."
            )
        out += [x.astype(np.float32), y.astype(np.int32)]
    if out[0].shape[1:] != out[2].shape[1:]:
        raise ValueError(
            f"data: train and test examples must have one shape; got {out[0].shape[1:]} and "
            f"{out[2].shape[1:]}."
        )
    return Dataset(*out)


def digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8 x 8 handwritten digits (1797 images, 10 classes), no download.

    Pixels (0..16) scaled to [0, 1] and flattened to 64; a fixed, stratified split (20 % test
    by default: 1438 train, 359 test: each class rounds its own test share) from a seeded
    permutation of each class.
    Needs scikit-learn (`pip install crossbar-jax[data]`).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "crossbar.data.digits needs scikit-learn: pip install 'crossbar-jax[data]'"
        ) from e
    if not 0 < test_fraction < 1:
        raise ValueError(f"digits: `test_fraction` must lie in (0, 1); got {test_fraction!r}.")
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int32)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: int(round(test_fraction * idx.size))]] = True
    return Dataset(x[~test], y[~test], x[test], y[test])


def upsample(x: np.ndarray, size: int = 28) -> np.ndarray:
    """Images `(N, 64)` of 8 x 8 pixels as `(N, 1, size, size)` (nearest neighbour), for
    networks built for 28 x 28 inputs."""
    x = np.asarray(x, np.float32).reshape(-1, 8, 8)
    idx = (np.arange(size) * 8) // size
    return x[:, idx][:, :, idx][:, None]


def mnist1d(steps: int | None = 10, seed: int = 42, *, window: int | None = None) -> Dataset:
    """MNIST-1D (Greydanus and Kobak, ICML 2024): 4000 training and 1000 test sequences of
    length 40, ten classes, generated offline by the `mnist1d` package with its default
    arguments (`pip install 'crossbar-jax[mnist1d]'`). Published baselines on this split:
    logistic regression 32 %, MLP 68 %, CNN 94 %, GRU 91 %; humans 96 %.

    Hard where the digits are easy: shifted, scaled, sheared, noisy templates, so the
    device and circuit non-idealities show in the accuracy.

    **Arguments:** `steps`: the sequence cut into `steps` consecutive chunks, `(N, steps,
    40 / steps)`, fed to a spiking network one chunk per time step (a temporal task: use
    `SpikingNetwork(..., encoder=None)`); None keeps `(N, 40)`. `seed`: the generator's seed
    (42 is the package's, the published split). `window`: instead of disjoint chunks, step
    `t` sees the `window` samples starting at `t * 40 / steps - window // 2` (zeros beyond the
    ends), `(N, steps, window)`: a sliding window, as an audio front end stacks context frames.
    """
    try:
        import mnist1d.data  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "crossbar.data.mnist1d needs mnist1d: pip install 'crossbar-jax[mnist1d]'"
        ) from e
    if steps is not None and (not is_integer(steps) or steps < 1 or 40 % steps):
        raise ValueError(
            "mnist1d: `steps` must divide the length 40 (1, 2, 4, 5, 8, 10, 20, 40) or be None; "
            f"got {steps!r}."
        )
    if window is not None:
        if steps is None:
            raise ValueError("mnist1d: `window` needs `steps` (the number of windows).")
        if not is_integer(window) or not 1 <= window <= 40:
            raise ValueError(f"mnist1d: `window` must be an integer in [1, 40]; got {window!r}.")
    x, y, x_test, y_test = _mnist1d_arrays(seed)
    if window is not None:
        x, x_test = _windows(x, steps, window), _windows(x_test, steps, window)
    elif steps is not None:
        x, x_test = x.reshape(len(x), steps, -1), x_test.reshape(len(x_test), steps, -1)
    return Dataset(np.array(x), y.copy(), np.array(x_test), y_test.copy())


@functools.lru_cache(maxsize=4)
def _mnist1d_arrays(seed: int) -> tuple[np.ndarray, ...]:
    """The generated split (`x`, `y`, `x_test`, `y_test`), made once per seed in a process
    (1.5 s each time), read-only so that no caller changes the cached copy."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = seed
    d = make_dataset(args)
    arrays = (
        np.asarray(d["x"], np.float32),
        np.asarray(d["y"], np.int32),
        np.asarray(d["x_test"], np.float32),
        np.asarray(d["y_test"], np.int32),
    )
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _windows(x: np.ndarray, steps: int, window: int) -> np.ndarray:
    """`(N, L)` as `(N, steps, window)`: window `t` starts at `t * L / steps - window // 2`."""
    stride = x.shape[1] // steps
    padded = np.pad(x, ((0, 0), (window // 2, window - window // 2)))
    return np.stack([padded[:, t * stride : t * stride + window] for t in range(steps)], axis=1)
