"""The interface of analog layers (what programming a chip, networks, sweeps and energy
estimates use), the state a programmed layer holds, and the wrapper for layers built on one
`AnalogLinear`. Below the layers: `crossbar._chip` needs only this."""

import abc
import math

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from ._drift import Calibration
from ._tile import Tile


class AnalogState(eqx.Module):
    """What a programmed analog layer holds.

    - `device_state`: the devices' programmed state, arrays `(n_arrays, T_r, T_c, cols, rows)`
      (each tile's block of the `(out, in)` weight matrix: the layout a matrix product of a
      batch of inputs reads without a copy).
    - `w_scale`: the weight scale of the mapping (a scalar, or `(T_c, cols)` per column).
    - `r0`: drift compensation's reference response right after programming (see
      `Tile.drift_reference`), a scalar or one per output.
    - `g`: the conductances of the latest read (`at_time`), or None before the first read.
    - `w_r`: the effective weights in tile units of each readout of that read
      (`mapping.readout_weights(g)`), computed once per read so forward passes don't redo it.
    - `alpha`: the drift-compensation factor of that read (1 when off).
    - `adc_errors`: each ADC's `(gain, offset)`, `(n_readouts, T_r, T_c, cols)` each, drawn
      at programming when the tile has `adc_gain` or `adc_offset`; else None.
    - `calibration`: the calibration inputs of drift compensation's `"calibration"`
      reference, chosen at programming; else None.
    """

    device_state: eqx.Module
    w_scale: Array
    r0: Array
    g: Array | None
    w_r: Array | None
    alpha: Array
    adc_errors: tuple[Array, Array] | None = None
    calibration: Calibration | None = None


class AbstractAnalogLayer(eqx.Module):
    """The interface of a layer whose weights live on crossbar tiles: what
    `crossbar.program` / `at_time` / `sample_chip`, `SpikingNetwork` (which passes it a
    key), `map_tiles`, `sweep` and `estimate_energy` use.

    Every analog layer has a `tile` (its configuration) and a `state` (None before
    programming), and implements `program(key)`, `at_time(t, key)`, `sample_chip(key)`,
    `with_tile(tile)`, `__call__(x, *, key)`, and for energy estimates `crossbar` (the
    `AnalogLinear` holding its arrays) and `crossbar_inputs(x)` (the input vectors one example
    drives them with). A layer built on one `AnalogLinear` subclasses
    `AbstractAnalogWrapper`, which implements all but `__call__` and `crossbar_inputs`.
    """

    state: eqx.AbstractVar[AnalogState | None]
    tile: eqx.AbstractVar[Tile]

    @abc.abstractmethod
    def program(self, key: PRNGKeyArray, *, compensate: bool = True) -> "AbstractAnalogLayer":
        """This layer programmed onto a chip (device state drawn with `key`)."""

    @abc.abstractmethod
    def at_time(self, t, key: PRNGKeyArray, *, compensate: bool = True) -> "AbstractAnalogLayer":
        """This programmed layer read `t` seconds after programming."""

    @abc.abstractmethod
    def sample_chip(self, key: PRNGKeyArray, *, compensate: bool = True) -> "AbstractAnalogLayer":
        """A fresh chip for one training step: programmed, then read at a time drawn from the
        tile's `train_time` range (log-uniform), drift compensated unless `compensate=False`.
        Differentiable with respect to the weights."""

    @abc.abstractmethod
    def with_tile(self, tile: Tile) -> "AbstractAnalogLayer":
        """This layer (weights, bias and chip state kept) on another tile configuration."""

    @abc.abstractmethod
    def __call__(self, x: Array, *, key: PRNGKeyArray | None = None) -> Array:
        """The layer on one example; `key` for its noise."""

    @property
    @abc.abstractmethod
    def crossbar(self) -> "AbstractAnalogLayer":
        """The `AnalogLinear` whose tiles hold this layer's weights (typed by the interface:
        this module sits below the layers)."""

    @abc.abstractmethod
    def crossbar_inputs(self, x: Array) -> Array:
        """The input vectors `(M, crossbar.in_features)` that one example `x` of this layer
        drives through `crossbar`: one for a dense layer, one per position for a
        convolution. What energy estimates count."""

    def _train_time(self, key: PRNGKeyArray) -> Array:
        """A read time drawn log-uniformly from the tile's `train_time` range, seconds."""
        t_min, t_max = self.tile.train_time
        if t_min == t_max:
            return jnp.asarray(float(t_min))
        return jnp.exp(jr.uniform(key, (), minval=math.log(t_min), maxval=math.log(t_max)))


def check_tile(owner: str, tile) -> None:
    if not isinstance(tile, Tile):
        raise ValueError(f"{owner}.with_tile: expected a crossbar.Tile; got {tile!r}.")


class AbstractAnalogWrapper(AbstractAnalogLayer):
    """An analog layer computed with one `AnalogLinear`, its field `linear`: the chip's life
    (`program`, `at_time`, `sample_chip`), `tile`, `state` and `with_tile` are the linear
    layer's. Subclasses define `linear` and implement `__call__` and `crossbar_inputs`
    (`AnalogConv2d` does; so can a user's own layer)."""

    linear: eqx.AbstractVar[AbstractAnalogLayer]  # an AnalogLinear

    @property
    def tile(self) -> Tile:
        return self.linear.tile

    @property
    def state(self) -> AnalogState | None:
        return self.linear.state

    @property
    def crossbar(self) -> AbstractAnalogLayer:
        return self.linear

    def _with_linear(self, linear: AbstractAnalogLayer):
        return eqx.tree_at(lambda m: m.linear, self, linear)

    def program(self, key: PRNGKeyArray, *, compensate: bool = True):
        return self._with_linear(self.linear.program(key, compensate=compensate))

    def at_time(self, t, key: PRNGKeyArray, *, compensate: bool = True):
        return self._with_linear(self.linear.at_time(t, key, compensate=compensate))

    def sample_chip(self, key: PRNGKeyArray, *, compensate: bool = True):
        return self._with_linear(self.linear.sample_chip(key, compensate=compensate))

    def with_tile(self, tile: Tile):
        check_tile(type(self).__name__, tile)
        return self._with_linear(self.linear.with_tile(tile))
