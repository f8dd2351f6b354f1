"""Studies of ANN-to-SNN conversion: training the ANN, its accuracy, and the accuracy of the
converted spiking network against time steps on digital and analog tiles (report and plot)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import PRNGKeyArray

from devices.checks import check_int, is_real

from ..core._chip import at_time, map_tiles, program
from ..core._tile import Tile, ideal_tile
from ..data import Dataset
from ..io._atomic import pyplot, save_figure
from ..nn._convert import convert
from ._train import _adam


def train_ann(
    data: Dataset,
    hidden: Sequence[int] = (128, 128),
    *,
    key: PRNGKeyArray,
    epochs: int = 40,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
) -> eqx.nn.MLP:
    """An ordinary ReLU MLP (`eqx.nn.MLP`, biased layers of equal `hidden` widths) trained
    with Adam on cross-entropy on flattened inputs: the network `convert` starts from."""
    hidden = tuple(hidden)
    if not hidden or len(set(hidden)) != 1:
        raise ValueError(
            f"train_ann: `hidden` must be equal widths, e.g. (128, 128); got {hidden}."
        )
    check_int("train_ann", "epochs", epochs)
    check_int("train_ann", "batch_size", batch_size)
    x = jnp.asarray(data.x_train).reshape(len(data.x_train), -1)
    y = jnp.asarray(data.y_train)
    k_init, k_data = jr.split(key)
    mlp = eqx.nn.MLP(x.shape[1], data.n_classes, hidden[0], len(hidden), jax.nn.relu, key=k_init)
    opt = _adam(float(learning_rate))  # one per learning rate: `_ann_step` compiles once
    state = opt.init(eqx.filter(mlp, eqx.is_array))

    n = x.shape[0]
    for epoch in range(epochs):
        order = jr.permutation(jr.fold_in(k_data, epoch), n)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            mlp, state = _ann_step(mlp, state, x[idx], y[idx], opt)
    return mlp


@eqx.filter_jit
def _ann_step(mlp, state, xb, yb, opt):
    """One Adam step of `train_ann` on a batch (compiled once per optimiser and shapes)."""

    def loss(m):
        logits = jax.vmap(m)(xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    grads = eqx.filter_grad(loss)(mlp)
    # Optax's Adam raises a float to an int32 step count, which only standard promotion allows
    # (as in crossbar.train); our own code is strict-promotion clean.
    with jax.numpy_dtype_promotion("standard"):
        updates, state = opt.update(grads, state, eqx.filter(mlp, eqx.is_array))
    return eqx.apply_updates(mlp, updates), state


def ann_accuracy(ann, data: Dataset) -> float:
    """Test accuracy of an equinox network acting on one flattened example."""
    x = jnp.asarray(data.x_test).reshape(len(data.x_test), -1)
    return float(jnp.mean(jnp.argmax(jax.vmap(ann)(x), -1) == jnp.asarray(data.y_test)))


def conversion_curve(
    ann,
    data: Dataset,
    steps: Sequence[int] = (4, 8, 16, 32, 64, 128),
    *,
    tile: Tile,
    t: float = 86400.0,
    n_chips: int = 5,
    percentile: float = 99.9,
    key: PRNGKeyArray,
) -> dict:
    """Test accuracy against time steps: the ANN, the converted SNN on ideal devices (digital
    weights), and on `tile` programmed and read `t` seconds later (mean over `n_chips`).

    **Returns:** a dict of plain values: `steps`, `ann`, `snn_ideal`, `snn_device`
    (mean per step count), `snn_device_chips` (`[steps][chip]`), `t`, `n_chips`, `percentile`.
    """
    steps = [int(s) for s in steps]
    for s in steps:
        check_int("conversion_curve", "steps", s)
    check_int("conversion_curve", "n_chips", n_chips)
    if not (is_real(t) and math.isfinite(t) and t >= 0):
        raise ValueError(f"conversion_curve: `t` must be seconds >= 0; got {t!r}.")
    x_cal = np.asarray(data.x_train).reshape(len(data.x_train), -1)
    x = jnp.asarray(data.x_test).reshape(len(data.x_test), -1)
    y = jnp.asarray(data.y_test)
    idx = jnp.asarray(steps) - 1

    k_ideal, k_dev = jr.split(key)
    n_steps = max(steps)
    net = convert(ann, x_cal, tile=tile, steps=n_steps, percentile=percentile)
    digital = map_tiles(net, ideal_tile)  # the same weights on ideal tiles: no second conversion
    ideal = np.asarray(_accuracy(digital, x, y, idx, k_ideal), np.float64)
    t = jnp.asarray(float(t))
    keys = jr.split(k_dev, n_chips)
    per_chip = np.asarray(_chip_accuracies(net, x, y, idx, t, keys), np.float64)  # (chips, steps)
    return {
        "steps": steps,
        "ann": ann_accuracy(ann, data),
        "snn_ideal": ideal.tolist(),
        "snn_device": per_chip.mean(0).tolist(),
        "snn_device_chips": per_chip.T.tolist(),
        "t": float(t),
        "n_chips": n_chips,
        "percentile": float(percentile),
    }


# Direct coding is the same current every step: one run of max(steps) steps gives the answer
# after every shorter run too (`readout_over_time`). Module level: one compilation per network
# structure, not per call.
@eqx.filter_jit
def _accuracy(net, x, y, idx, k):
    over_time = jax.vmap(lambda xi, ki: net.readout_over_time(xi, key=ki))(
        x, jr.split(k, x.shape[0])
    )  # (N, T, classes)
    return jnp.mean(jnp.argmax(over_time[:, idx], -1) == y[:, None], axis=0)


@eqx.filter_jit
def _chip_accuracies(net, x, y, idx, t, keys):
    def one(k):
        k_prog, k_read, k_run = jr.split(k, 3)
        return _accuracy(at_time(program(net, k_prog), t, k_read), x, y, idx, k_run)

    return jax.vmap(one)(keys)


def plot_conversion(curve: dict, path) -> Path | None:
    """The curve of `conversion_curve` as a PNG at `path` (written atomically): the ANN's
    accuracy as a line, the SNN's on ideal devices and on the device against time steps.
    None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.axhline(curve["ann"], color="k", ls="--", label="ANN")
    ax.plot(curve["steps"], curve["snn_ideal"], "o-", label="SNN, ideal devices")
    ax.plot(
        curve["steps"], curve["snn_device"], "s-", label=f"SNN, {curve.get('device', 'device')}"
    )
    ax.set(xscale="log", xlabel="time steps", ylabel="test accuracy")
    ax.set_xticks(curve["steps"], [str(s) for s in curve["steps"]])
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def format_conversion(curve: dict, device: str = "device", *, percent: bool = False) -> str:
    """The curve as a table: one row per step count; accuracies as fractions, or in percent
    with `percent` (as the command line prints them)."""
    width = max(10, len(device) + 4)
    head = f"{'steps':>6} | {'ANN':>6} | {'SNN ideal':>9} | {'SNN ' + device:>{width}}"
    lines = [head, "-" * len(head)]
    if percent:
        lines.insert(0, "test accuracy (%)")
    k, fmt = (100, ".1f") if percent else (1, ".3f")
    for s, a, d in zip(curve["steps"], curve["snn_ideal"], curve["snn_device"]):
        ann, a, d = (format(k * v, fmt) for v in (curve["ann"], a, d))
        lines.append(f"{s:>6} | {ann:>6} | {a:>9} | {d:>{width}}")
    return "\n".join(lines)
