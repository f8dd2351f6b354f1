"""A linear layer on crossbar tiles."""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from devices.checks import is_integer

from ..core._analog_mvm import analog_mvm, split_rows, tiled, untiled
from ..core._checks import checking, value_checks
from ..core._converters import exact_div
from ..core._drift import (
    calibration_readout,
    calibration_set,
    expected_gain,
    fitted_gain,
    one_hot_response,
)
from ..core._layer import AbstractAnalogLayer, AnalogState, check_tile
from ..core._mapping import Differential
from ..core._tile import Tile, grid


class AnalogLinear(AbstractAnalogLayer):
    """`y = W x + b` with `W` on crossbar tiles and the bias digital.

    Acts on one example `x` of shape `(in_features,)`; batch with `jax.vmap`. A weight matrix
    larger than one tile is split over a grid of `ceil(in / rows) x ceil(out / cols)` tiles,
    each with its own DAC scaling and ADC, and the partial outputs are summed digitally.

    Three states:

    - **before programming** (training): each call samples a chip from `key` (the device's
      programming and read noise at a time drawn from `tile.train_time`, no drift
      compensation) and runs the periphery; gradients reach `.weight` through the
      reparameterised noise and the straight-through quantisers. Under `jax.vmap` with one
      key per example, each example sees its own chip; to share one chip across a batch,
      draw it once with `crossbar.sample_chip(model, key)` and call that.
    - **programmed** (`crossbar.program`): the devices' state is fixed; read it with
      `crossbar.at_time` before calling.
    - **read** (`crossbar.at_time`): calls use the read conductances; `key` draws only the
      periphery noise.

    A call that needs random numbers and has no `key` raises, as `eqx.nn.Dropout` does.

    **Arguments:**

    - `in_features`, `out_features`: the sizes.
    - `use_bias`: whether to add a (digital) bias.
    - `tile`: the `crossbar.Tile` configuration of every tile of this layer.
    - `key`: initialises weight and bias as `eqx.nn.Linear` does (uniform in
      `+-1/sqrt(in_features)`).
    """

    weight: Array
    bias: Array | None
    state: AnalogState | None
    in_features: int = eqx.field(static=True)
    out_features: int = eqx.field(static=True)
    use_bias: bool = eqx.field(static=True)
    tile: Tile

    def __init__(
        self,
        in_features: int,
        out_features: int,
        use_bias: bool = True,
        *,
        tile: Tile = Tile(),
        key: PRNGKeyArray,
    ):
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not is_integer(value) or value < 1:
                raise ValueError(f"AnalogLinear: `{name}` must be an integer >= 1; got {value!r}.")
        if not isinstance(tile, Tile):
            raise ValueError(f"AnalogLinear: `tile` must be a crossbar.Tile; got {tile!r}.")
        wkey, bkey = jr.split(key)
        lim = 1.0 / math.sqrt(in_features)
        self.weight = jr.uniform(wkey, (out_features, in_features), minval=-lim, maxval=lim)
        self.bias = jr.uniform(bkey, (out_features,), minval=-lim, maxval=lim) if use_bias else None
        self.state = None
        self.in_features, self.out_features, self.use_bias = in_features, out_features, use_bias
        self.tile = tile

    @classmethod
    def from_weights(
        cls, weight: ArrayLike, bias: ArrayLike | None = None, *, tile: Tile = Tile()
    ) -> AnalogLinear:
        """A layer with these weights `(out, in)` and bias `(out,)` (or none), unprogrammed,
        on `tile`; nothing is drawn, so it takes no key (for weights that come from elsewhere:
        a converted ANN, a NIR graph, a fit)."""
        weight = jnp.asarray(weight)
        if weight.ndim != 2 or not jnp.issubdtype(weight.dtype, jnp.floating):
            raise ValueError(
                "AnalogLinear.from_weights: `weight` must be a float (out, in) matrix; got "
                f"{weight.dtype} {weight.shape}."
            )
        out_f, in_f = weight.shape
        if bias is not None:
            bias = jnp.asarray(bias, weight.dtype)
            if bias.shape != (out_f,):
                raise ValueError(
                    f"AnalogLinear.from_weights: `bias` must have shape ({out_f},); got "
                    f"{bias.shape}."
                )
        # The structure, traced without drawing (an abstract key), then the arrays put in.
        key = jax.ShapeDtypeStruct((2,), jnp.uint32)
        layer = eqx.filter_eval_shape(cls, in_f, out_f, bias is not None, tile=tile, key=key)
        layer = eqx.tree_at(lambda m: (m.weight, m.tile), layer, (weight, tile))
        return eqx.tree_at(lambda m: m.bias, layer, bias, is_leaf=lambda x: x is None)

    # ------------------------------------------------------------------ layout

    def with_tile(self, tile: Tile) -> AnalogLinear:
        """This layer (weights, bias and chip state kept) on another tile configuration."""
        check_tile("AnalogLinear", tile)
        return eqx.tree_at(lambda m: m.tile, self, tile)

    @property
    def crossbar(self) -> AnalogLinear:
        """The layer itself: its weights are the crossbar's."""
        return self

    def crossbar_inputs(self, x: Array) -> Array:
        """One vector, `x` itself: `(1, in_features)`."""
        return jnp.asarray(x)[None]

    def _name(self) -> str:
        return f"AnalogLinear(in_features={self.in_features}, out_features={self.out_features})"

    @property
    def grid(self) -> tuple[int, int]:
        """(row tiles, column tiles)."""
        return grid(self.in_features, self.out_features, self.tile)[:2]

    def _tile_units(self) -> tuple[Array, Array]:
        """Weights in tile units `(T_r, T_c, cols, rows)` and the weight scale."""
        t_r, t_c, rows, cols = grid(self.in_features, self.out_features, self.tile)
        w = self.weight  # (out, in): row j is an output (a column of the crossbar)
        mapping = self.tile.mapping
        # (the mapping counts (in, out); per layer the order is immaterial, and the
        # untransposed weights keep the backward pass free of transposes)
        w_scale = mapping.weight_scale(w.T if mapping.scaling == "column" else w)
        w = exact_div(w, w_scale) if w_scale.ndim == 0 else w / w_scale[:, None]
        w = tiled(w, t_r, rows, t_c, cols)
        if w_scale.ndim:
            w_scale = jnp.pad(w_scale, (0, t_c * cols - self.out_features), constant_values=1.0)
            w_scale = w_scale.reshape(t_c, cols)
        return w, w_scale

    def _analog(self, s: AnalogState, x: Array, key) -> Array:
        """The analog output `(out_features,)`: tiles, digital rescale and row-tile sum."""
        t_r, _, rows, _ = grid(self.in_features, self.out_features, self.tile)
        w_scale = s.w_scale
        x = split_rows(x, t_r, rows)
        y = analog_mvm(self.tile, s.w_r, x, key, s.g, s.adc_errors, out_scale=w_scale)
        return y.reshape(-1)[: self.out_features]

    def _response(self, w_r: Array, s: AnalogState, key, g: Array | None) -> Array:
        """Drift compensation's reference response of the read `w_r` (conductances `g`), one
        value or one per output (`Tile.drift_reference`)."""
        tile = self.tile
        key = key if tile.periphery_is_noisy else None
        per_column = tile.drift_compensation == "column"
        if tile.drift_reference == "calibration":
            cal = s.calibration
            if cal is None:
                raise RuntimeError(
                    f"{self._name()}: this chip has no calibration set (a chip drawn by "
                    "sample_chip for a training step, or programmed with compensate=False); "
                    "program it with crossbar.program(model, key) to read it over time."
                )
            y = calibration_readout(tile, cal, w_r, key, g, s.adc_errors)
            r = fitted_gain(tile, y, cal.expected, per_column)
            return r[: self.out_features] if per_column else r
        # aihwkit's GlobalDriftCompensation: mean |y| of the responses to one-hot inputs.
        y = one_hot_response(tile, w_r, key)  # (T_r, T_c, C, R)
        y = self._untile(y * self._cell_scale(s.w_scale))
        return jax.lax.stop_gradient(jnp.mean(jnp.abs(y), axis=1 if per_column else None))

    def _untile(self, w: Array) -> Array:
        """A tiled `(..., T_r, T_c, cols, rows)` array back to `(..., out_features,
        in_features)`."""
        return untiled(w, self.out_features, self.in_features)

    @staticmethod
    def _cell_scale(w_scale: Array) -> Array:
        """The weight scale broadcast over tiled cells `(T_r, T_c, cols, rows)`."""
        return w_scale[..., None] if w_scale.ndim else w_scale

    # ------------------------------------------------------------------ chip life

    def program(self, key: PRNGKeyArray, *, compensate: bool = True) -> AnalogLinear:
        """This layer programmed: targets from the weights, the devices' state drawn, and
        (unless `compensate=False` or the tile's drift compensation is off) the reference
        response for drift compensation."""
        device = self.tile.device
        w, w_scale = self._tile_units()
        g_target = self.tile.mapping.to_conductances(w, device.g_min, device.g_max)
        k_prog, k_read, k_ref = jr.split(key, 3)
        device_state = device.program(k_prog, g_target)
        one = jnp.ones(())
        adc_errors = self._adc_errors(key)
        state = AnalogState(device_state, w_scale, one, None, None, one, adc_errors)
        if self.tile.drift_compensation != "none" and compensate:
            if self.tile.drift_reference == "calibration":
                cal = calibration_set(self.tile, g_target, jr.fold_in(key, 11))
                state = dataclasses.replace(state, calibration=cal)
            g0 = device.read(k_read, device_state, 0.0)
            r0 = self._response(self.tile.readout_weights(g0), state, k_ref, g0)
            state = dataclasses.replace(state, r0=r0, alpha=jnp.ones_like(r0))
        return eqx.tree_at(lambda m: m.state, self, state, is_leaf=lambda x: x is None)

    def _adc_errors(self, key: PRNGKeyArray) -> tuple[Array, Array] | None:
        """Each ADC's `(gain, offset)` for a chip programmed with `key`, or None."""
        if not self.tile.has_adc_errors:
            return None
        k_gain, k_off = jr.split(jr.fold_in(key, 7))
        t_r, t_c, _, cols = grid(self.in_features, self.out_features, self.tile)
        shape = (self.tile.mapping.n_readouts, t_r, t_c, cols)
        gain = 1.0 + self.tile.adc_gain * jr.normal(k_gain, shape)
        return gain, self.tile.adc_offset * jr.normal(k_off, shape)

    def sample_chip(self, key: PRNGKeyArray, *, compensate: bool = True) -> AnalogLinear:
        """A fresh chip for one training step: programmed and read at a time drawn
        log-uniformly from the tile's `train_time`, drift compensated unless
        `compensate=False`. Differentiable with respect to the weights.

        A chip distributed as `program(k).at_time(t, k')` is (the same device model, time
        range and ADC errors), drawn in one go for a training step's hot path: the devices'
        checks of traced values are skipped (the targets come from the weights, the time from
        `train_time`), and drift compensation's
        factor is what the calibration reference measures in expectation, from the read
        weights against the programmed targets (the least-squares gain of the ones on the
        others over every cell, or every cell of a column), without drawing a noisy readout
        of the reference on every step. The same for both references: a training step needs
        the compensated scale, not a sample of a reference's readout error. For a device that
        reads its targets (`device.reads_targets`: `devices.Ideal()`) that gain is 1."""
        k_prog, k_t, k_read = jr.split(key, 3)
        t = self._train_time(k_t)
        tile, device = self.tile, self.tile.device
        w, w_scale = self._tile_units()
        g_target = tile.mapping.to_conductances(w, device.g_min, device.g_max)
        k_dev = jr.split(k_prog, 3)[0]  # as program(k_prog) draws the devices
        device_state = device.program(k_dev, g_target, check=False)
        g = device.program_and_read(k_dev, k_read, g_target, t)
        w_r = tile.readout_weights(g)
        alpha = jnp.ones(())
        if compensate and tile.drift_compensation != "none":
            per_column = tile.drift_compensation == "column"
            if device.reads_targets:  # it realises its targets: the expected gain is 1
                r_t = jnp.ones((self.out_features,) if per_column else (), w.dtype)
            else:
                # the programmed weights: a differential pair realises `w` (|w| <= 1 in
                # tile units; to float rounding), so no readout of the targets: one pass
                # less per step
                differential = isinstance(tile.mapping, Differential)
                w_t = w[None] if differential else tile.readout_weights(g_target)
                r_t = expected_gain(w_r, w_t, per_column)
                r_t = r_t[: self.out_features] if per_column else r_t
            alpha = jnp.where(r_t > 0, 1.0 / jnp.where(r_t > 0, r_t, 1.0), 1.0)
        one = jnp.ones_like(alpha)
        adc_errors = self._adc_errors(k_prog)
        state = AnalogState(device_state, w_scale, one, g, w_r, alpha, adc_errors)
        return eqx.tree_at(lambda m: m.state, self, state, is_leaf=lambda x: x is None)

    def at_time(self, t, key: PRNGKeyArray, *, compensate: bool = True) -> AnalogLinear:
        """This programmed layer read `t` seconds after programming, drift compensated as the
        tile says (unless `compensate=False`)."""
        if self.state is None:
            raise RuntimeError(
                f"{self._name()}: at_time needs a programmed layer; call "
                "crossbar.program(model, key) first."
            )
        k_read, k_ref = jr.split(key)
        s = self.state
        g = self.tile.device.read(k_read, s.device_state, t)
        w_r = self.tile.readout_weights(g)
        alpha = jnp.ones_like(s.r0)
        if self.tile.drift_compensation != "none" and compensate:
            r_t = self._response(w_r, s, k_ref, g)
            alpha = jnp.where(r_t > 0, s.r0 / jnp.where(r_t > 0, r_t, 1.0), 1.0)
        state = dataclasses.replace(s, g=g, w_r=w_r, alpha=alpha)
        return eqx.tree_at(lambda m: m.state, self, state)

    def realised_weight(self) -> Array:
        """The weight matrix `(out, in)` the read chip realises: conductances mapped back,
        times the weight scale and the drift compensation (ideal periphery)."""
        if self.state is None or self.state.g is None:
            raise RuntimeError(
                f"{self._name()}: realised_weight needs a read chip; use "
                "crossbar.at_time(crossbar.program(model, key), t, key)."
            )
        device, s = self.tile.device, self.state
        w = self.tile.mapping.combine(s.w_r, 1.0, device.g_min, device.g_max)  # (T_r, T_c, C, R)
        w = self._untile(w * self._cell_scale(s.w_scale))
        return w * (s.alpha[:, None] if s.alpha.ndim else s.alpha)

    # ------------------------------------------------------------------ forward

    def __call__(self, x: Array, *, key: PRNGKeyArray | None = None) -> Array:
        """**Arguments:** `x`, one example `(in_features,)`; `key`, for the noise (see the
        class docstring). **Returns:** `(out_features,)`."""
        # Compiled, also when called outside `jit` (op by op, a first call of a 784 x 256 PCM
        # layer compiled some two hundred kernels one after another: 5.7 s on 2 cores); inside
        # jit, vmap or grad the compiled call is traced into the caller's program as usual.
        return _compiled_forward(self, jnp.asarray(x), key, checking())

    def _forward(self, x: Array, key: PRNGKeyArray | None) -> Array:
        if x.shape != (self.in_features,):
            raise ValueError(
                f"{self._name()}: the input must have shape ({self.in_features},); got "
                f"{x.shape}. Call the layer on one example and batch with jax.vmap."
            )
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(self.weight.dtype)
        if checking():  # off in training steps and studies (crossbar.value_checks)
            x = eqx.error_if(
                x, ~jnp.all(jnp.isfinite(x)), f"{self._name()}: the input holds nan or inf."
            )
        tile, device = self.tile, self.tile.device
        if self.state is None:
            noisy = device.is_stochastic or tile.periphery_is_noisy
            self._need_key(key, noisy, "samples a chip (device noise) and its periphery noise")
            # (no key only where nothing is drawn: a deterministic device, no periphery noise,
            # so the chip's value does not depend on this placeholder)
            key = jr.PRNGKey(0) if key is None else key
            chip = self.sample_chip(jr.fold_in(key, 0), compensate=False)
            s = chip.state
            key = jr.fold_in(key, 1)
        else:
            s = self.state
            if s.g is None:
                raise RuntimeError(
                    f"{self._name()}: this layer is programmed but not read; call "
                    "crossbar.at_time(chip, t, key) to read it t seconds after programming."
                )
            self._need_key(key, tile.periphery_is_noisy, "draws periphery noise")
        key = key if tile.periphery_is_noisy else None
        y = self._analog(s, x, key) * s.alpha
        return y + self.bias if self.bias is not None else y

    def _need_key(self, key, noisy: bool, what: str) -> None:
        if noisy and key is None:
            raise RuntimeError(
                f"{self._name()}: this forward pass {what} and needs a key: call "
                "layer(x, key=key). (A noiseless layer uses devices.Ideal() and a tile without "
                "out_noise and w_noise.)"
            )


@eqx.filter_jit
def _compiled_forward(
    layer: AnalogLinear, x: Array, key: PRNGKeyArray | None, checks: bool
) -> Array:
    with value_checks(checks):
        return layer._forward(x, key)
