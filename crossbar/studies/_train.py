"""Training, hardware-aware or plain, with atomic checkpoints; and evaluation over a chip's life."""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec
from jaxtyping import PRNGKeyArray

from devices.checks import check_int, is_real

from ..core._chip import analog_layers, as_digital, at_time, program, sample_chip
from ..core._layer import AbstractAnalogLayer
from ..data import Dataset
from ..io._checkpoint import checkpoint_meta, load_checkpoint, save_checkpoint
from ._hosts import chip_mesh, to_host
from ._predict import _batched_logits


def _clip_weights(model, sigma: float):
    """Each analog layer's weights clipped to +-sigma x their standard deviation."""

    def clip(layer):
        linear = layer.crossbar
        bound = sigma * jnp.std(linear.weight)
        new = eqx.tree_at(lambda m: m.weight, linear, jnp.clip(linear.weight, -bound, bound))
        return new if linear is layer else eqx.tree_at(lambda m: m.crossbar, layer, new)

    return jax.tree_util.tree_map(
        lambda x: clip(x) if isinstance(x, AbstractAnalogLayer) else x,
        model,
        is_leaf=lambda x: isinstance(x, AbstractAnalogLayer),
    )


def _forward(model, key, hardware_aware: bool):
    return sample_chip(model, key) if hardware_aware else as_digital(model)


def _update(model, opt_state, x, y, key, optimizer, hardware_aware, clip_sigma):
    """One optimiser step on a batch: `(model, opt_state, loss, accuracy)`."""
    k_chip, k_fwd = jr.split(key)

    def loss_fn(model):
        logits = _batched_logits(_forward(model, k_chip, hardware_aware), x, k_fwd)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    (loss, acc), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model)
    params = eqx.filter(model, eqx.is_inexact_array)
    # optax mixes Python floats and integer step counts (Adam's bias correction), which only
    # standard dtype promotion allows; our own code is strict-promotion clean.
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = optimizer.update(grads, opt_state, params)
    model = eqx.apply_updates(model, updates)
    if clip_sigma is not None:
        model = _clip_weights(model, clip_sigma)
    return model, opt_state, loss, acc


@functools.cache
def _compiled(treedef, static, optimizer, hardware_aware, clip_sigma):
    """The jitted steps for one structure of (model, optimiser state), over its array leaves
    as a flat list: one compilation per structure for the whole process, and a call that
    dispatches through JAX's C++ fast path (a module's pytree costs a few hundred
    microseconds of Python per call to flatten, as much as a small network's step)."""

    def core(leaves, x, y, key):
        model, opt_state = eqx.combine(jax.tree_util.tree_unflatten(treedef, leaves), static)
        model, opt_state, loss, acc = _update(
            model, opt_state, x, y, key, optimizer, hardware_aware, clip_sigma
        )
        dynamic, _ = eqx.partition((model, opt_state), eqx.is_array)
        return jax.tree_util.tree_leaves(dynamic), loss, acc

    def indexed(leaves, x_all, y_all, order, i, k_epoch, batch_size):
        """Step `i` of an epoch: its batch `order[i b : (i + 1) b]` and its key
        `fold_in(k_epoch, i + 1)`, gathered inside the compiled step."""
        idx = jax.lax.dynamic_slice_in_dim(order, i * batch_size, batch_size)
        return core(leaves, x_all[idx], y_all[idx], jr.fold_in(k_epoch, i + 1))

    return jax.jit(core), jax.jit(indexed, static_argnums=6)


class TrainStep:
    """One compiled optimiser step of a network on a batch, keeping the model and the
    optimiser state between calls.

    ```python
    step = crossbar.TrainStep(net, optimizer=optax.adam(2e-3))  # hardware-aware
    for x, y in batches:
        loss, accuracy = step(x, y, key=jr.fold_in(key, i))
    net = step.model
    ```

    What `crossbar.train` runs: **hardware-aware** (default), each call samples a fresh chip
    with `crossbar.sample_chip` and runs the batch through it with per-example periphery
    noise; **plain** (`hardware_aware=False`), the same network computed digitally. Loss:
    softmax cross-entropy of the readout against integer labels. Compiled once per network
    structure and optimiser (for the process, across instances); the call itself costs a
    few tens of microseconds of Python. The data are not checked here (no checks of traced
    values in the step: see `crossbar.value_checks`); `crossbar.train` checks them once.

    **Arguments:** `model`; `optimizer` (an optax transformation; default Adam at
    `learning_rate`); `hardware_aware`; `clip_sigma` (each analog layer's weights clipped to
    that many standard deviations after every step, or None); `opt_state` (to continue).
    """

    def __init__(
        self,
        model,
        *,
        optimizer: optax.GradientTransformation | None = None,
        learning_rate: float = 2e-3,
        hardware_aware: bool = True,
        clip_sigma: float | None = None,
        opt_state=None,
    ):
        self.optimizer = optimizer or _adam(float(learning_rate))
        if opt_state is None:
            with jax.numpy_dtype_promotion("standard"):  # see _update
                opt_state = self.optimizer.init(eqx.filter(model, eqx.is_inexact_array))
        dynamic, static = eqx.partition((model, opt_state), eqx.is_array)
        self._leaves, treedef = jax.tree_util.tree_flatten(dynamic)
        self._treedef, self._static = treedef, static
        self._core, self._indexed = _compiled(
            treedef, static, self.optimizer, bool(hardware_aware), clip_sigma
        )

    def __call__(self, x, y, *, key: PRNGKeyArray):
        """One step on the batch `x`, integer labels `y`. **Returns:** `(loss, accuracy)` of
        the batch before the update (device scalars)."""
        self._leaves, loss, acc = self._core(self._leaves, x, y, key)
        return loss, acc

    def _epoch_step(self, x_all, y_all, order, i: int, k_epoch, batch_size: int):
        self._leaves, loss, acc = self._indexed(
            self._leaves, x_all, y_all, order, i, k_epoch, batch_size
        )
        return loss, acc

    @property
    def state(self):
        """`(model, opt_state)` now."""
        return eqx.combine(jax.tree_util.tree_unflatten(self._treedef, self._leaves), self._static)

    @property
    def model(self):
        """The model now."""
        return self.state[0]


@eqx.filter_jit
def _accuracy(model, x, y, key, hardware_aware):
    k_chip, k_fwd = jr.split(key)
    logits = _batched_logits(_forward(model, k_chip, hardware_aware), x, k_fwd)
    return jnp.mean(jnp.argmax(logits, -1) == y)


@functools.cache
def _adam(learning_rate: float) -> optax.GradientTransformation:
    """One Adam per learning rate, so repeated `train` calls reuse the compiled step."""
    return optax.adam(learning_rate)


def _check_labels(owner: str, model, data: Dataset) -> None:
    """Every label below the network's number of outputs (else the loss is NaN)."""
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)  # shapes only: nothing is drawn
    shape = eqx.filter_eval_shape(
        lambda m, x, k: _batched_logits(as_digital(m), x, k), model, data.x_train[:1], key
    ).shape
    top = int(max(data.y_train.max(), data.y_test.max()))
    if top >= shape[-1]:
        raise ValueError(
            f"{owner}: the labels reach {top}, but the network has {shape[-1]} outputs (labels "
            f"must lie in 0 ... {shape[-1] - 1}): give the last layer at least {top + 1}."
        )


def _check_same_settings(owner: str, path, saved: dict, settings: dict) -> None:
    now = json.loads(json.dumps(settings, default=str))
    for name, value in now.items():
        if name in saved and saved[name] != value:
            raise ValueError(
                f"{owner}: the checkpoint {path} was written with {name}={saved[name]!r}, this run "
                f"has {name}={value!r}; resuming would mix the two. Start afresh (resume=False, "
                "or `crossbar train --no-resume`), write another checkpoint, or pass "
                "allow_changed=True (`--allow-changed`) to continue under the new settings."
            )


def _check_data(data) -> Dataset:
    if not isinstance(data, Dataset):
        raise ValueError(
            "train/evaluate: `data` must be a crossbar.data.Dataset (crossbar.data.digits(), or "
            f"crossbar.data.arrays(x_train, y_train, x_test, y_test)); got {type(data).__name__}."
        )
    return data


def train(
    model,
    data: Dataset,
    *,
    key: PRNGKeyArray,
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    optimizer: optax.GradientTransformation | None = None,
    hardware_aware: bool = True,
    clip_sigma: float | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = True,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    meta: dict | None = None,
    allow_changed: bool = False,
):
    """Train a network of analog layers with optax; hardware-aware or plain.

    Each step is one `eqx.filter_jit`-compiled update on a batch. **Hardware-aware**
    (default): every step samples a fresh chip with `crossbar.sample_chip` (programming noise,
    drift to a time drawn log-uniformly from each tile's `train_time`, read noise, drift
    compensation), runs the whole batch through it with per-example periphery noise, and
    takes the gradient through the reparameterised noise to the weights. **Plain**: the same
    network computed digitally (`crossbar.as_digital`). Optionally each analog layer's
    weights are clipped to `clip_sigma` standard deviations after every step.

    With `checkpoint`, the model, the optimiser state and the history are written atomically
    after every epoch (a run killed mid-write leaves the last good checkpoint); with `resume`
    a run continues from an existing checkpoint, with the same batches and keys it would have
    had; `meta` (JSON-able) is stored in every checkpoint beside the history and the settings
    (`hardware_aware`, `batch_size`, `clip_sigma`, `learning_rate`). A checkpoint written with
    other settings (or `meta`) is not resumed: a `ValueError` names what differs, unless
    `allow_changed=True` (then the run continues under the new settings and stores them).
    `epochs` may differ (to train on). Loss: softmax cross-entropy of the network's readout.

    **Returns:** `(model, history)`, history a list of per-epoch dicts (`loss`,
    `train_accuracy`, `test_accuracy`, `seconds`).
    """
    owner = "crossbar.train"
    data = _check_data(data)
    check_int(owner, "epochs", epochs)
    check_int(owner, "batch_size", batch_size)
    n = data.x_train.shape[0]
    if batch_size > n:
        raise ValueError(f"{owner}: `batch_size` {batch_size} exceeds the {n} training examples.")
    if not analog_layers(model):
        raise ValueError(f"{owner}: the model holds no analog layer.")
    if clip_sigma is not None and not (is_real(clip_sigma) and clip_sigma > 0):
        raise ValueError(f"{owner}: `clip_sigma` must be > 0 or None; got {clip_sigma!r}.")
    if optimizer is None and not (
        is_real(learning_rate) and math.isfinite(learning_rate) and learning_rate > 0
    ):
        raise ValueError(
            f"{owner}: `learning_rate` must be a finite number > 0; got {learning_rate!r}."
        )
    _check_labels(owner, model, data)
    settings = {"hardware_aware": hardware_aware, "batch_size": batch_size}
    settings["clip_sigma"] = clip_sigma
    if optimizer is None or meta is None or "lr" not in meta:  # an optax optimiser is opaque
        settings["learning_rate"] = None if optimizer is not None else float(learning_rate)
    settings.update(meta or {})
    optimizer = optimizer or _adam(float(learning_rate))
    with jax.numpy_dtype_promotion("standard"):  # see _update
        opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))

    start, history = 0, []
    if checkpoint is not None and resume and os.path.exists(checkpoint):
        saved = checkpoint_meta(checkpoint)
        if not allow_changed:
            _check_same_settings(owner, checkpoint, saved, settings)
        (model, opt_state), saved = load_checkpoint(checkpoint, (model, opt_state))
        start, history = saved["epoch"] + 1, saved["history"]
        if log:
            log(f"resumed from {checkpoint} after epoch {start}")

    step = TrainStep(
        model,
        optimizer=optimizer,
        hardware_aware=hardware_aware,
        clip_sigma=clip_sigma,
        opt_state=opt_state,
    )
    x_all, y_all = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    steps = n // batch_size
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        k_epoch = jr.fold_in(key, epoch)
        order = jr.permutation(jr.fold_in(k_epoch, 0), n)
        bar = _progress(steps, f"epoch {epoch + 1}/{epochs}") if progress else None
        losses, accs = [], []
        for i in range(steps):
            loss, acc = step._epoch_step(x_all, y_all, order, i, k_epoch, batch_size)
            losses.append(loss)
            accs.append(acc)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        model, opt_state = step.state
        record = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)),
            "train_accuracy": float(np.mean(accs)),
            "test_accuracy": float(
                _accuracy(model, x_test, y_test, jr.fold_in(k_epoch, steps + 1), hardware_aware)
            ),
            "seconds": time.perf_counter() - t0,
        }
        history.append(record)
        if log:
            log(
                f"epoch {epoch + 1}/{epochs}: loss {record['loss']:.4f}, train "
                f"{record['train_accuracy']:.3f}, test {record['test_accuracy']:.3f} "
                f"({record['seconds']:.1f} s)"
            )
        if checkpoint is not None:
            save_checkpoint(
                checkpoint, (model, opt_state), epoch=epoch, history=history, **settings
            )
    return model, history


def _progress(total: int, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, leave=False, disable=None)


@eqx.filter_jit
def _drift_run(model, x, y, t, keys):
    """Accuracy `(chips, times)`: every chip programmed once and read at every time."""

    def one_chip(k):
        k_prog, k_read = jr.split(k)
        chip = program(model, k_prog)

        def at(t, kt):
            k_at, k_fwd = jr.split(kt)
            logits = _batched_logits(at_time(chip, t, k_at), x, k_fwd)
            return jnp.mean(jnp.argmax(logits, -1) == y)

        return jax.vmap(at)(t, jr.split(k_read, t.shape[0]))

    return jax.vmap(one_chip)(keys)


def evaluate_drift(
    model,
    data: Dataset,
    times: Sequence[float],
    n_chips: int,
    key: PRNGKeyArray,
) -> dict:
    """Accuracy on the test split at each time since programming, over `n_chips` chips.

    Every chip is programmed once (its own key) and read at every time; all chips and times
    run at once under `jax.vmap`, in one compiled computation, the chips sharded over every
    JAX device where there are several (all processes' after `jax.distributed.initialize()`:
    every process gets the whole result).

    **Returns:** a dict of plain lists: `times_s`, `accuracy` (`[chip][time]`) and per time
    `mean`, `std`, `median`, `min`, `max`.
    """
    data = _check_data(data)
    check_int("evaluate_drift", "n_chips", n_chips)
    times = [float(t) for t in times]
    if not times or any(not np.isfinite(t) or t < 0 for t in times):
        raise ValueError(f"evaluate_drift: `times` must be seconds >= 0; got {times}.")
    x, y = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    t = jnp.asarray(times)

    keys = jr.split(key, n_chips)
    if len(jax.devices()) > 1:  # the chips over every device, all processes' included
        keys = jax.device_put(keys, NamedSharding(chip_mesh(n_chips), PartitionSpec("chips")))
    acc = to_host(_drift_run(model, x, y, t, keys)).astype(np.float64)
    return {
        "times_s": times,
        "n_chips": n_chips,
        "accuracy": acc.tolist(),
        "mean": acc.mean(0).tolist(),
        "std": acc.std(0).tolist(),
        "median": np.median(acc, 0).tolist(),
        "min": acc.min(0).tolist(),
        "max": acc.max(0).tolist(),
    }
