"""Convolution on crossbar tiles: `AnalogConv2d`, an analog layer whose crossbar is one
`AnalogLinear` driven by the image's patches."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from devices.checks import is_integer

from ..core._layer import AbstractAnalogWrapper
from ..core._tile import Tile
from ._linear import AnalogLinear


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
