"""The five pulsed update models (IBM aihwkit's `ConstantStep`, `LinearStep`, `SoftBounds`,
`ExpStep` and `PowStep` devices): the step of one pulse as a function of the conductance.

The interface, the spread and the pulse loop they share are in `_pulsed`; here each model
gives its mean step (`step`), its cycle-to-cycle noise where it differs from multiplicative,
and its own device-to-device parameters (`_gammas`).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array

from ._pulsed import AbstractPulsedDevice, PulsedParams, PulseSpread
from .checks import check_finite_number, check_nonnegative, check_positive


def _linear_noise(device, g, params, up: bool, xi):
    """Cycle-to-cycle noise of the linear-step family: multiplicative (`mult_noise`), or
    additive in units of the cell's nominal step."""
    step = device.step(g, params, up)
    if device.mult_noise:
        return step * (1.0 + device.spread.std * xi)
    return step + (params.dg_up if up else params.dg_down) * device.spread.std * xi


class ConstantStep(AbstractPulsedDevice):
    r"""Every pulse moves the conductance by the same step, up to hard bounds.

    $g \leftarrow \mathrm{clip}(g \pm \Delta g^{\pm}_{ij} (1 + \sigma_{c2c} \xi),
    g^{lo}_{ij}, g^{hi}_{ij})$ (aihwkit `ConstantStepDevice`; Gokmen & Vlasov, "Acceleration of
    deep neural network training with resistive cross-point devices", Front. Neurosci. 10, 333,
    2016).

    **Arguments:** `g_min`, `g_max` (uS, default 0 and 25), `dg_min` (uS, default 0.1),
    `spread` (default `PulseSpread()`, aihwkit's defaults).
    """

    g_min: float = 0.0
    g_max: float = 25.0
    dg_min: float = 0.1
    spread: PulseSpread = PulseSpread()

    def step(self, g: Array, params: PulsedParams, up: bool) -> Array:
        return jnp.broadcast_to(params.dg_up if up else params.dg_down, jnp.shape(g))


class LinearStep(AbstractPulsedDevice):
    r"""The step shrinks linearly towards the bound it moves to.

    With $w = g - g_{mid}$ and per-cell slopes
    $s^{up}_{ij} = -|\gamma^{up} + \sigma^{up}_\gamma \xi| / b^{hi}$,
    $s^{down}_{ij} = |\gamma^{down} + \sigma^{down}_\gamma \xi| / |b^{lo}|$
    ($b^{hi} = g^{hi} - g_{mid}$, $b^{lo} = g^{lo} - g_{mid}$: the mean bounds with
    `mean_bound_reference`, else the cell's own),

    $g \leftarrow g \pm \Delta g^{\pm}_{ij} (1 + s^{\pm}_{ij} w)(1 + \sigma_{c2c} \xi)$
    (`mult_noise`, default) or $g \pm \Delta g^{\pm}_{ij} (1 + s^{\pm}_{ij} w + \sigma_{c2c}
    \xi)$, then clipped to the cell's bounds (aihwkit `LinearStepDevice`). A negative mean
    step is taken as zero (aihwkit's `allow_increasing=False`).

    `gamma_up = gamma_down = 1` without spread is soft bounds (`SoftBounds`).

    **Arguments:** `g_min`, `g_max`, `dg_min`, `spread` as `ConstantStep`; `gamma_up`,
    `gamma_down` (>= 0, default 0), `gamma_up_dtod`, `gamma_down_dtod` (default 0.05),
    `mean_bound_reference` (True), `mult_noise` (True).
    """

    g_min: float = 0.0
    g_max: float = 25.0
    dg_min: float = 0.1
    spread: PulseSpread = PulseSpread()
    gamma_up: float = 0.0
    gamma_down: float = 0.0
    gamma_up_dtod: float = 0.05
    gamma_down_dtod: float = 0.05
    mean_bound_reference: bool = eqx.field(static=True, default=True)
    mult_noise: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        for name in ("gamma_up", "gamma_down", "gamma_up_dtod", "gamma_down_dtod"):
            check_nonnegative("LinearStep", name, getattr(self, name))

    @property
    def _has_dtod(self) -> bool:
        return self.spread.has_dtod or self.gamma_up_dtod > 0 or self.gamma_down_dtod > 0

    def _gammas(self, key, shape, g_lo, g_hi):
        if key is None or (self.gamma_up_dtod == 0 and self.gamma_down_dtod == 0):
            k_up = k_down = None
        else:
            k_up, k_down = jr.split(key)
        g_up = self.gamma_up + (
            0.0 if k_up is None else self.gamma_up_dtod * jr.normal(k_up, shape)
        )
        g_down = self.gamma_down + (
            0.0 if k_down is None else self.gamma_down_dtod * jr.normal(k_down, shape)
        )
        if self.mean_bound_reference:
            b_hi = b_lo = 0.5 * (self.g_max - self.g_min)
        else:
            b_hi, b_lo = g_hi - self.g_mid, self.g_mid - g_lo
        return (
            jnp.broadcast_to(-jnp.abs(g_up) / b_hi, shape),
            jnp.broadcast_to(jnp.abs(g_down) / b_lo, shape),
        )

    def step(self, g: Array, params: PulsedParams, up: bool) -> Array:
        w = g - self.g_mid
        if up:
            return params.dg_up * jnp.maximum(1.0 + params.gamma_up * w, 0.0)
        return params.dg_down * jnp.maximum(1.0 + params.gamma_down * w, 0.0)

    def _noisy_step(self, g, params, up, xi):
        return _linear_noise(self, g, params, up, xi)


class SoftBounds(AbstractPulsedDevice):
    r"""The step shrinks linearly to zero at each cell's own bound.

    $g \leftarrow g + \Delta g^{up}_{ij} \frac{g^{hi}_{ij} - g}{g^{hi}_{ij} - g_{mid}}
    (1 + \sigma_{c2c} \xi)$ up, $g - \Delta g^{down}_{ij} \frac{g - g^{lo}_{ij}}{g_{mid} -
    g^{lo}_{ij}} (1 + \sigma_{c2c} \xi)$ down (aihwkit `SoftBoundsDevice`, its `LinearStep`
    with slope 1 on the cell's own bounds; the usual model of filamentary RRAM and of PCM
    potentiation, e.g. Fuller et al., Science 364, 570, 2019). From $g_0$, $n$ noiseless up
    pulses give $g_n = g^{hi} - (g^{hi} - g_0)(1 - \Delta g^{up} / (g^{hi} - g_{mid}))^n$.

    **Arguments:** `g_min`, `g_max`, `dg_min`, `spread` as `ConstantStep`; `mult_noise`
    (True; False: additive $\Delta g \sigma_{c2c} \xi$).
    """

    g_min: float = 0.0
    g_max: float = 25.0
    dg_min: float = 0.1
    spread: PulseSpread = PulseSpread()
    mult_noise: bool = eqx.field(static=True, default=True)

    def step(self, g: Array, params: PulsedParams, up: bool) -> Array:
        if up:
            rel = (params.g_hi - g) / jnp.maximum(params.g_hi - self.g_mid, 1e-30)
            return params.dg_up * jnp.maximum(rel, 0.0)
        rel = (g - params.g_lo) / jnp.maximum(self.g_mid - params.g_lo, 1e-30)
        return params.dg_down * jnp.maximum(rel, 0.0)

    def _noisy_step(self, g, params, up, xi):
        return _linear_noise(self, g, params, up, xi)


class ExpStep(AbstractPulsedDevice):
    r"""An exponential step-versus-conductance curve (fitted to measured devices).

    With $w = g - g_{mid}$, $z = 2 a\, w / (g^{hi}_{ij} - g^{lo}_{ij}) + b$,
    $y^{up} = 1 - A^{up} e^{\gamma^{up} z}$, $y^{down} = 1 - A^{down} e^{-\gamma^{down} z}$:
    $g \leftarrow g \pm \max(y^{\pm}, 0)\, \Delta g^{\pm}_{ij} + \sigma_{c2c}(\sigma_{add} +
    |\Delta| + \sigma_{slope} |w|) \xi$, where $\Delta = \max(y^{\pm}, 0) \Delta g^{\pm}_{ij}$
    (aihwkit `ExpStepDevice`; its defaults are the fit of Gong et al., "Signal and noise
    extraction from analog memory elements for neuromorphic computing", Nat. Commun. 9, 2102,
    2018). With `std_add = std_slope = 0` the noise is multiplicative, $(1 + \sigma_{c2c}\xi)$.

    **Arguments:** `g_min`, `g_max`, `dg_min`, `spread` as `ConstantStep`; `A_up` (0.00081),
    `A_down` (0.36833), `gamma_up` (12.44625), `gamma_down` (12.78785), `a` (0.244), `b`
    (0.2425), `std_add`, `std_slope` (uS and per uS; default 0).
    """

    g_min: float = 0.0
    g_max: float = 25.0
    dg_min: float = 0.1
    spread: PulseSpread = PulseSpread()
    A_up: float = 0.00081
    A_down: float = 0.36833
    gamma_up: float = 12.44625
    gamma_down: float = 12.78785
    a: float = 0.244
    b: float = 0.2425
    std_add: float = 0.0
    std_slope: float = 0.0

    def __check_init__(self):
        for name in ("A_up", "A_down", "gamma_up", "gamma_down", "std_add", "std_slope"):
            check_nonnegative("ExpStep", name, getattr(self, name))
        for name in ("a", "b"):
            check_finite_number("ExpStep", name, getattr(self, name))

    def step(self, g: Array, params: PulsedParams, up: bool) -> Array:
        width = jnp.maximum(params.g_hi - params.g_lo, 1e-30)  # bounds may meet in the middle
        z = 2.0 * self.a * (g - self.g_mid) / width + self.b
        if up:
            return params.dg_up * jnp.maximum(1.0 - self.A_up * jnp.exp(self.gamma_up * z), 0.0)
        return params.dg_down * jnp.maximum(1.0 - self.A_down * jnp.exp(-self.gamma_down * z), 0.0)

    def _noisy_step(self, g, params, up, xi):
        dg = self.step(g, params, up)
        sigma = self.std_add + dg + self.std_slope * jnp.abs(g - self.g_mid)
        return dg + self.spread.std * sigma * xi


class PowStep(AbstractPulsedDevice):
    r"""The step is a power of the distance to the bound it moves to.

    With $\omega = (g^{hi}_{ij} - g) / (g^{hi}_{ij} - g^{lo}_{ij})$:
    $g \leftarrow g + \Delta g^{up}_{ij}\, \omega^{\gamma^{up}_{ij}} (1 + \sigma_{c2c} \xi)$ up,
    $g - \Delta g^{down}_{ij} (1 - \omega)^{\gamma^{down}_{ij}} (1 + \sigma_{c2c} \xi)$ down,
    with $\gamma^{up}_{ij} = \gamma (u + \sigma_{pud} \xi_1 + \sigma_{p} \xi_2)$,
    $\gamma^{down}_{ij} = \gamma (d - \sigma_{pud} \xi_1 + \sigma_{p} \xi_2)$, $u, d$ from
    `pow_up_down` as the step bias of `PulseSpread` (aihwkit `PowStepDevice`: the shifted
    Fusi & Abbott synapse, Nat. Neurosci. 10, 485, 2007; Frascaroli et al., Sci. Rep. 8, 7178,
    2018). Note that $\Delta g$ is the step at $\omega = 1$, not in the middle.

    **Arguments:** `g_min`, `g_max`, `dg_min`, `spread` as `ConstantStep`; `pow_gamma` (> 0,
    default 1), `pow_gamma_dtod` (0.1), `pow_up_down` (0), `pow_up_down_dtod` (0).
    """

    g_min: float = 0.0
    g_max: float = 25.0
    dg_min: float = 0.1
    spread: PulseSpread = PulseSpread()
    pow_gamma: float = 1.0
    pow_gamma_dtod: float = 0.1
    pow_up_down: float = 0.0
    pow_up_down_dtod: float = 0.0

    def __check_init__(self):
        check_positive("PowStep", "pow_gamma", self.pow_gamma)
        for name in ("pow_gamma_dtod", "pow_up_down_dtod"):
            check_nonnegative("PowStep", name, getattr(self, name))
        check_finite_number("PowStep", "pow_up_down", self.pow_up_down)
        if not -1.0 < self.pow_up_down < 1.0:
            raise ValueError(
                f"PowStep: `pow_up_down` must be in (-1, 1); got {self.pow_up_down!r}."
            )

    @property
    def _has_dtod(self) -> bool:
        return self.spread.has_dtod or self.pow_gamma_dtod > 0 or self.pow_up_down_dtod > 0

    def _gammas(self, key, shape, g_lo, g_hi):
        del g_lo, g_hi
        up = 1.0 + min(self.pow_up_down, 0.0)
        down = 1.0 - max(self.pow_up_down, 0.0)
        if key is not None:
            k1, k2 = jr.split(key)
            xi1, xi2 = jr.normal(k1, shape), jr.normal(k2, shape)
            up = up + self.pow_up_down_dtod * xi1 + self.pow_gamma_dtod * xi2
            down = down - self.pow_up_down_dtod * xi1 + self.pow_gamma_dtod * xi2
        return (
            jnp.broadcast_to(self.pow_gamma * jnp.asarray(up), shape),
            jnp.broadcast_to(self.pow_gamma * jnp.asarray(down), shape),
        )

    def step(self, g: Array, params: PulsedParams, up: bool) -> Array:
        width = jnp.maximum(params.g_hi - params.g_lo, 1e-30)  # bounds may meet in the middle
        omega = jnp.clip((params.g_hi - g) / width, 0.0, 1.0)
        if up:
            return params.dg_up * omega**params.gamma_up
        return params.dg_down * (1.0 - omega) ** params.gamma_down
