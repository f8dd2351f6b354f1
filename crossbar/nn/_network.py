"""A spiking network: a stack of layers run over the time steps of one inference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

import devices

from ..core._chip import analog_layers, sample_chip
from ..core._layer import AbstractAnalogLayer
from ._encoders import Encoder
from ._lif import AbstractNeuron


def _takes_key(layer) -> bool:
    return isinstance(layer, AbstractAnalogLayer)


class SpikingNetwork(eqx.Module):
    """Layers run over `T` time steps with `jax.lax.scan` (multi-step), acting on one example.

    `layers` is a sequence of analog layers (`AnalogLinear`, `AnalogConv2d`), neurons (`LIF`,
    `Synaptic`, `ALIF`, `Recurrent(...)`: any `AbstractNeuron`) and stateless functions
    (`Flatten`, `MaxPool2d`, `eqx.nn.Lambda(...)`). The input is encoded over time by
    `encoder` (rate, latency or direct coding), or given already as `(T, ...)` when `encoder`
    is None. Each neuron keeps its state across steps; analog layers inside a neuron (the
    recurrent weights of a `Recurrent`) are programmed, read and sampled with the rest.

    Before programming, one call samples *one* chip for the whole inference (device noise,
    no drift compensation) and runs every step through it; a programmed and read chip
    (`crossbar.at_time`) draws only periphery noise per step.

    **Readouts** (`readout`): `"mean"` (default), the mean over time of the last layer's
    output (the firing rate after a LIF, the mean current after a linear layer); `"sum"`, its
    sum (a spike count after a LIF); `"membrane"`, the mean membrane potential of the last
    LIF layer.

    **Arguments:** `layers`; `encoder` (default `Encoder("rate", 8)`); `readout`.
    """

    layers: tuple
    encoder: Encoder | None
    readout: Literal["mean", "sum", "membrane"] = eqx.field(static=True)

    def __init__(
        self,
        layers: Sequence,
        *,
        encoder: Encoder | None = Encoder(),
        readout: Literal["mean", "sum", "membrane"] = "mean",
    ):
        layers = tuple(layers)
        if not layers:
            raise ValueError("SpikingNetwork: `layers` must hold at least one layer.")
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise ValueError(f"SpikingNetwork: layers[{i}] is not callable: {layer!r}.")
        if readout not in ("mean", "sum", "membrane"):
            raise ValueError(
                f'SpikingNetwork: `readout` must be "mean", "sum" or "membrane"; got {readout!r}.'
            )
        if readout == "membrane" and not any(isinstance(layer, AbstractNeuron) for layer in layers):
            raise ValueError('SpikingNetwork: readout="membrane" needs a neuron layer (LIF...).')
        if encoder is not None and not isinstance(encoder, Encoder):
            raise ValueError(
                f"SpikingNetwork: `encoder` must be a crossbar.Encoder or None; got {encoder!r}."
            )
        self.layers, self.encoder, self.readout = layers, encoder, readout

    @property
    def needs_key(self) -> bool:
        """Whether a forward pass draws random numbers (rate coding, device or periphery noise)."""
        if self.encoder is not None and self.encoder.kind == "rate":
            return True
        for layer in analog_layers(self):
            tile = layer.tile
            if tile.periphery_is_noisy or (layer.state is None and tile.device.is_stochastic):
                return True
        return False

    def _step(self, states, x_t, key, record: bool = False):
        """One time step. With `record`, also each layer's input (analog layers) and output
        spikes (neurons), for energy and activity counts."""
        h, new_states, membrane, seen = x_t, [], None, []
        j = 0
        for i, layer in enumerate(self.layers):
            if isinstance(layer, AbstractNeuron):
                if analog_layers(layer):  # e.g. a Recurrent with its weights on a crossbar
                    k = None if key is None else devices.fold(key, i)
                    h, state = layer(h, states[j], key=k)
                else:
                    h, state = layer(h, states[j])
                new_states.append(state)
                membrane, j = layer.membrane(state), j + 1
                seen.append(h)
            elif _takes_key(layer):
                seen.append(h)
                h = layer(h, key=None if key is None else devices.fold(key, i))
            else:
                seen.append(None)
                h = layer(h)
        extra = (tuple(seen),) if record else ()
        return tuple(new_states), (h, membrane) + extra

    def _initial_states(self, x_t):
        """Each neuron's resting state, shaped like its input, found by tracing shapes only."""
        shapes, h = [], jax.ShapeDtypeStruct(x_t.shape, x_t.dtype)
        key = jax.ShapeDtypeStruct((2,), jnp.uint32)  # shapes only: nothing is drawn
        for layer in self.layers:
            if isinstance(layer, AbstractNeuron):
                shapes.append((layer, h))
            elif _takes_key(layer):
                h = eqx.filter_eval_shape(lambda x, k, layer=layer: layer(x, key=k), h, key)
            else:
                h = jax.eval_shape(layer, h)
        return tuple(layer.init_state(s.shape, s.dtype) for layer, s in shapes)

    def __call__(self, x: ArrayLike, *, key: PRNGKeyArray | None = None) -> Array:
        """One example (`x`, or `(T, ...)` without an encoder) to the readout."""
        return self._run(x, key, record=False)

    def readout_over_time(self, x: ArrayLike, *, key: PRNGKeyArray | None = None) -> Array:
        """The readout after each step of one inference, `(T, ...)`: row `t` is what the
        network would answer had the inference stopped after `t + 1` steps (the running mean,
        or sum, of the last layer's output; the running mean membrane for `"membrane"`). The
        last row equals `net(x, key=key)`. With a deterministic encoder (direct or latency
        coding: not rate), an accuracy-against-time-steps curve from one run."""
        return self._run(x, key, record=False, over_time=True)

    def record(self, x: ArrayLike, *, key: PRNGKeyArray | None = None) -> tuple[Array, tuple]:
        """The readout and the activity of one inference: a tuple with, for each layer, its
        input at every step `(T, ...)` for analog layers, its output spikes `(T, ...)` for
        neurons, None for the rest. What `crossbar.estimate_energy` counts."""
        return self._run(x, key, record=True)

    def _run(self, x, key, record: bool, over_time: bool = False):
        if self.needs_key and key is None:
            raise RuntimeError(
                "SpikingNetwork: this forward pass draws random numbers (rate coding, device "
                "or periphery noise) and needs a key: call net(x, key=key)."
            )
        k_enc, k_chip, k_steps = jr.split(jr.PRNGKey(0) if key is None else key, 3)
        x = jnp.asarray(x)
        if self.encoder is not None:
            seq = self.encoder(x, key=k_enc)
        else:
            if x.ndim < 1 or x.shape[0] < 1:
                raise ValueError(
                    f"SpikingNetwork: without an encoder the input must be (T, ...) with T >= 1; "
                    f"got shape {x.shape}."
                )
            seq = x.astype(jnp.float32) if not jnp.issubdtype(x.dtype, jnp.floating) else x
        net = self
        if any(layer.state is None for layer in analog_layers(self)):
            net = sample_chip(self, k_chip, compensate=False)
        keys = jr.split(k_steps, seq.shape[0]) if key is not None else None

        def body(states, inp):
            x_t, k_t = inp
            return net._step(states, x_t, k_t, record)

        _, outs = jax.lax.scan(body, net._initial_states(seq[0]), (seq, keys))
        read = outs[1] if self.readout == "membrane" else outs[0]  # (T, ...) what is read out
        if over_time:
            total = jnp.cumsum(read, axis=0)
            if self.readout == "sum":
                return total
            t = jnp.arange(1, read.shape[0] + 1, dtype=total.dtype)
            return total / t.reshape((-1,) + (1,) * (total.ndim - 1))
        y = read.sum(0) if self.readout == "sum" else read.mean(0)
        return (y, outs[2]) if record else y
