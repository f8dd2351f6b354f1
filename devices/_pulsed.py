r"""Pulsed conductance updates: what one SET or RESET pulse does to a cell.

Training on the array itself (STDP, analog SGD) changes conductances by trains of identical
pulses instead of programming targets. The response to one pulse depends on where the cell is
in its range, differs between cells, and varies from pulse to pulse. These are IBM aihwkit's
pulsed-device models (`aihwkit.simulator.configs.devices`, the `update once` of
`rpu_*_device.cpp`, aihwkit 1.1), with the weight `w` of aihwkit replaced by the conductance
around the middle of the range, $w = g - g_{mid}$, $g_{mid} = (g_{min} + g_{max}) / 2$, so a
device with `g_min = 0, g_max = 2` is aihwkit's device on `w_min = -1, w_max = 1` shifted by 1.

Every model has the device-to-device spread and cycle-to-cycle noise of aihwkit's
`PulsedDevice` (`devices.PulseSpread`), drawn per cell once when the cells are made
(`sample`, or `program`, which keeps the draw in the state), and hard bounds: after every
pulse $g \leftarrow \mathrm{clip}(g, g^{lo}_{ij}, g^{hi}_{ij})$.

A pulse count `n` per cell says what to do: `n > 0` potentiation (SET, `g` up), `n < 0`
depression (RESET, `g` down), `|n|` pulses applied one after another, each with its own noise.

This module holds the interface, the spread and the pulse loop; the models are in
`_pulse_models`.
"""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from ._abstract import AbstractDevice, ohmic
from .checks import (
    check_conductance_range,
    check_finite_number,
    check_nonnegative,
    check_positive,
)


class PulseSpread(eqx.Module):
    r"""Device-to-device spread and cycle-to-cycle noise of a pulsed device (aihwkit's
    `PulsedDevice` parameters, same names with `dw` -> `dg`, defaults as aihwkit's).

    Per cell, drawn once ($\xi$ standard normal, independent per cell and per line):

    - step sizes: with the up/down bias $\beta$ (`up_down`),
      $u = 1 + \min(\beta, 0)$, $d = 1 - \max(\beta, 0)$, and $\xi_1$ shared by both directions,
      $\Delta g^{up}_{ij} = \Delta g_{min} |u + \sigma_{ud} \xi_1 + \sigma_{d2d} \xi_2|$,
      $\Delta g^{down}_{ij} = \Delta g_{min} |d - \sigma_{ud} \xi_1 + \sigma_{d2d} \xi_2|$
      ($\sigma_{ud}$ = `up_down_dtod`, $\sigma_{d2d}$ = `dtod`; with `log_normal`, the
      $\sigma_{d2d}$ term is a factor $e^{\sigma_{d2d} \xi_2}$ instead). These are the
      statistics aihwkit 1.1's C++ draws (checked against its hidden parameters: up and down
      perfectly anti-correlated through $\xi_1$, the bias applied to one direction only).
    - bounds, relative to the half range $h = (g_{max} - g_{min}) / 2$ around $g_{mid}$:
      $g^{hi}_{ij} = g_{mid} + h \max(1 + \sigma_{max} \xi_3, 0)$,
      $g^{lo}_{ij} = \max(g_{mid} - h \max(1 + \sigma_{min} \xi_4, 0), 0)$ (bounds never cross
      the middle, conductances never go negative: our choice where aihwkit swaps them).

    Per pulse: the step is multiplied by $(1 + \sigma_{c2c} \xi)$ (`std`; some models offer
    additive noise instead).

    **Arguments:** `dtod` (0.3), `std` (0.3), `up_down` (0), `up_down_dtod` (0.01),
    `g_max_dtod` (0.3), `g_min_dtod` (0.3), `log_normal` (False). `PulseSpread.none()` turns
    all of them off.
    """

    dtod: float = 0.3
    std: float = 0.3
    up_down: float = 0.0
    up_down_dtod: float = 0.01
    g_max_dtod: float = 0.3
    g_min_dtod: float = 0.3
    log_normal: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        for name in ("dtod", "std", "up_down_dtod", "g_max_dtod", "g_min_dtod"):
            check_nonnegative("PulseSpread", name, getattr(self, name))
        check_finite_number("PulseSpread", "up_down", self.up_down)
        if not -1.0 < self.up_down < 1.0:
            raise ValueError(
                f"PulseSpread: `up_down` (the up/down step bias) must be in (-1, 1); "
                f"got {self.up_down!r}."
            )

    @classmethod
    def none(cls) -> "PulseSpread":
        """No spread, no noise, no bias: every cell steps exactly as the mean model."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    @property
    def has_dtod(self) -> bool:
        return any(v != 0 for v in (self.dtod, self.up_down_dtod, self.g_max_dtod, self.g_min_dtod))


class PulsedParams(eqx.Module):
    """Per-cell parameters of a pulsed device (arrays broadcastable to the cells' shape).

    `dg_up`, `dg_down`: step sizes in uS (> 0); `g_lo`, `g_hi`: hard bounds in uS;
    `gamma_up`, `gamma_down`: the model's shape parameter per direction (`LinearStep`: slope in
    1/uS, `PowStep`: exponent; unused elsewhere).
    """

    dg_up: Array
    dg_down: Array
    g_lo: Array
    g_hi: Array
    gamma_up: Array
    gamma_down: Array


class PulsedState(eqx.Module):
    """Programmed state of a pulsed device: the conductances (uS) and each cell's parameters."""

    g: Array
    params: PulsedParams


class AbstractPulsedDevice(AbstractDevice):
    r"""A device updated by pulses. Subclasses define the step size per pulse.

    Besides the `AbstractDevice` interface (`program` sets the conductances within each cell's
    own bounds, drawing the cells' spread; `read` returns them: no drift, no read noise), a
    pulsed device has:

    - `pulse(g, n_pulses, key, params=None) -> g'`: apply `n_pulses` (integers, signed, shaped
      like `g` or broadcastable) to conductances `g`; `params` are the cells' parameters
      (`sample`), or the mean model without spread when None.
    - `update(state, n_pulses, key) -> state`: the same on a programmed state.
    - `sample(key, shape) -> PulsedParams`: draw the device-to-device spread of `shape` cells.
    - `step(g, params, up) -> dg`: the mean size (uS, >= 0) of one pulse's step, no noise.

    All fields: `g_min`, `g_max` (uS, the mean bounds), `dg_min` (uS, the mean step, > 0) and
    `spread` (`devices.PulseSpread`), plus the model's own.
    """

    g_min: eqx.AbstractVar[float]
    g_max: eqx.AbstractVar[float]
    dg_min: eqx.AbstractVar[float]
    spread: eqx.AbstractVar[PulseSpread]

    def __check_init__(self):
        name = type(self).__name__
        check_conductance_range(name, self.g_min, self.g_max)
        check_positive(name, "dg_min", self.dg_min)
        if self.dg_min >= self.g_max - self.g_min:
            raise ValueError(
                f"{name}: `dg_min` (the step of one pulse, uS) must be smaller than the range "
                f"g_max - g_min = {self.g_max - self.g_min!r}; got {self.dg_min!r}."
            )
        if not isinstance(self.spread, PulseSpread):
            raise ValueError(
                f"{name}: `spread` must be a devices.PulseSpread; got {self.spread!r}."
            )

    # ------------------------------------------------------------------ the model

    @property
    def g_mid(self) -> float:
        """The middle of the mean range, aihwkit's weight zero."""
        return 0.5 * (self.g_min + self.g_max)

    def _gammas(self, key: PRNGKeyArray | None, shape, g_lo: Array, g_hi: Array):
        """The model's per-cell `(gamma_up, gamma_down)`; none by default."""
        del key, g_lo, g_hi
        zero = jnp.zeros(shape)
        return zero, zero

    @abc.abstractmethod
    def step(self, g: Array, params: PulsedParams, up: bool) -> Array:
        """Mean step size (uS, >= 0) of one pulse at conductance `g`, upwards or downwards."""

    def _noisy_step(self, g: Array, params: PulsedParams, up: bool, xi: Array) -> Array:
        """One pulse's step with cycle-to-cycle noise (multiplicative by default)."""
        return self.step(g, params, up) * (1.0 + self.spread.std * xi)

    # ------------------------------------------------------------------ cells

    def mean_params(self) -> PulsedParams:
        """The mean cell: no device-to-device spread (the up/down bias stays)."""
        s = self.spread
        up = 1.0 + min(s.up_down, 0.0)
        down = 1.0 - max(s.up_down, 0.0)
        g_lo, g_hi = jnp.asarray(float(self.g_min)), jnp.asarray(float(self.g_max))
        gamma_up, gamma_down = self._gammas(None, (), g_lo, g_hi)
        return PulsedParams(
            jnp.asarray(self.dg_min * up),
            jnp.asarray(self.dg_min * down),
            g_lo,
            g_hi,
            gamma_up,
            gamma_down,
        )

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...]) -> PulsedParams:
        """Draw the device-to-device spread of `shape` cells (same key, same cells)."""
        s = self.spread
        k1, k2, k3, k4, k5 = jr.split(key, 5)
        xi1, xi2 = jr.normal(k1, shape), jr.normal(k2, shape)
        up = 1.0 + min(s.up_down, 0.0) + s.up_down_dtod * xi1
        down = 1.0 - max(s.up_down, 0.0) - s.up_down_dtod * xi1
        if s.log_normal:
            gain = jnp.exp(s.dtod * xi2)
            dg_up, dg_down = self.dg_min * jnp.abs(up) * gain, self.dg_min * jnp.abs(down) * gain
        else:
            dg_up = self.dg_min * jnp.abs(up + s.dtod * xi2)
            dg_down = self.dg_min * jnp.abs(down + s.dtod * xi2)
        h = 0.5 * (self.g_max - self.g_min)
        g_hi = self.g_mid + h * jnp.maximum(1.0 + s.g_max_dtod * jr.normal(k3, shape), 0.0)
        g_lo = self.g_mid - h * jnp.maximum(1.0 + s.g_min_dtod * jr.normal(k4, shape), 0.0)
        g_lo = jnp.maximum(g_lo, 0.0)
        gamma_up, gamma_down = self._gammas(k5, shape, g_lo, g_hi)
        return PulsedParams(dg_up, dg_down, g_lo, g_hi, gamma_up, gamma_down)

    # ------------------------------------------------------------------ pulses

    def pulse(
        self,
        g: ArrayLike,
        n_pulses: ArrayLike,
        key: PRNGKeyArray,
        params: PulsedParams | None = None,
    ) -> Array:
        """Apply `n_pulses` (signed integers: > 0 up, < 0 down) to conductances `g` (uS).

        Pulses are applied one at a time (the step depends on the conductance the previous
        pulse left), each with fresh cycle-to-cycle noise from `key`; cells with fewer pulses
        wait. Works under `jit` and `vmap`; not differentiable (pulses are counts).

        **Returns:** the new conductances, shaped like `broadcast(g, n_pulses)`.
        """
        name = type(self).__name__
        n = jnp.asarray(n_pulses)
        if not jnp.issubdtype(n.dtype, jnp.integer):
            raise ValueError(
                f"{name}.pulse: `n_pulses` must be integers (pulse counts, signed); got dtype "
                f"{n.dtype}. Round a desired change to counts first (crossbar.to_pulses does)."
            )
        return _pulse(self, jnp.asarray(g, dtype=jnp.result_type(float)), n, key, params)

    def update(self, state: PulsedState, n_pulses: ArrayLike, key: PRNGKeyArray) -> PulsedState:
        """`pulse` on a programmed state, with the cells' own parameters."""
        return PulsedState(self.pulse(state.g, n_pulses, key, state.params), state.params)

    @property
    def _is_pulse_noisy(self) -> bool:
        return self.spread.std > 0

    # ------------------------------------------------------------------ AbstractDevice

    @property
    def _has_dtod(self) -> bool:
        """Whether cells differ (the spread's, or the model's own device-to-device terms)."""
        return self.spread.has_dtod

    @property
    def is_stochastic(self) -> bool:
        return self._has_dtod

    def current(self, g: ArrayLike, v: ArrayLike) -> Array:
        return ohmic(g, v)

    def _program(self, key: PRNGKeyArray, g_target: Array) -> PulsedState:
        """Cells made (their spread drawn from `key`) and set to `g_target` within their own
        bounds (aihwkit's `set_weights` without write noise)."""
        if self._has_dtod:
            params = self.sample(key, g_target.shape)
        else:
            params = jax.tree.map(lambda a: jnp.broadcast_to(a, g_target.shape), self.mean_params())
        return PulsedState(jnp.clip(g_target, params.g_lo, params.g_hi), params)

    def _read(self, key: PRNGKeyArray, state: PulsedState, t: Array) -> Array:
        del key
        return jnp.broadcast_to(state.g, jnp.broadcast_shapes(state.g.shape, t.shape))


@eqx.filter_jit
def _pulse(device: AbstractPulsedDevice, g: Array, n: Array, key, params) -> Array:
    """`device.pulse`, compiled once per device and shapes (eager calls stay fast)."""
    shape = jnp.broadcast_shapes(g.shape, n.shape)
    g = jnp.broadcast_to(g, shape)
    n = jnp.broadcast_to(n, shape)
    p = device.mean_params() if params is None else params
    up = n > 0
    count = jnp.abs(n)
    noisy = device._is_pulse_noisy

    def body(i, g):
        xi = jr.normal(jr.fold_in(key, i), shape) if noisy else jnp.zeros(shape)
        g_up = g + device._noisy_step(g, p, True, xi)
        g_down = g - device._noisy_step(g, p, False, xi)
        new = jnp.clip(jnp.where(up, g_up, g_down), p.g_lo, p.g_hi)
        return jnp.where(i < count, new, g)

    return jax.lax.fori_loop(0, jnp.max(count, initial=0), body, g)
