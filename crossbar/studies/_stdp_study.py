"""The worked example of on-chip learning: Diehl and Cook's unsupervised digit
classifier (STDP with winner-take-all and adaptive thresholds) on pulsed crossbar devices."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

import devices
from devices.checks import check_int, check_nonnegative, check_positive

from ..core._tile import Tile
from ..data import digits
from ..nn._encoders import rate_encode
from ..nn._stdp import STDP, PlasticLinear

# ---------------------------------------------------------------------- the worked example


class _WTA(eqx.Module):
    """The excitatory population of Diehl and Cook, simplified: LIF neurons with adaptive
    thresholds and hard lateral inhibition (one winner per step)."""

    beta: float
    v_th: float

    def run(self, layer: PlasticLinear, theta: Array, spikes_in: Array, key) -> Array:
        """Output spikes `(T, n_out)` for input spikes `(T, n_in)`; `key` for the read noise
        of a noisy tile (None otherwise)."""
        noisy = layer.tile is not None and layer.tile.periphery_is_noisy
        keys = jr.split(key, spikes_in.shape[0]) if noisy else None

        def step(v, inputs):
            s, k = inputs
            v = self.beta * v + layer(s, key=k)
            over = v - (self.v_th + theta)
            fire = jnp.max(over) > 0
            winner = jax.nn.one_hot(jnp.argmax(over), v.shape[0], dtype=v.dtype) * fire.astype(
                v.dtype
            )
            v = jnp.where(fire, 0.0, v)  # the winner resets, inhibition silences the others
            return v, winner

        v0 = jnp.zeros(layer.out_features, layer.state.g.dtype)
        _, out = jax.lax.scan(step, v0, (spikes_in, keys))
        return out


def stdp_digits(
    device: devices.AbstractPulsedDevice,
    *,
    key: PRNGKeyArray,
    n_neurons: int = 100,
    epochs: int = 1,
    steps: int = 100,
    rule: STDP = STDP(a_minus=0.003, x_tar=1.0),
    rate: float = 200.0,
    theta_plus: float = 0.1,
    v_th: float = 4.0,
    w_init: tuple[float, float] = (0.0, 0.3),
    tile: Tile | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
) -> dict:
    """Unsupervised STDP on the 8 x 8 digits (Diehl and Cook 2015, scaled down), on `device`.

    64 Poisson inputs (pixel x `rate` Hz for `steps` steps of `rule.dt`; each image scaled to
    the same mean intensity 0.3 first), one `PlasticLinear` layer of `n_neurons` excitatory
    neurons (membrane time constant 20 ms, threshold `v_th` plus an adaptive part) with hard
    lateral inhibition (at most one spike per step, and every membrane reset when one fires:
    Diehl and Cook's inhibitory population in the limit of strong inhibition) and adaptive
    thresholds (`theta_plus` per spike, no decay during learning). Each training digit is shown
    once per epoch; after it, the STDP change of its spike trains (`rule`: the pair rule with
    a weak depression window and Diehl and Cook's offset `x_tar`) is applied as pulses.
    Initial weights uniform in `w_init`. With `tile`, the layer is read through that tile's
    converters and noise (`PlasticLinear`), in learning and in the readout.

    The readout never touches the features: the learned layer (frozen, thresholds kept) gives
    spike counts; two readouts are fitted on the training counts: Diehl and Cook's class vote
    (each neuron labelled by the class it fires most for; a test digit goes to the class whose
    neurons fire most on average) and a linear least-squares classifier (ridge 1e-3).

    **Returns:** a dict with `vote` and `linear` test accuracies after learning, the same for
    the initial weights as `vote_before` and `linear_before`, `weights` (n_neurons, 64) and
    `spike_rate` (mean output spikes per test digit).
    """
    check_int("stdp_digits", "n_neurons", n_neurons)
    check_int("stdp_digits", "epochs", epochs)
    check_int("stdp_digits", "steps", steps)
    check_positive("stdp_digits", "rate", rate)
    check_positive("stdp_digits", "v_th", v_th)
    check_nonnegative("stdp_digits", "theta_plus", theta_plus)
    ds = digits()
    x_tr, y_tr = _equal_ink(ds.x_train[:n_train]), ds.y_train[:n_train]
    x_te, y_te = _equal_ink(ds.x_test[:n_test]), ds.y_test[:n_test]
    p_max = rate * rule.dt
    if p_max > 1:
        raise ValueError(f"stdp_digits: `rate` x dt must be <= 1; got {rate} Hz x {rule.dt} s.")
    k_init, k_train, k_eval = jr.split(key, 3)
    layer = PlasticLinear(64, n_neurons, device=device, w_init=w_init, tile=tile, key=k_init)
    wta = _WTA(beta=math.exp(-rule.dt / 20e-3), v_th=v_th)

    def present(carry, inputs):
        layer, theta = carry
        x, k = inputs
        k_in, k_up = jr.split(k)
        pre = rate_encode(p_max * x, steps, key=k_in)
        post = wta.run(layer, theta, pre, jr.fold_in(k, 2))
        layer = layer.stdp(rule, pre, post, k_up)
        return (layer, theta + theta_plus * post.sum(0)), None

    @eqx.filter_jit
    def learn(layer, theta, xs, key):
        # the scan carries the layer's arrays; its configuration (Python floats) stays put
        arrays, config = eqx.partition(layer, eqx.is_array)

        def body(carry, inputs):
            (layer, theta), out = present((eqx.combine(carry[0], config), carry[1]), inputs)
            return (eqx.filter(layer, eqx.is_array), theta), out

        keys = jr.split(key, xs.shape[0])
        (arrays, theta), _ = jax.lax.scan(body, (arrays, theta), (xs, keys))
        return eqx.combine(arrays, config), theta

    @eqx.filter_jit
    def counts(layer, theta, xs, key):
        keys = jr.split(key, xs.shape[0])

        def one(x, k):
            return wta.run(
                layer, theta, rate_encode(p_max * x, steps, key=k), jr.fold_in(k, 1)
            ).sum(0)

        return jax.vmap(one)(xs, keys)

    def readouts(layer, theta):
        k_a, k_b = jr.split(k_eval)
        c_tr = np.asarray(counts(layer, theta, jnp.asarray(x_tr), k_a))
        c_te = np.asarray(counts(layer, theta, jnp.asarray(x_te), k_b))
        return _vote(c_tr, y_tr, c_te, y_te), _linear(c_tr, y_tr, c_te, y_te), c_te.sum(1).mean()

    theta = jnp.zeros(n_neurons)
    vote0, lin0, _ = readouts(layer, theta)
    for epoch in range(epochs):
        order = jr.permutation(jr.fold_in(k_train, epoch), len(x_tr))
        layer, theta = learn(
            layer, theta, jnp.asarray(x_tr)[order], jr.fold_in(k_train, 1000 + epoch)
        )
    vote, lin, rate_out = readouts(layer, theta)
    return {
        "vote": vote,
        "linear": lin,
        "vote_before": vote0,
        "linear_before": lin0,
        "weights": np.asarray(layer.weight),
        "spike_rate": float(rate_out),
    }


def _equal_ink(x: np.ndarray, mean: float = 0.3) -> np.ndarray:
    """Each image scaled to the same mean intensity (clipped to 1), so no digit drives the
    layer harder than another by its amount of ink alone."""
    return np.clip(x * (mean / np.maximum(x.mean(1, keepdims=True), 1e-6)), 0.0, 1.0)


def _vote(c_tr, y_tr, c_te, y_te) -> float:
    n_classes = int(y_tr.max()) + 1
    mean = np.stack([c_tr[y_tr == c].mean(0) for c in range(n_classes)])  # (classes, neurons)
    label = mean.argmax(0)
    score = np.stack(
        [
            c_te[:, label == c].mean(1) if (label == c).any() else np.full(len(c_te), -1.0)
            for c in range(n_classes)
        ],
        1,
    )
    return float((score.argmax(1) == y_te).mean())


def _linear(c_tr, y_tr, c_te, y_te, ridge: float = 1e-3) -> float:
    def feats(c):
        return np.concatenate([c, np.ones((len(c), 1))], 1)

    a = feats(c_tr)
    t = np.eye(int(y_tr.max()) + 1)[y_tr]
    coef = np.linalg.solve(a.T @ a + ridge * len(a) * np.eye(a.shape[1]), a.T @ t)
    return float(((feats(c_te) @ coef).argmax(1) == y_te).mean())
