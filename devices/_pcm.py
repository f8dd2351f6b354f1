"""Phase-change memory: the statistical model of Nandakumar et al. and Joshi et al."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from ._abstract import AbstractDevice, ohmic
from ._random import normal, rectified
from ._stats import AbstractStatistic, LogLinear, Piecewise, Polynomial, PowerLaw
from .checks import check_conductance_range, check_nonnegative, check_positive, scalar_value

#: The largest multiplier of a PCM statistic (`prog_noise_scale` ...) accepted.
MAX_SCALE = 10.0


class PCMState(eqx.Module):
    """Programmed state of a `PCM` population.

    - `g_prog`: programmed conductances in uS (after programming noise, before drift).
    - `nu`: each device's drift exponent, drawn once at programming (carries no gradient).
    """

    g_prog: Array
    nu: Array


class PCM(AbstractDevice):
    r"""Phase-change memory: programming noise, state-dependent drift and 1/f read noise.

    The statistical model of Nandakumar et al. (ICECS 2019) and Joshi et al. (Nat. Commun.
    11:2473, 2020), with the constants and the order of operations of IBM aihwkit's
    `PCMLikeNoiseModel`. With $g_T$ the target, $g_{rel} = g_T / g_{max}$ and $\xi \sim
    N(0, 1)$ drawn independently for each draw:

    - programming: $\sigma_{prog} = (0.26348 + 1.9650\, g_{rel} - 1.1731\, g_{rel}^2)
      \cdot g_{max} / 25$ uS; $g_{prog} = \max(0, g_T + \sigma_{prog}\,\xi)$;
    - drift exponent, drawn once at programming from the *target*, with $g_{rel}$ floored at
      $10^{-7}$: $\mu_\nu = \mathrm{clip}(-0.0155 \ln g_{rel} + 0.0244, 0.049, 0.1)$,
      $\sigma_\nu = \mathrm{clip}(-0.0125 \ln g_{rel} - 0.0059, 0.008, 0.045)$,
      $\nu = |\mu_\nu + \sigma_\nu \xi|$;
    - drift: $g_{drift} = g_{prog}\,((t + t_0)/t_0)^{-\nu}$;
    - 1/f read noise: $Q_s = \min(0.0088 / \max(g^{0.65}, 10^{-3}), 0.2)$ and
      $g(t) = \max\big(0,\ g_{drift} + |g_{drift}|\, Q_s \sqrt{\ln((t + t_0 + t_{read})
      / (2 t_{read}))}\ \xi\big)$.

    **Which conductance $Q_s$ reads:** the programmed conductance, $g = |g_{prog}| / g_{max}$,
    as aihwkit's code does (its documentation writes $g_T$). The difference is small where
    programming noise is small against $g_T$, and this choice makes the statistics agree
    with aihwkit's draw for draw.

    The noise is reparameterised, so `jax.grad` of a read conductance with respect to the
    target exists. The drift exponent carries no gradient (`stop_gradient`), and $Q_s$ floors
    its input before the power, so a device programmed to zero gives a finite gradient.

    **Arguments:**

    - `g_max`: the conductance the largest weight maps to, uS (default 25).
    - `t0`: the first read after programming, from which drift is counted, s (default 20).
    - `t_read`: the 1/f-noise integration parameter, s (default 250 ns).
    - `prog_noise_scale`, `drift_scale`, `read_noise_scale`: multipliers of the programming
      spread, the drift exponent and the read noise (default 1; 0 turns one off; at most
      `devices._pcm.MAX_SCALE` = 10).
    - `g_min`: the smallest conductance, uS (default 0).
    - `prog_sigma`, `drift_mean`, `drift_std`, `read_noise`: the four fitted statistics as
      `devices` curves of $g_{rel}$ (defaults: the aihwkit fits above). `prog_sigma` is in uS
      at a maximum conductance `prog_g_max_ref` (25 uS for the default fit, else `g_max`) and
      is scaled by `g_max / prog_g_max_ref`, as aihwkit does.

    `PCM.hermes()` gives the HERMES-chip fit (Le Gallo et al., Nat. Electron. 2023).
    """

    g_max: float
    g_min: float
    t0: float
    t_read: float
    prog_noise_scale: float
    drift_scale: float
    read_noise_scale: float
    prog_sigma: AbstractStatistic
    prog_g_max_ref: float
    drift_mean: AbstractStatistic
    drift_std: AbstractStatistic
    read_noise: AbstractStatistic

    def __init__(
        self,
        g_max: float = 25.0,
        *,
        t0: float = 20.0,
        t_read: float = 250e-9,
        prog_noise_scale: float = 1.0,
        drift_scale: float = 1.0,
        read_noise_scale: float = 1.0,
        g_min: float = 0.0,
        prog_sigma: AbstractStatistic | None = None,
        prog_g_max_ref: float | None = None,
        drift_mean: AbstractStatistic | None = None,
        drift_std: AbstractStatistic | None = None,
        read_noise: AbstractStatistic | None = None,
    ):
        self.g_max, self.g_min = g_max, g_min
        self.t0, self.t_read = t0, t_read
        self.prog_noise_scale = prog_noise_scale
        self.drift_scale = drift_scale
        self.read_noise_scale = read_noise_scale
        if prog_sigma is None:
            prog_sigma = Polynomial((0.26348, 1.9650, -1.1731))
            prog_g_max_ref = 25.0 if prog_g_max_ref is None else prog_g_max_ref
        self.prog_sigma = prog_sigma
        self.prog_g_max_ref = g_max if prog_g_max_ref is None else prog_g_max_ref
        self.drift_mean = (
            LogLinear(-0.0155, 0.0244, 0.049, 0.1) if drift_mean is None else drift_mean
        )
        self.drift_std = (
            LogLinear(-0.0125, -0.0059, 0.008, 0.045) if drift_std is None else drift_std
        )
        self.read_noise = PowerLaw(0.0088, 0.65, 1e-3, 0.2) if read_noise is None else read_noise

    def __check_init__(self):
        check_conductance_range("PCM", self.g_min, self.g_max)
        check_positive("PCM", "t0", self.t0)
        check_positive("PCM", "t_read", self.t_read)
        check_positive("PCM", "prog_g_max_ref", self.prog_g_max_ref)
        for name in ("prog_noise_scale", "drift_scale", "read_noise_scale"):
            value = getattr(self, name)
            check_nonnegative("PCM", name, value)
            value = scalar_value(value)
            if value is not None and value > MAX_SCALE:
                raise ValueError(
                    f"PCM: `{name}` must be at most {MAX_SCALE:g} ({MAX_SCALE:g} times the "
                    f"measured statistics; beyond, a 25 uS cell would read hundreds of uS); got "
                    f"{value!r}."
                )

    @classmethod
    def hermes(cls, num_devices: int = 2, **overrides) -> PCM:
        """The PCM devices of IBM's HERMES chip (Le Gallo et al., Nat. Electron. 2023).

        The piecewise fits of aihwkit's `HermesNoiseModel` (Khaddam-Aljameh et al., JSSC
        2022; Vasilopoulos et al., TED 2023 for two devices per weight). With
        `num_devices=2` (default): g_max 20.7 uS, t0 = 300 s, t_read = 512 ns, a cubic
        programming spread, and piecewise drift-exponent and 1/f statistics; with
        `num_devices=1`: g_max 10.35 uS, t0 = 200 s and the single-device fits. As in aihwkit,
        two devices per weight are modelled as one device holding the summed conductance.

        **Arguments:** `num_devices` (1 or 2), and any `PCM` keyword to override.
        """
        if num_devices not in (1, 2):
            raise ValueError(
                f"PCM.hermes: `num_devices` must be 1 or 2 (devices per weight); "
                f"got {num_devices!r}."
            )
        mean = Piecewise(
            0.0945, LogLinear(-0.0387, -0.0182, 0.072, 0.13), Polynomial((0.0736, -0.0126, -0.0436))
        )
        if num_devices == 2:
            g_max_fit, t0, prog = 20.7, 300.0, (0.16603222, 4.71806468, -8.48101252, 4.68961419)
            std = Piecewise(
                0.3055,
                LogLinear(-0.0117, -0.0057, 0.0091, 0.04),
                Polynomial((0.0073, 0.0093, -0.0118)),
            )
            q_s = Piecewise(
                0.16,
                LogLinear(-0.0117, -0.0069, 0.015, 0.04),
                Polynomial((0.0123, 0.0211, -0.0280, 0.0069)),
            )
        else:
            g_max_fit, t0, prog = 10.35, 200.0, (0.15781817, 2.32443916, -2.16310839, 0.68841818)
            std = Piecewise(
                0.3039,
                LogLinear(-0.0120, -0.0023, 0.0124, 0.04),
                Polynomial((0.0104, 0.0116, -0.0165)),
            )
            q_s = Piecewise(
                0.1591,
                LogLinear(-0.0078, 0.0038, 0.0179, 0.04),
                Polynomial((0.0088, 0.0768, -0.1352, 0.0664)),
            )
        g_max = overrides.pop("g_max", g_max_fit)
        if g_max > g_max_fit:
            raise ValueError(
                f"PCM.hermes: `g_max` must be <= {g_max_fit} uS, the largest conductance "
                f"characterised for {num_devices} device(s) per weight; got {g_max!r}."
            )
        kwargs = dict(
            t0=t0,
            t_read=512e-9,
            prog_sigma=Polynomial(prog),
            prog_g_max_ref=g_max_fit,
            drift_mean=mean,
            drift_std=std,
            read_noise=q_s,
        )
        kwargs.update(overrides)
        return cls(g_max, **kwargs)

    @property
    def is_stochastic(self) -> bool:
        return True

    def current(self, g: ArrayLike, v: ArrayLike) -> Array:
        return ohmic(g, v)

    def _program(self, key: PRNGKeyArray, g_target: Array) -> PCMState:
        k_prog, k_nu = jr.split(key)
        g_rel = g_target / self.g_max
        sigma = self.prog_sigma(g_rel) * (self.g_max / self.prog_g_max_ref)
        xi = normal(k_prog, g_target.shape, g_target.dtype)
        g_prog = rectified(g_target, self.prog_noise_scale * sigma, xi)
        # The drift exponent depends on the target and carries no useful gradient.
        g_rel = jax.lax.stop_gradient(g_rel)
        mu, sd = self.drift_mean(g_rel), self.drift_std(g_rel)
        nu = jnp.abs(mu + sd * normal(k_nu, g_target.shape, g_target.dtype))
        return PCMState(g_prog=g_prog, nu=jax.lax.stop_gradient(nu * self.drift_scale))

    def drift_factor(self, nu: Array, t: Array) -> Array:
        """The mean-free drift factor $((t + t_0)/t_0)^{-\\nu}$."""
        # exp(-nu ln r) rather than r ** -nu: XLA's general power costs five times as much
        return jnp.exp(-nu * jnp.log((t + self.t0) / self.t0))

    def _read(self, key: PRNGKeyArray, state: PCMState, t: Array) -> Array:
        g_drift = state.g_prog * self.drift_factor(state.nu, t)
        q_s = self.read_noise(jnp.abs(state.g_prog) / self.g_max)
        sig = q_s * jnp.sqrt(jnp.log((t + self.t0 + self.t_read) / (2 * self.t_read)))
        shape = jnp.broadcast_shapes(g_drift.shape, sig.shape)
        xi = normal(key, shape, g_drift.dtype)
        return rectified(g_drift, jnp.abs(g_drift) * (self.read_noise_scale * sig), xi)
