"""Per-channel normalisation (`ChannelNorm`) and its folding into the analog layer before it
(`fold_norms`), the inference form of batch normalisation."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from devices.checks import is_integer

from ..core._layer import AbstractAnalogLayer
from ._network import SpikingNetwork


class ChannelNorm(eqx.Module):
    """Per-channel normalisation: `gamma * x_hat + beta`, acting on `(channels, ...)`.

    - `standardise=False` (default): `x_hat = x`, the inference form of batch normalisation,
      which `fold_norms` folds into the analog layer before it (`W' = gamma W`).
    - `standardise=True`: `x_hat` is `x` standardised per channel over its positions (the
      mean and variance of this example's feature map), kept digital; what lets a spiking CNN
      train from scratch, as batch normalisation does in SpikingJelly's example. Batch
      statistics themselves are not available: a network acts on one example under `vmap`.

    `gamma` and `beta` are trained, initialised to 1 and 0.
    """

    gamma: Array
    beta: Array
    standardise: bool = eqx.field(static=True)

    def __init__(self, channels: int, *, standardise: bool = False):
        if not is_integer(channels) or channels < 1:
            raise ValueError(f"ChannelNorm: `channels` must be an integer >= 1; got {channels!r}.")
        self.gamma = jnp.ones(channels)
        self.beta = jnp.zeros(channels)
        self.standardise = bool(standardise)

    def __call__(self, x: Array) -> Array:
        if x.shape[0] != self.gamma.shape[0]:
            raise ValueError(
                f"ChannelNorm({self.gamma.shape[0]}): the input must have "
                f"{self.gamma.shape[0]} channels first; got shape {x.shape}."
            )
        shape = (-1,) + (1,) * (x.ndim - 1)
        if self.standardise and x.ndim > 1:
            axes = tuple(range(1, x.ndim))
            mean = x.mean(axis=axes, keepdims=True)
            x = (x - mean) * jax.lax.rsqrt(x.var(axis=axes, keepdims=True) + 1e-5)
        return self.gamma.reshape(shape) * x + self.beta.reshape(shape)


def fold_norms(network: SpikingNetwork) -> SpikingNetwork:
    """`network` with every `ChannelNorm` that directly follows an analog layer folded into it:
    `W' = gamma W`, `b' = gamma b + beta` per output channel, and the norm removed. The outputs
    are the same; the norm's work moves onto the crossbar. Fold before programming."""
    out = []
    for layer in network.layers:
        prev = out[-1] if out else None
        if isinstance(layer, ChannelNorm) and isinstance(prev, AbstractAnalogLayer):
            linear = prev.crossbar  # its outputs are the layer's output channels
            if linear.state is not None or linear.bias is None or layer.standardise:
                raise ValueError(
                    "fold_norms: a ChannelNorm folds only with standardise=False, after an "
                    "unprogrammed analog layer with a bias."
                )
            folded = eqx.tree_at(
                lambda m: (m.weight, m.bias),
                linear,
                (layer.gamma[:, None] * linear.weight, layer.gamma * linear.bias + layer.beta),
            )
            out[-1] = folded if linear is prev else eqx.tree_at(lambda m: m.crossbar, prev, folded)
        else:
            out.append(layer)
    return eqx.tree_at(lambda n: n.layers, network, tuple(out))
