"""Resistive RAM: the HfOx CMO model, NeuRRAM (Wan 2022) and Milo 2021 with its I-V curve."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from ._abstract import AbstractDevice, ohmic
from ._random import device_noise
from ._stats import Polynomial
from .checks import (
    check_conductance_range,
    check_nonnegative,
    check_positive,
    safe_sqrt,
)


class RRAMState(eqx.Module):
    """Programmed state of an RRAM population.

    - `g_target`: the (clipped) target conductances, uS.
    - `xi`: each device's standard-normal programming deviation, drawn once at programming;
      the programmed conductance is `g_target + sigma_prog(g_target) * xi`, clipped.
    """

    g_target: Array
    xi: Array


class RRAMCMO(AbstractDevice):
    r"""HfOx ReRAM with a conductive-metal-oxide layer (IBM Research Zurich).

    The model of aihwkit's `ReRamCMONoiseModel` (Falcone et al.), one device per weight with
    an affine map of weights onto `[g_min, g_max] = [9, 88.2]` uS:

    - programming (program-and-verify to an acceptance range): $\sigma = 0.00081107 +
      0.00106879\, g_T$ uS for a 0.2 % acceptance range, $0.0112185 + 0.0112903\, g_T$ for 2 %;
    - relaxation, independent of the level: mean shift $-0.08900206 \ln t$ and spread
      $\sigma_r = 0.04201137 \ln t + 0.41183342$ uS, fitted for $t \ge 1$ s;
    - read noise $\sigma_{read} = 0.0277316\, \log_{10}(g)\,\sqrt{\ln((t + t_r)/(2 t_r))}$,
      $t_r = 1\ \mu s$; the result is clipped to `[g_min, g_max]`.

    **Where the fits stop (our choices):** the mean shift is taken at $\max(t, 1\,s)$, so it
    never raises a conductance; the relaxation spread is $\max(\sigma_r(t), 0)$, which falls
    continuously to zero as $t \to 0$ (it reaches zero at 55 us); the read-noise logarithm
    is floored at zero for $t < t_r$. At $t = 0$ the read is the programmed conductance, as in
    aihwkit. aihwkit's default acceptance key (`2e-2`) is not one of its table's keys
    (0.2 and 2, in percent), so it falls back to 0.2 %; our default is the same 0.2 %.

    **Arguments:**

    - `acceptance`: the program-and-verify acceptance range in percent, 0.2 or 2.
    - `g_min`, `g_max`: the conductance range, uS.
    - `prog_noise_scale`, `drift_scale`, `read_noise_scale`: multipliers (default 1).
    """

    g_min: float = 9.0
    g_max: float = 88.2
    acceptance: float = eqx.field(static=True, default=0.2)  # which of two fits
    prog_noise_scale: float = 1.0
    drift_scale: float = 1.0
    read_noise_scale: float = 1.0
    t_r: float = 1e-6

    def __check_init__(self):
        check_conductance_range("RRAMCMO", self.g_min, self.g_max)
        if self.acceptance not in (0.2, 2.0):
            raise ValueError(
                f"RRAMCMO: `acceptance` must be 0.2 or 2 (percent, the fitted "
                f"program-and-verify ranges); got {self.acceptance!r}."
            )
        check_positive("RRAMCMO", "t_r", self.t_r)
        for name in ("prog_noise_scale", "drift_scale", "read_noise_scale"):
            check_nonnegative("RRAMCMO", name, getattr(self, name))

    def prog_sigma(self, g: ArrayLike) -> Array:
        """Programming spread in uS at conductance `g` (uS)."""
        c0, c1 = (0.00081107, 0.00106879) if self.acceptance == 0.2 else (0.0112185, 0.0112903)
        return c0 + c1 * jnp.asarray(g)

    @property
    def is_stochastic(self) -> bool:
        return True

    def current(self, g: ArrayLike, v: ArrayLike) -> Array:
        return ohmic(g, v)

    def _program(self, key: PRNGKeyArray, g_target: Array) -> RRAMState:
        return RRAMState(g_target, device_noise(key, g_target.shape, g_target.dtype))

    def _read(self, key: PRNGKeyArray, state: RRAMState, t: Array) -> Array:
        g_prog = state.g_target + self.prog_noise_scale * self.prog_sigma(state.g_target) * state.xi
        g_prog = jnp.clip(g_prog, self.g_min, self.g_max)
        log_t = jnp.log(t)  # -inf at t = 0: both terms below are then exactly zero
        shift = -0.08900206 * jnp.maximum(log_t, 0.0)
        sigma_r = jnp.maximum(0.04201137 * log_t + 0.41183342, 0.0)
        k_relax, k_read = jr.split(key)
        shape = jnp.broadcast_shapes(g_prog.shape, t.shape)
        xi = device_noise(k_relax, shape, g_prog.dtype)
        g = g_prog + self.drift_scale * (shift + sigma_r * xi)
        g = jnp.clip(g, self.g_min, self.g_max)
        t_term = safe_sqrt(jnp.log((t + self.t_r) / (2 * self.t_r)))
        sigma_read = 0.0277316 * jnp.log10(jnp.maximum(g, 1e-6)) * t_term
        g = g + self.read_noise_scale * sigma_read * device_noise(k_read, shape, g.dtype)
        return jnp.clip(g, self.g_min, self.g_max)


# Wan et al. (Nature 2022) as fitted by aihwkit: spread of the conductance (uS, at a g_max
# of 40 uS) as a quartic in g / g_max, constant term first, at 1 s, 1 day and 2 days.
_WAN2022_TIMES = (1.0, 86400.0, 172800.0)
_WAN2022_COEFFS = (
    (0.348, 16.030, -43.853, 45.393, -16.815),
    (0.701, 22.086, -50.773, 47.095, -16.458),
    (0.782, 20.274, -43.507, 37.062, -11.934),
)


class RRAMWan2022(AbstractDevice):
    r"""The RRAM of the NeuRRAM chip (Wan et al., Nature 608:504, 2022).

    aihwkit's fit (`ReRamWan2022NoiseModel`): the spread of the read conductance around its
    target, $\sigma(g, t) = \max(\sum_i c_i(t)\,(g/g_{max})^i, 0) \cdot g_{max}/40$ uS, fitted
    at $t$ = 1 s, 1 day and 2 days; the mean stays at the target; results are clipped at 0.

    **Better than aihwkit in two ways.** aihwkit accepts only the three fitted times; here
    $\sigma$ is interpolated linearly in $\ln t$ between them (held at the 1 s value before
    1 s and at the 2-day value after 2 days). And aihwkit draws every read afresh, so a chip
    read at 1 s and at 1 day is two unrelated chips; here the programming deviation $\xi_p$
    is fixed at programming and later reads add only the growth of the spread:
    $g(t) = g_T + c\,\sigma_t\,\xi_p + \sqrt{1 - c^2}\,\sigma_t\,\xi_r$ with
    $c = \min(\sigma_{1s} / \sigma_t, 1)$. Each read has exactly the fitted spread
    $\sigma_t$, and at 1 s it is the programmed conductance.

    **Arguments:**

    - `g_max`: uS (default 40, the reference of the fit; NeuRRAM's cells reach 39.26 uS).
    - `g_min`: uS (default 0).
    - `noise_scale`: multiplier of the spread (default 1).
    """

    g_max: float = 40.0
    g_min: float = 0.0
    noise_scale: float = 1.0

    def __check_init__(self):
        check_conductance_range("RRAMWan2022", self.g_min, self.g_max)
        check_nonnegative("RRAMWan2022", "noise_scale", self.noise_scale)

    def sigma(self, g: ArrayLike, t: ArrayLike) -> Array:
        """The conductance spread in uS at conductance `g` (uS), `t` seconds after programming."""
        g_rel = jnp.asarray(g) / self.g_max
        scale = self.noise_scale * self.g_max / 40.0
        s = [Polynomial(c, floor=0.0)(g_rel) * scale for c in _WAN2022_COEFFS]
        log_times = [math.log(t_i) for t_i in _WAN2022_TIMES]
        # The ratio below is computed with log(t) clamped into the fitted range, so every
        # branch is finite (also at t = 0) and the gradient is clean.
        x = jnp.clip(jnp.log(jnp.maximum(jnp.asarray(t), 1e-30)), log_times[0], log_times[-1])
        out = s[0]
        for i in range(len(log_times) - 1):
            w = jnp.clip((x - log_times[i]) / (log_times[i + 1] - log_times[i]), 0.0, 1.0)
            out = out + w * (s[i + 1] - s[i])
        return out

    @property
    def is_stochastic(self) -> bool:
        return True

    def current(self, g: ArrayLike, v: ArrayLike) -> Array:
        return ohmic(g, v)

    def _program(self, key: PRNGKeyArray, g_target: Array) -> RRAMState:
        return RRAMState(g_target, device_noise(key, g_target.shape, g_target.dtype))

    def _read(self, key: PRNGKeyArray, state: RRAMState, t: Array) -> Array:
        s_prog = self.sigma(state.g_target, _WAN2022_TIMES[0])
        s_t = self.sigma(state.g_target, t)
        s_fixed = jnp.minimum(s_prog, s_t)  # c * sigma_t
        s_fresh = safe_sqrt(s_t**2 - s_fixed**2)
        shape = jnp.broadcast_shapes(s_t.shape, state.xi.shape)
        xi_read = device_noise(key, shape, s_t.dtype)
        return jnp.maximum(state.g_target + s_fixed * state.xi + s_fresh * xi_read, 0.0)


class RRAMMilo2021(AbstractDevice):
    r"""HfO2 RRAM of Milo et al. (IRPS 2021), with its non-linear I-V curve.

    - programming (the IGVVA-100 algorithm): $\sigma_G = \max(-0.009107\, G + 4.782321, 0)$
      uS, fitted for G from 50 to 225 uS; the same fit as Sandia CrossSim's `RRAMMilo`;
      conductances are clipped at 0. The model has no drift and no read noise: every read
      returns the programmed conductance (CrossSim refuses drift for it likewise).
    - I-V: $I = G_0 V + NL_2 V|V| + NL_3 V^3$ with
      $NL_2 = \mathrm{polyval}([1.388\cdot10^{-4}, 1.541\cdot10^{-3}, 5.711\cdot10^{-3},
      7.063\cdot10^{-3}], \log_{10} G_0)$ and
      $NL_3 = \mathrm{polyval}([8.871\cdot10^{-5}, 6.7919\cdot10^{-4}, 1.2968\cdot10^{-3}],
      \log_{10} G_0)$, valid for $|V| \le 0.5$ V.

    **Units of the I-V fit (our reading):** the fit is evaluated with $G_0$ in mS and gives
    $NL_2$ in mA/V$^2$ and $NL_3$ in mA/V$^3$. In these units it is well conditioned and gives
    a superlinear curve, about 1-2 % above Ohm's law at 0.5 V and more so for low conductance,
    as measured I-V curves of such cells are. (In siemens its four terms cancel to below their
    rounding.) The curve is made odd in $V$ ($V|V|$ for the quadratic term), so reversed read
    voltages give reversed currents.

    **Arguments:** `g_min` (default 45 uS: CrossSim's suggested on/off ratio of 5), `g_max`
    (default 225 uS), `noise_scale` (default 1).
    """

    g_min: float = 45.0
    g_max: float = 225.0
    noise_scale: float = 1.0

    def __check_init__(self):
        check_conductance_range("RRAMMilo2021", self.g_min, self.g_max)
        check_nonnegative("RRAMMilo2021", "noise_scale", self.noise_scale)

    def prog_sigma(self, g: ArrayLike) -> Array:
        """Programming spread in uS at conductance `g` (uS)."""
        return jnp.maximum(-0.009107 * jnp.asarray(g) + 4.782321, 0.0)

    @property
    def is_stochastic(self) -> bool:
        return True

    def _program(self, key: PRNGKeyArray, g_target: Array) -> RRAMState:
        return RRAMState(g_target, device_noise(key, g_target.shape, g_target.dtype))

    def _read(self, key: PRNGKeyArray, state: RRAMState, t: Array) -> Array:
        del key
        sigma = self.noise_scale * self.prog_sigma(state.g_target)
        g = jnp.maximum(state.g_target + sigma * state.xi, 0.0)
        return jnp.broadcast_to(g, jnp.broadcast_shapes(g.shape, t.shape))

    def current(self, g: ArrayLike, v: ArrayLike) -> Array:
        """Cell current in uA: $G_0 V + NL_2 V|V| + NL_3 V^3$ (see the class docstring)."""
        g, v = jnp.asarray(g), jnp.asarray(v)
        x = jnp.log10(jnp.maximum(g, 1e-6) * 1e-3)  # log10 of G0 in mS
        nl2 = jnp.polyval(jnp.array([1.388e-4, 1.541e-3, 5.711e-3, 7.063e-3], x.dtype), x)
        nl3 = jnp.polyval(jnp.array([8.871e-5, 6.7919e-4, 1.2968e-3], x.dtype), x)
        # mA/V^2 and mA/V^3 -> uA/V^2 and uA/V^3
        return g * v + 1e3 * (nl2 * v * jnp.abs(v) + nl3 * v**3)
