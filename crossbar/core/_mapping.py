"""Mapping signed weights onto conductances, and the analog readouts back to weights.

Weights reach a mapping in *tile units*: the layer divides them by a weight scale `w_max`
(the largest |w| of the layer, or of each output column), so they lie in [-1, 1]. A mapping
turns them into one or more conductance arrays, says how the arrays are read (each *readout*
is one analog matrix-vector product through one ADC, in tile units), and recombines the ADC
outputs digitally. A readout's effective weights are linear in the conductances, so device
noise on any cell shows up where it would on a chip.
"""

import abc
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from devices.checks import is_integer

from ._converters import clip_symmetric

#: The most pairs per weight of `Differential`.
MAX_PAIRS = 64


class AbstractMapping(eqx.Module):
    """How weights in tile units map to conductance arrays and back.

    Subclasses define `n_arrays` (conductance arrays per weight array), `n_readouts` (ADC
    readouts per input vector), `to_conductances`, `readout_weights` and `combine`.

    `scaling` is `"layer"` (one weight scale, the largest |w| of the layer), `"column"` (one
    per output) or `"none"` (weights are taken as tile units as they are: |w| beyond 1 maps
    beyond `g_max` and is clipped there; aihwkit's `weight_scaling_omega=0`).
    """

    scaling: eqx.AbstractVar[Literal["layer", "column", "none"]]

    def __check_init__(self):
        if self.scaling not in ("layer", "column", "none"):
            raise ValueError(
                f'{type(self).__name__}: `scaling` must be "layer", "column" or "none"; '
                f"got {self.scaling!r}."
            )

    @property
    @abc.abstractmethod
    def n_arrays(self) -> int:
        """Conductance arrays per weight array."""

    @property
    @abc.abstractmethod
    def n_readouts(self) -> int:
        """Analog readouts (each through its own ADC) per input vector."""

    @abc.abstractmethod
    def to_conductances(self, w: Array, g_min: float | Array, g_max: float | Array) -> Array:
        """Targets `(n_arrays, *w.shape)` in uS for weights `w` in tile units."""

    @abc.abstractmethod
    def readout_weights(self, g: Array, g_min: float | Array, g_max: float | Array) -> Array:
        """Effective weights `(n_readouts, ...)` in tile units of conductances `(n_arrays, ...)`."""

    @abc.abstractmethod
    def combine(self, y: Array, x_sum: Array, g_min: float | Array, g_max: float | Array) -> Array:
        """Digital recombination of ADC outputs `y (n_readouts, ..., cols)` in tile units,
        given the sum of the converted inputs `x_sum` (broadcastable to `y[0]`)."""

    def weight_scale(self, w: Array) -> Array:
        """`w_max` for weights `w (rows, cols)`: the largest |w| (a scalar, or per column)."""
        if self.scaling == "none":
            return jnp.ones((), w.dtype)
        axis = None if self.scaling == "layer" else 0
        # max(max w, -min w) = max |w| without an array of |w| (XLA keeps one for the
        # derivative otherwise: a pass over the weights on every training step)
        w_max = jnp.maximum(jnp.max(w, axis=axis), -jnp.min(w, axis=axis))
        return jnp.where(w_max > 0, w_max, 1.0)

    def realised(self, g: Array, g_min: float | Array, g_max: float | Array) -> Array:
        """The weights in tile units that conductances `g` realise (ideal periphery): the
        response of each readout to a one-hot input, recombined."""
        return self.combine(self.readout_weights(g, g_min, g_max), 1.0, g_min, g_max)


class Differential(AbstractMapping):
    r"""A differential pair per weight, read as one difference current (the default), or
    `pairs` of them (a multi-memristive synapse).

    aihwkit's `SinglePairConductanceConverter`: with $s = (g_{max} - g_{min})$ per unit weight,
    $G^+ = \mathrm{clip}(s w, 0, \cdot) + g_{min}$, $G^- = \mathrm{clip}(-s w, 0, \cdot) +
    g_{min}$, so the largest |w| maps to `g_max` and $w = (G^+ - G^-)/s$.

    With `pairs` = $N > 1$, every weight is programmed into $N$ pairs of devices that share
    its input and its column (Boybat et al., Nat. Commun. 9:2514, 2018: the "multi-memristive
    synapse"), so their currents add before the ADC, whose range covers the sum; in tile units
    $w = \sum_k (G^+_k - G^-_k) / (N s)$. Each device draws its own programming noise, drift
    exponent and read noise, so the independent parts of the device errors average down by
    $\sqrt{N}$, for $N$ times the cells (and their array energy). The arrays are ordered
    $G^+_1 \dots G^+_N, G^-_1 \dots G^-_N$.

    **Arguments:** `scaling`, `"layer"` (default) or `"column"`; `pairs`, the pairs per weight
    (default 1).
    """

    scaling: Literal["layer", "column", "none"] = eqx.field(static=True, default="layer")
    pairs: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        if not is_integer(self.pairs) or not 1 <= self.pairs <= MAX_PAIRS:
            raise ValueError(
                f"Differential: `pairs` must be an integer in 1 ... {MAX_PAIRS}; got "
                f"{self.pairs!r}."
            )

    @property
    def n_arrays(self) -> int:
        return 2 * self.pairs

    @property
    def n_readouts(self) -> int:
        return 1

    def to_conductances(self, w: Array, g_min: float | Array, g_max: float | Array) -> Array:
        g = _split_pair((g_max - g_min) * clip_symmetric(w, 1.0)) + g_min
        return g if self.pairs == 1 else jnp.repeat(g, self.pairs, axis=0)

    def readout_weights(self, g: Array, g_min: float | Array, g_max: float | Array) -> Array:
        if self.pairs > 1:  # the pairs' currents summed on the column, in one pair's units
            g = g.reshape((2, self.pairs) + g.shape[1:]).sum(axis=1) / self.pairs
        return _pair_difference(g)[None] / (g_max - g_min)

    def combine(self, y: Array, x_sum, g_min: float | Array, g_max: float | Array) -> Array:
        return y[0]


@jax.custom_jvp
def _split_pair(sw: Array) -> Array:
    """`stack([max(sw, 0), max(-sw, 0)])`, fast in both directions on XLA's CPU backend.

    Forward, a select on the pair index (XLA's CPU code for a concatenation is several times
    slower); backward, the derivative of a stack (two slices of the cotangent), because the
    derivative of the select is a reduction over the pair axis that XLA hands to a slow
    kernel. The derivative is `jnp.maximum`'s, one half at zero included."""
    first = jax.lax.broadcasted_iota(jnp.int32, (2,) + sw.shape, 0) == 0
    return jnp.where(first, jnp.maximum(sw, 0.0), jnp.maximum(-sw, 0.0))


@_split_pair.defjvp
def _split_pair_jvp(primals, tangents):
    (sw,), (dsw,) = primals, tangents
    half = jnp.where(sw == 0, 0.5, 0.0)
    up = jnp.where(sw > 0, 1.0, half)
    down = jnp.where(sw < 0, -1.0, -half)
    return _split_pair(sw), jnp.stack([up * dsw, down * dsw])


@jax.custom_jvp
def _pair_difference(g: Array) -> Array:
    """`g[0] - g[1]`, whose gradient XLA fuses into its consumer.

    Differentiated as written, the difference transposes into two zero-padded copies of the
    cotangent, one per array of the pair, that XLA materialises (a third of a 512 x 512
    training step on the CPU); written as a signed sum its forward pass becomes a matrix
    product over the pair. The tangent below is that signed sum, whose transpose is a
    broadcast multiply, while the forward pass stays a subtraction."""
    return g[0] - g[1]


@_pair_difference.defjvp
def _pair_difference_jvp(primals, tangents):
    (g,), (dg,) = primals, tangents
    sign = jnp.asarray([1.0, -1.0], dg.dtype).reshape((2,) + (1,) * (dg.ndim - 1))
    return _pair_difference(g), jnp.sum(dg * sign, axis=0)


class Offset(AbstractMapping):
    r"""One device per weight around a mid-range offset; the offset current removed digitally.

    Sandia CrossSim's `OffsetCore`: $G = g_{min} + (g_{max} - g_{min})(w + 1)/2$. The column
    current $\sum_i G_i x_i$ goes through the ADC whole, offset included, in units of
    $(g_{max} - g_{min})/2$; the digital periphery then subtracts the offset,
    $(g_{min} + (g_{max} - g_{min})/2) \sum_i x_i$ in the same units, computed from the
    converted inputs. The offset uses part of the ADC range, as it does on a chip.

    **Arguments:** `scaling`, `"layer"` (default) or `"column"`.
    """

    scaling: Literal["layer", "column", "none"] = eqx.field(static=True, default="layer")

    @property
    def n_arrays(self) -> int:
        return 1

    @property
    def n_readouts(self) -> int:
        return 1

    def to_conductances(self, w: Array, g_min: float | Array, g_max: float | Array) -> Array:
        return (g_min + (g_max - g_min) * (clip_symmetric(w, 1.0) + 1.0) / 2.0)[None]

    def readout_weights(self, g: Array, g_min: float | Array, g_max: float | Array) -> Array:
        return g / ((g_max - g_min) / 2.0)

    def combine(self, y: Array, x_sum, g_min: float | Array, g_max: float | Array) -> Array:
        unit = (g_max - g_min) / 2.0
        offset = (g_min + unit) / unit
        return y[0] - offset * x_sum


class BitSliced(AbstractMapping):
    r"""Bit slicing: integer weights split into `bits_per_slice`-bit slices on separate arrays.

    Sandia CrossSim's `BitslicedCore`: |w| is quantised to $B = k \cdot n$ bits, $q =
    \mathrm{rint}(|w| (2^B - 1))$, and cut into $n$ slices of $k$ bits, $q = \sum_i 2^{ik} d_i$.
    Slice $i$ lives on its own differential pair of arrays, $G^\pm = g_{min} + (g_{max} -
    g_{min}) d_i / (2^k - 1)$ on the side of the weight's sign, and has its own ADC. The
    outputs recombine digitally: $y = \sum_i 2^{ik} y_i (2^k - 1)/(2^B - 1)$. Low-order slices
    see the same ADC range as high-order ones, so each slice's error is scaled down by its
    place value. The quantisation has a straight-through gradient.

    **Arguments:** `bits_per_slice` ($k$, default 2), `n_slices` ($n$, default 4), `scaling`.
    """

    bits_per_slice: int = eqx.field(static=True, default=2)
    n_slices: int = eqx.field(static=True, default=4)
    scaling: Literal["layer", "column", "none"] = eqx.field(static=True, default="layer")

    def __check_init__(self):
        for name in ("bits_per_slice", "n_slices"):
            value = getattr(self, name)
            if not is_integer(value) or value < 1:
                raise ValueError(f"BitSliced: `{name}` must be an integer >= 1; got {value!r}.")
        if self.bits_per_slice * self.n_slices > 24:
            raise ValueError(
                f"BitSliced: `bits_per_slice * n_slices` must be <= 24; got "
                f"{self.bits_per_slice} * {self.n_slices}."
            )

    @property
    def n_arrays(self) -> int:
        return 2 * self.n_slices

    @property
    def n_readouts(self) -> int:
        return self.n_slices

    @property
    def _levels(self) -> tuple[int, int]:
        return 2**self.bits_per_slice - 1, 2 ** (self.bits_per_slice * self.n_slices) - 1

    def to_conductances(self, w: Array, g_min: float | Array, g_max: float | Array) -> Array:
        slice_max, total_max = self._levels
        target = jnp.abs(clip_symmetric(w, 1.0)) * total_max
        q = jax.lax.stop_gradient(jnp.round(target))
        base = 2**self.bits_per_slice
        digits = [jnp.floor(q / base**i) % base for i in range(self.n_slices)]
        # Straight-through: the lowest slice carries the gradient of the whole magnitude.
        digits[0] = digits[0] + (target - jax.lax.stop_gradient(target))
        d = jnp.stack(digits) / slice_max  # (n_slices, ...) in [0, 1]
        pos = jnp.where(w >= 0, d, 0.0)
        neg = jnp.where(w < 0, d, 0.0)
        s = g_max - g_min
        return jnp.concatenate([pos * s + g_min, neg * s + g_min])

    def readout_weights(self, g: Array, g_min: float | Array, g_max: float | Array) -> Array:
        n = self.n_slices
        return (g[:n] - g[n:]) / (g_max - g_min)

    def combine(self, y: Array, x_sum, g_min: float | Array, g_max: float | Array) -> Array:
        slice_max, total_max = self._levels
        base = 2**self.bits_per_slice
        weights = jnp.asarray([base**i * slice_max / total_max for i in range(self.n_slices)])
        return jnp.tensordot(weights.astype(y.dtype), y, axes=1)
