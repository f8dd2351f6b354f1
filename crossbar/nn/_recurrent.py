"""Recurrent spiking layers: any neuron fed back its own spikes through a weight matrix."""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PRNGKeyArray, PyTree

from ..core._layer import AbstractAnalogLayer
from ._lif import AbstractNeuron


class Recurrent(AbstractNeuron):
    r"""A recurrent spiking layer: `cell` (any neuron: `LIF`, `Synaptic`, `ALIF`, your own)
    whose input current adds its own spikes of the step before through `recurrent`,

    $I'[t] = I[t] + V S[t-1]$ (+ the recurrent layer's bias), $S[t], c[t] = \mathrm{cell}(I'[t],
    c[t-1])$,

    all-to-all linear feedback. `Recurrent(LIF(beta), V)` is snnTorch's `RLeaky` (with
    `all_to_all=True`; its `nn.Linear` has a bias) and `Recurrent(Synaptic(alpha, beta), V)` its
    `RSynaptic`, given the same currents and weights: the same spikes and membranes for
    `reset="subtract"` (both) and for `Synaptic`'s `"zero"`. With `reset="zero"` snnTorch's
    `RLeaky` zeroes the whole new potential on a reset step, input included, `(1 - R)(beta U +
    I')`, while `LIF` (as snnTorch's `Leaky`) keeps the step's input, `beta (1 - R) U + I'`:
    we keep `Leaky`'s rule for every LIF.

    **Arguments:**

    - `cell`: the neuron (an `AbstractNeuron`).
    - `recurrent`: the feedback weights `V`, `(n,) -> (n,)` for `n` neurons: an
      `AnalogLinear(n, n, ...)` on crossbar tiles (programmed, drifting and noisy with the
      rest of the chip, and counted in the energy report), or a digital layer
      (`eqx.nn.Linear(n, n, key=...)`, or any callable module).

    The state is `(cell state, S[t-1])`; the spikes carry their surrogate gradients through
    the feedback (backpropagation through time).
    """

    cell: AbstractNeuron
    recurrent: Callable

    def __init__(self, cell: AbstractNeuron | Callable, recurrent: Callable):
        if not isinstance(cell, AbstractNeuron):
            raise ValueError(
                "Recurrent: `cell` must be a neuron (crossbar.LIF, Synaptic, ALIF or another "
                f"crossbar.AbstractNeuron); got {type(cell).__name__}."
            )
        if isinstance(cell, Recurrent):
            raise ValueError("Recurrent: `cell` is already recurrent.")
        if not callable(recurrent):
            raise ValueError(
                "Recurrent: `recurrent` must be a layer (n,) -> (n,): crossbar.AnalogLinear(n, "
                f"n, ...) or eqx.nn.Linear(n, n, key=...); got {recurrent!r}."
            )
        n_in = getattr(recurrent, "in_features", None)
        n_out = getattr(recurrent, "out_features", None)
        if n_in is not None and n_out is not None and n_in != n_out:
            raise ValueError(
                "Recurrent: `recurrent` maps the layer's spikes back onto the same neurons, so "
                f"it must be square; got in_features={n_in}, out_features={n_out}."
            )
        self.cell, self.recurrent = cell, recurrent

    @property
    def is_analog(self) -> bool:
        """Whether the feedback weights are on crossbar tiles."""
        return isinstance(self.recurrent, AbstractAnalogLayer)

    def init_state(self, shape: int | tuple[int, ...], dtype=None) -> tuple[PyTree, Array]:
        """The cell's resting state and no spikes."""
        shape = shape if isinstance(shape, tuple) else (shape,)
        n = getattr(self.recurrent, "in_features", None)
        if len(shape) != 1 or (n is not None and shape[0] != n):
            raise ValueError(
                f"Recurrent: its input current must be (n,) with n = {n} neurons (the "
                f"recurrent layer's size); got shape {shape}."
            )
        return self.cell.init_state(shape, dtype), jnp.zeros(shape, dtype)

    def membrane(self, state) -> Array:
        return self.cell.membrane(state[0])

    def feedback(self, spikes: Array, *, key: PRNGKeyArray | None = None) -> Array:
        """`V S`: the recurrent layer applied to the spikes `S` (with its noise, from `key`,
        when it is analog)."""
        if self.is_analog:
            return self.recurrent(spikes, key=key)
        return self.recurrent(spikes)

    def __call__(
        self, current: ArrayLike, state, *, key: PRNGKeyArray | None = None
    ) -> tuple[Array, tuple]:
        """One step. **Returns:** `(spikes, (cell state, spikes))`."""
        current = jnp.asarray(current)
        inner, spikes = state
        feedback = self.feedback(spikes, key=key)
        spikes, inner = self.cell(current + feedback.astype(current.dtype), inner)
        return spikes, (inner, spikes)


def recurrent_inputs(spikes: Array) -> Array:
    """What a recurrent layer's weights read at each step, from its spikes `(..., T, n)` over
    an inference: the spikes of the step before (none at the first step)."""
    spikes = jnp.asarray(spikes)
    return jnp.concatenate([jnp.zeros_like(spikes[..., :1, :]), spikes[..., :-1, :]], axis=-2)
