"""Convolution on crossbar tiles, channel normalisation, and the spiking CNN built from them."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from devices.checks import is_integer

from ..core._layer import AbstractAnalogLayer, AbstractAnalogWrapper
from ..core._tile import Tile
from ._linear import AnalogLinear
from ._network import SpikingNetwork


def _pair(owner: str, name: str, value, minimum: int) -> tuple[int, int]:
    pair = (value, value) if is_integer(value) else value
    if (
        not isinstance(pair, tuple)
        or len(pair) != 2
        or not all(is_integer(v) and v >= minimum for v in pair)
    ):
        raise ValueError(
            f"{owner}: `{name}` must be an integer >= {minimum} or a pair; got {value!r}."
        )
    return pair


class AnalogConv2d(AbstractAnalogWrapper):
    """A 2-D convolution on crossbar tiles, by patches.

    The kernel is an `AnalogLinear` of `in_channels * kh * kw` inputs and `out_channels`
    outputs (`.linear`; `crossbar.program` and `at_time` find it there). Each input patch is
    one input vector of the crossbar, with its own DAC scaling, as on a chip that streams
    patches through its arrays. Acts on one example `(in_channels, height, width)`; the
    weight layout `(out_channels, in_channels, kh, kw)` is `linear.weight.reshape(...)`.

    Before programming, a call samples one chip for the whole image. **Arguments:**
    `in_channels`, `out_channels`, `kernel_size`, `stride` (1), `padding` (0, zeros on every
    side), `use_bias` (True), `tile`, `key`.
    """

    linear: AnalogLinear
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    kernel_size: tuple[int, int] = eqx.field(static=True)
    stride: tuple[int, int] = eqx.field(static=True)
    padding: tuple[int, int] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        use_bias: bool = True,
        *,
        tile: Tile = Tile(),
        key: PRNGKeyArray,
    ):
        owner = "AnalogConv2d"
        self.kernel_size = _pair(owner, "kernel_size", kernel_size, 1)
        self.stride = _pair(owner, "stride", stride, 1)
        self.padding = _pair(owner, "padding", padding, 0)
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not is_integer(value) or value < 1:
                raise ValueError(f"{owner}: `{name}` must be an integer >= 1; got {value!r}.")
        self.in_channels, self.out_channels = in_channels, out_channels
        kh, kw = self.kernel_size
        self.linear = AnalogLinear(
            in_channels * kh * kw, out_channels, use_bias, tile=tile, key=key
        )

    @property
    def weight(self) -> Array:
        """The kernel `(out_channels, in_channels, kh, kw)`."""
        return self.linear.weight.reshape(self.out_channels, self.in_channels, *self.kernel_size)

    def patch_vectors(self, x: Array) -> tuple[Array, tuple[int, int]]:
        """The crossbar input vectors of one image: `(positions, in_channels * kh * kw)`, and
        the output's `(height, width)`."""
        x = jnp.asarray(x)
        if x.ndim != 3 or x.shape[0] != self.in_channels:
            raise ValueError(
                f"AnalogConv2d(in_channels={self.in_channels}, out_channels={self.out_channels}):"
                f" the input must be (in_channels, height, width) = ({self.in_channels}, H, W); "
                f"got {x.shape}. Call it on one example and batch with jax.vmap."
            )
        (ph, pw), (kh, kw) = self.padding, self.kernel_size
        if x.shape[1] + 2 * ph < kh or x.shape[2] + 2 * pw < kw:
            raise ValueError(
                f"AnalogConv2d: the input {x.shape[1:]} (padded by {self.padding}) is smaller "
                f"than the kernel {self.kernel_size}."
            )
        patches = jax.lax.conv_general_dilated_patches(
            x[None].astype(self.linear.weight.dtype),
            filter_shape=self.kernel_size,
            window_strides=self.stride,
            padding=[(ph, ph), (pw, pw)],
        )[0]  # (C * kh * kw, H', W'), channel-major like linear.weight's columns
        return patches.reshape(patches.shape[0], -1).T, patches.shape[1:]

    def crossbar_inputs(self, x: Array) -> Array:
        """The patches of one image, `(positions, in_channels * kh * kw)`."""
        return self.patch_vectors(x)[0]

    def __call__(self, x: Array, *, key: PRNGKeyArray | None = None) -> Array:
        vectors, (h_out, w_out) = self.patch_vectors(x)
        linear = self.linear
        if linear.state is None and (
            linear.tile.device.is_stochastic or linear.tile.periphery_is_noisy
        ):
            linear._need_key(key, True, "samples a chip (device noise) and its periphery noise")
            key, k_chip = jr.split(key)
            linear = linear.sample_chip(k_chip, compensate=False)
        if key is None:
            y = jax.vmap(lambda v: linear(v))(vectors)
        else:
            y = jax.vmap(lambda v, k: linear(v, key=k))(vectors, jr.split(key, vectors.shape[0]))
        return y.T.reshape(self.out_channels, h_out, w_out)


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
