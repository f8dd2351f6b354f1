r"""ANN-to-SNN conversion: a trained ReLU network as integrate-and-fire neurons on crossbars.

Rueckauer et al., "Conversion of continuous-valued deep networks to efficient event-driven
networks for image classification", Front. Neurosci. 11, 682 (2017): a ReLU's output is
approximated by the firing rate of a non-leaky integrate-and-fire neuron with reset by
subtraction and threshold 1, once each layer's weights are scaled so that its activations
rarely exceed 1. With $\lambda_l$ the `percentile`-th percentile of layer $l$'s ReLU outputs on
calibration data ($\lambda_0 = 1$: inputs are the currents they are),
$W_l \leftarrow W_l \lambda_{l-1} / \lambda_l$, $b_l \leftarrow b_l / \lambda_l$ (the output
layer keeps $\lambda_L = 1$: its mean current over time is the logits, up to $1/\lambda$).
The input is a constant current (direct coding); more time steps, a finer rate code.
"""

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

from ._chip import at_time, program
from ._encoders import Encoder
from ._io import pyplot, save_figure
from ._lif import LIF
from ._linear import AnalogLinear
from ._network import SpikingNetwork, ideal_tile
from ._tile import Tile
from ._train import _adam
from .data import Dataset

_SUPPORTED = (
    "eqx.nn.Linear, ReLU (jax.nn.relu as eqx.nn.Lambda, or an eqx.nn.MLP with relu), "
    "eqx.nn.Dropout and eqx.nn.Identity (dropped at inference)"
)


def _is_relu(fn) -> bool:
    return fn is jax.nn.relu or getattr(fn, "__name__", None) == "relu"


def _linear_layers(ann) -> list[eqx.nn.Linear]:
    """The Linear layers of a supported ANN, a ReLU between each two (checked), or a
    ValueError naming the layer that has no spiking counterpart."""
    if isinstance(ann, eqx.nn.MLP):
        if not _is_relu(ann.activation):
            raise ValueError(
                f"convert: the MLP's activation must be jax.nn.relu (an integrate-and-fire "
                f"neuron's rate is a ReLU); got {ann.activation!r}."
            )
        final = ann.final_activation
        if getattr(final, "__name__", "") not in ("_identity", "<lambda>") and not _is_relu(final):
            raise ValueError(
                f"convert: the MLP's final_activation must be the identity or relu; got {final!r}."
            )
        return list(ann.layers)
    if not isinstance(ann, eqx.nn.Sequential):
        raise ValueError(
            f"convert: `ann` must be an eqx.nn.MLP or eqx.nn.Sequential of {_SUPPORTED}; got "
            f"{type(ann).__name__}."
        )
    linears: list[eqx.nn.Linear] = []
    relu_after_last = False  # whether a ReLU follows the latest Linear
    for i, layer in enumerate(ann.layers):
        if isinstance(layer, eqx.nn.Linear):
            if linears and not relu_after_last:
                raise ValueError(
                    f"convert: layers[{i}] is a Linear right after another Linear with no ReLU "
                    "between them; fold them into one or put a ReLU between."
                )
            linears.append(layer)
            relu_after_last = False
        elif isinstance(layer, eqx.nn.Lambda) and _is_relu(layer.fn):
            if not linears or relu_after_last:
                raise ValueError(f"convert: layers[{i}] is a ReLU with no Linear before it.")
            relu_after_last = True
        elif not isinstance(layer, (eqx.nn.Dropout, eqx.nn.Identity)):
            what = type(layer).__name__
            if isinstance(layer, eqx.nn.Lambda):
                what = f"Lambda({getattr(layer.fn, '__name__', layer.fn)!r})"
            raise ValueError(
                f"convert: layers[{i}] ({what}) has no spiking counterpart; supported: "
                f"{_SUPPORTED}."
            )
    if not linears:
        raise ValueError("convert: the network has no Linear layer.")
    return linears


def _activations(linears, x: np.ndarray) -> list[np.ndarray]:
    """Each hidden layer's ReLU outputs on `x (N, in)` (the output layer's are not needed)."""
    acts, h = [], jnp.asarray(x)
    for layer in linears[:-1]:
        h = jax.nn.relu(jax.vmap(layer)(h))
        acts.append(np.asarray(h))
    return acts


def convert(
    ann,
    x_calib,
    *,
    tile: Tile = Tile(),
    steps: int = 32,
    percentile: float = 99.9,
    key: PRNGKeyArray | None = None,
) -> SpikingNetwork:
    """A trained ReLU network as a spiking network on crossbar tiles (see the module doc).

    **Arguments:**

    - `ann`: an `eqx.nn.MLP` with `jax.nn.relu`, or an `eqx.nn.Sequential` of
      `eqx.nn.Linear` and `eqx.nn.Lambda(jax.nn.relu)` (dropout and identity layers are
      dropped); acting on one example `(in,)`. Anything else is a `ValueError` naming it.
    - `x_calib`: calibration inputs `(N, in)` for the activation percentiles (the training
      set, or a few hundred examples of it).
    - `tile`: the tiles of every layer (default `Tile()`; `crossbar.ideal_tile(Tile())` for
      digital weights).
    - `steps`: time steps of one inference (direct coding: the input current every step).
    - `percentile`: of each layer's activations, in (0, 100] (Rueckauer's robust 99.9; 100 is
      the max-norm of Diehl et al. 2015).
    - `key`: only initialises the layers before the converted weights replace them (so
      nothing drawn with it is left; default None: a fixed key, built at the call).

    **Returns:** `SpikingNetwork([AnalogLinear, LIF(beta=1, threshold=1, reset="subtract"),
    ..., AnalogLinear], encoder=Encoder("direct", steps), readout="mean")`.
    """
    check_int("convert", "steps", steps)
    if not (is_real(percentile) and 0 < percentile <= 100):
        raise ValueError(f"convert: `percentile` must lie in (0, 100]; got {percentile!r}.")
    if not isinstance(tile, Tile):
        raise ValueError(f"convert: `tile` must be a crossbar.Tile; got {tile!r}.")
    linears = _linear_layers(ann)
    x_calib = np.asarray(x_calib, np.float32)
    n_in = linears[0].in_features
    if x_calib.ndim != 2 or x_calib.shape[1] != n_in or len(x_calib) < 1:
        raise ValueError(
            f"convert: `x_calib` must be (N, {n_in}) inputs of the network; got {x_calib.shape}."
        )
    scales = [1.0]
    for a in _activations(linears, x_calib):
        lam = float(np.percentile(a, percentile))
        scales.append(lam if lam > 0 else 1.0)
    scales.append(1.0)  # the output layer: mean current, no neuron
    layers: list = []
    keys = jr.split(jr.PRNGKey(0) if key is None else key, len(linears))
    for i, (lin, k) in enumerate(zip(linears, keys)):
        analog = AnalogLinear(lin.in_features, lin.out_features, lin.use_bias, tile=tile, key=k)
        w = lin.weight * (scales[i] / scales[i + 1])
        analog = eqx.tree_at(lambda m: m.weight, analog, w)
        if lin.use_bias:
            analog = eqx.tree_at(lambda m: m.bias, analog, lin.bias / scales[i + 1])
        layers.append(analog)
        if i < len(linears) - 1:
            layers.append(LIF(beta=1.0, threshold=1.0, reset="subtract"))
    return SpikingNetwork(layers, encoder=Encoder("direct", steps), readout="mean")


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

    # Direct coding is the same current every step: one run of max(steps) steps gives the
    # answer after every shorter run too (`readout_over_time`), one compilation per network.
    @eqx.filter_jit
    def accuracy(net, k):
        over_time = jax.vmap(lambda xi, ki: net.readout_over_time(xi, key=ki))(
            x, jr.split(k, x.shape[0])
        )  # (N, T, classes)
        return jnp.mean(jnp.argmax(over_time[:, idx], -1) == y[:, None], axis=0)

    @eqx.filter_jit
    def chips(net, keys):
        def one(k):
            k_prog, k_read, k_run = jr.split(k, 3)
            return accuracy(at_time(program(net, k_prog), t, k_read), k_run)

        return jax.vmap(one)(keys)

    k_ideal, k_dev = jr.split(key)
    n_steps = max(steps)
    net = convert(ann, x_cal, tile=tile, steps=n_steps, percentile=percentile)
    digital = convert(ann, x_cal, tile=ideal_tile(tile), steps=n_steps, percentile=percentile)
    ideal = np.asarray(accuracy(digital, k_ideal), np.float64)
    per_chip = np.asarray(chips(net, jr.split(k_dev, n_chips)), np.float64)  # (chips, steps)
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


def format_conversion(curve: dict, device: str = "device") -> str:
    """The curve as a table: one row per step count."""
    width = max(10, len(device) + 4)
    head = f"{'steps':>6} | {'ANN':>6} | {'SNN ideal':>9} | {'SNN ' + device:>{width}}"
    lines = [head, "-" * len(head)]
    for s, a, d in zip(curve["steps"], curve["snn_ideal"], curve["snn_device"]):
        lines.append(f"{s:>6} | {curve['ann']:>6.3f} | {a:>9.3f} | {d:>{width}.3f}")
    return "\n".join(lines)
