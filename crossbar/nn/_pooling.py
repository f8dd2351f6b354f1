"""Shape layers of spiking CNNs: flattening and max pooling (digital, stateless)."""

from __future__ import annotations

import equinox as eqx
from jaxtyping import Array


class Flatten(eqx.Module):
    """Flattens one example to a vector."""

    def __call__(self, x: Array) -> Array:
        return x.reshape(-1)


class MaxPool2d(eqx.Module):
    """Max pooling of one example `(channels, height, width)` over `size x size` windows
    (stride `size`; a remainder is dropped, as PyTorch does)."""

    size: int = eqx.field(static=True, default=2)

    def __call__(self, x: Array) -> Array:
        c, h, w = x.shape
        s = self.size
        x = x[:, : h - h % s, : w - w % s]
        return x.reshape(c, h // s, s, w // s, s).max(axis=(2, 4))
