"""Second-order (synaptic) and adaptive-threshold leaky integrate-and-fire cells."""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._lif import (
    AbstractNeuron,
    AbstractSurrogate,
    cell_parameter,
    check_reset,
    check_surrogate,
    decay_from,
    trained,
)


def _zeros(shape, dtype) -> Array:
    return jnp.zeros(shape if isinstance(shape, tuple) else (shape,), dtype)


def _fired(u: Array, threshold: Array) -> Array:
    """The reset signal `H(u - threshold)`, carrying no gradient (snnTorch's detached reset)."""
    return jax.lax.stop_gradient((u > threshold).astype(u.dtype))


class Synaptic(AbstractNeuron):
    r"""Second-order leaky integrate-and-fire neurons (a current-based synapse): the semantics
    of snnTorch's `Synaptic`. With the synaptic current $I_{syn}$, the membrane potential $U$,
    the input $X$ and the reset $R = H(U[t-1] - \theta)$ (no gradient),

    - $I_{syn}[t] = \alpha I_{syn}[t-1] + X[t]$, $U[t] = \beta U[t-1] + I_{syn}[t] - R\,\theta$
      for `reset="subtract"`;
    - for `reset="zero"`, the new potential is zeroed on a reset step, $U[t] = (1 - R)(\beta
      U[t-1] + I_{syn}[t])$ (snnTorch's choice: that step's input is dropped from $U$), and the
      synaptic current carries on;

    and $S[t] = H(U[t] - \theta)$ with the surrogate's derivative backward. The state is
    `(I_syn, U)`. NIR's `CubaLIF` is this cell.

    **Arguments:** `alpha` (or `tau_syn`, steps: `alpha = 1 - 1/tau_syn`), `beta` (or `tau`),
    each a number in [0, 1] or an array of one value per neuron; `threshold` (> 0, a number or
    per-neuron array); `reset`; `surrogate` (default `FastSigmoid()`); `learn_alpha`,
    `learn_beta`, `learn_threshold` (which of them training updates; decays are kept in
    [0, 1] where used).
    """

    alpha: Array
    beta: Array
    threshold: Array
    reset: Literal["subtract", "zero"] = eqx.field(static=True)
    surrogate: AbstractSurrogate = eqx.field(static=True)
    learn_alpha: bool = eqx.field(static=True)
    learn_beta: bool = eqx.field(static=True)
    learn_threshold: bool = eqx.field(static=True)

    def __init__(
        self,
        alpha: ArrayLike | None = None,
        beta: ArrayLike | None = None,
        *,
        tau_syn: ArrayLike | None = None,
        tau: ArrayLike | None = None,
        threshold: ArrayLike = 1.0,
        reset: str = "subtract",
        surrogate: AbstractSurrogate | None = None,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
    ):
        self.alpha = decay_from("Synaptic", "alpha", alpha, tau_syn, "tau_syn")
        self.beta = decay_from("Synaptic", "beta", beta, tau, "tau")
        self.threshold = cell_parameter("Synaptic", "threshold", threshold, 0.0)
        check_reset("Synaptic", reset)
        self.reset = reset
        self.surrogate = check_surrogate("Synaptic", surrogate)
        self.learn_alpha, self.learn_beta = bool(learn_alpha), bool(learn_beta)
        self.learn_threshold = bool(learn_threshold)

    def init_state(self, shape: int | tuple[int, ...], dtype=None) -> tuple[Array, Array]:
        """`(I_syn, U)` at rest: zeros of this shape."""
        return _zeros(shape, dtype), _zeros(shape, dtype)

    def membrane(self, state: tuple[Array, Array]) -> Array:
        return state[1]

    def __call__(self, current: ArrayLike, state: tuple[Array, Array]):
        """One step. **Returns:** `(spikes, (I_syn, U))`."""
        current = jnp.asarray(current)
        syn, mem = state
        alpha = jnp.clip(trained(self.alpha, self.learn_alpha), 0.0, 1.0)
        beta = jnp.clip(trained(self.beta, self.learn_beta), 0.0, 1.0)
        theta = trained(self.threshold, self.learn_threshold)
        reset = _fired(mem, theta)
        syn = alpha * syn + current
        mem = beta * mem + syn
        if self.reset == "subtract":
            mem = mem - reset * theta
        else:
            mem = (1.0 - reset) * mem
        return self.surrogate(mem - theta), (syn, mem)


class ALIF(AbstractNeuron):
    r"""Adaptive-threshold leaky integrate-and-fire neurons (Bellec et al., NeurIPS 2018, the
    LSNN's ALIF): each spike raises the neuron's threshold, which relaxes back with `rho`.

    With the adaptation $a$, the threshold $b[t] = b_0 + \beta_a a[t]$ and the spike $S$,

    - $a[t] = \rho\, a[t-1] + S[t-1]$ (the spike carries its surrogate gradient, so the
      adaptation is trained through as in the LSNN);
    - $U[t] = \beta U[t-1] + I[t] - R\, b[t-1]$ for `reset="subtract"` (the threshold the
      neuron crossed is subtracted), $U[t] = \beta (1 - R) U[t-1] + I[t]$ for `"zero"`, with
      $R = S[t-1]$ without gradient (as `LIF`);
    - $S[t] = H(U[t] - b[t])$.

    Bellec et al. write $a[t+1] = \rho a[t] + (1 - \rho) S[t]$ in some versions: that is this
    cell with $\beta_a$ scaled by $1 - \rho$. With $\beta_a = 0$ it is `LIF` (with `"subtract"`).
    The state is `(U, a, S)`.

    **Arguments:** `beta` (or `tau`, steps); `threshold` ($b_0$, > 0); `beta_a` (the
    threshold's rise per unit of adaptation, >= 0, default 0.2); `rho` (the adaptation's decay
    per step in [0, 1], default 0.9; or `tau_a`, steps, for `rho = 1 - 1/tau_a`); each a
    number or one value per neuron; `reset`; `surrogate`; `learn_beta`, `learn_threshold`,
    `learn_adaptation` (`beta_a` and `rho`).
    """

    beta: Array
    threshold: Array
    beta_a: Array
    rho: Array
    reset: Literal["subtract", "zero"] = eqx.field(static=True)
    surrogate: AbstractSurrogate = eqx.field(static=True)
    learn_beta: bool = eqx.field(static=True)
    learn_threshold: bool = eqx.field(static=True)
    learn_adaptation: bool = eqx.field(static=True)

    def __init__(
        self,
        beta: ArrayLike | None = None,
        *,
        tau: ArrayLike | None = None,
        threshold: ArrayLike = 1.0,
        beta_a: ArrayLike = 0.2,
        rho: ArrayLike | None = None,
        tau_a: ArrayLike | None = None,
        reset: str = "subtract",
        surrogate: AbstractSurrogate | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        learn_adaptation: bool = False,
    ):
        self.beta = decay_from("ALIF", "beta", beta, tau, "tau")
        self.threshold = cell_parameter("ALIF", "threshold", threshold, 0.0)
        self.beta_a = cell_parameter("ALIF", "beta_a", beta_a, 0.0, float("inf"))
        if rho is None and tau_a is None:
            rho = 0.9
        self.rho = decay_from("ALIF", "rho", rho, tau_a, "tau_a")
        check_reset("ALIF", reset)
        self.reset = reset
        self.surrogate = check_surrogate("ALIF", surrogate)
        self.learn_beta, self.learn_threshold = bool(learn_beta), bool(learn_threshold)
        self.learn_adaptation = bool(learn_adaptation)

    def init_state(self, shape: int | tuple[int, ...], dtype=None):
        """`(U, a, S)` at rest: zeros of this shape."""
        return _zeros(shape, dtype), _zeros(shape, dtype), _zeros(shape, dtype)

    def membrane(self, state) -> Array:
        return state[0]

    def adaptive_threshold(self, state) -> Array:
        """The threshold $b = b_0 + \\beta_a a$ that the state's spikes were compared with."""
        b0 = trained(self.threshold, self.learn_threshold)
        return b0 + trained(self.beta_a, self.learn_adaptation) * state[1]

    def __call__(self, current: ArrayLike, state):
        """One step. **Returns:** `(spikes, (U, a, S))`."""
        current = jnp.asarray(current)
        u, a, s = state
        beta = jnp.clip(trained(self.beta, self.learn_beta), 0.0, 1.0)
        rho = jnp.clip(trained(self.rho, self.learn_adaptation), 0.0, 1.0)
        b_prev = self.adaptive_threshold(state)
        reset = jax.lax.stop_gradient(s)
        if self.reset == "subtract":
            u = beta * u + current - reset * b_prev
        else:
            u = beta * (1.0 - reset) * u + current
        a = rho * a + s
        b = self.adaptive_threshold((u, a, s))
        spikes = self.surrogate(u - b)
        return spikes, (u, a, spikes)
