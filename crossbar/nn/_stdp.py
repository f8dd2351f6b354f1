r"""Learning on the array: spike-timing-dependent plasticity turned into device pulses.

`STDP` is the pair-based rule with pre- and post-synaptic traces (Song, Miller and Abbott,
Nat. Neurosci. 3, 919, 2000; the trace form of Morrison, Diesmann and Gerstner, Biol. Cybern.
98, 459, 2008). `PlasticLinear` is a crossbar layer of pulsed devices (one cell per synapse,
the weight its place in the range, $w = (g - g_{min}) / (g_{max} - g_{min})$) whose weight
changes are applied as SET/RESET pulse counts, so what it learns feels each cell's step
non-linearity, spread and noise (`devices.ConstantStep`, `SoftBounds`, `ExpStep`...).
`stdp_digits` is the worked example: an unsupervised layer with lateral inhibition on the 8 x 8
digits, Diehl and Cook (Front. Comput. Neurosci. 9, 99, 2015) scaled down.
"""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

import devices
from devices.checks import check_int, check_nonnegative, check_positive

from ..core._analog_mvm import analog_mvm, split_rows, tiled
from ..core._mapping import Differential
from ..core._tile import Tile, grid


class STDP(eqx.Module):
    r"""Pair-based STDP with exponential windows, computed with traces.

    For a pre-synaptic spike at $t_{pre}$ and a post-synaptic spike at $t_{post}$,
    $\Delta t = t_{post} - t_{pre}$, the weight changes by

    $$\Delta w = A_+ e^{-\Delta t / \tau_+} \ (\Delta t \ge 0), \qquad
    \Delta w = -A_- e^{\Delta t / \tau_-} \ (\Delta t < 0),$$

    summed over all pairs (all-to-all pairing): potentiation when the pre-synaptic spike comes
    first (or in the same step), depression when it comes after. On a grid of steps `dt` this
    is exact with the traces $x_{pre} \leftarrow x_{pre} e^{-dt/\tau_+} + s_{pre}$ (read after
    this step's pre spikes) and $y_{post} \leftarrow y_{post} e^{-dt/\tau_-} + s_{post}$ (read
    before this step's post spikes): $\Delta w_{ij} = \sum_t A_+ s^{post}_i(t) x^{pre}_j(t)
    - A_- y^{post}_i(t^-) s^{pre}_j(t)$.

    Weights are in units of the device range (`PlasticLinear`: 1 = `g_max - g_min`).

    `x_tar` adds Diehl and Cook's (2015) presynaptic offset: every post-synaptic spike also
    changes every synapse by $-A_+ x_{tar}$, so inputs that have been silent are depressed
    (without it, a pixel that never spikes never changes). Default 0: the plain pair rule.

    **Arguments:** `a_plus` (0.01), `a_minus` (0.0105: Song et al.'s $A_-/A_+ = 1.05$),
    `tau_plus`, `tau_minus` (s, 20 ms each), `dt` (s, the step, 1 ms), `x_tar` (0).
    """

    a_plus: float = 0.01
    a_minus: float = 0.0105
    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    dt: float = 1e-3
    x_tar: float = 0.0

    def __check_init__(self):
        for name in ("a_plus", "a_minus", "x_tar"):
            check_nonnegative("STDP", name, getattr(self, name))
        for name in ("tau_plus", "tau_minus", "dt"):
            check_positive("STDP", name, getattr(self, name))

    def window(self, delta_t: ArrayLike) -> Array:
        """The change of one pair, `delta_t = t_post - t_pre` in seconds (the closed form)."""
        d = jnp.asarray(delta_t, dtype=jnp.result_type(float))
        pot = self.a_plus * jnp.exp(-jnp.abs(d) / self.tau_plus)
        dep = -self.a_minus * jnp.exp(-jnp.abs(d) / self.tau_minus)
        return jnp.where(d >= 0, pot, dep)

    def __call__(self, pre: ArrayLike, post: ArrayLike) -> Array:
        """The weight change `(n_post, n_pre)` from spike trains `pre (T, n_pre)` and
        `post (T, n_post)` (0/1 per step), traces starting at zero."""
        pre = jnp.asarray(pre, dtype=jnp.result_type(float))
        post = jnp.asarray(post, dtype=pre.dtype)
        if pre.ndim != 2 or post.ndim != 2 or pre.shape[0] != post.shape[0]:
            raise ValueError(
                "STDP: `pre` and `post` must be spike trains (T, n) with the same T; got "
                f"{pre.shape} and {post.shape}."
            )
        d_pre = math.exp(-self.dt / self.tau_plus)
        d_post = math.exp(-self.dt / self.tau_minus)

        def step(carry, s):
            x, y = carry
            s_pre, s_post = s
            x = d_pre * x + s_pre
            y_before = d_post * y
            return (x, y_before + s_post), (x, y_before)

        init = (jnp.zeros(pre.shape[1:], pre.dtype), jnp.zeros(post.shape[1:], pre.dtype))
        _, (x, y_before) = jax.lax.scan(step, init, (pre, post))
        return self.a_plus * post.T @ (x - self.x_tar) - self.a_minus * y_before.T @ pre


def to_pulses(dw: ArrayLike, device: devices.AbstractPulsedDevice, key: PRNGKeyArray) -> Array:
    """Signed pulse counts for weight changes `dw` (units of the range): `dw (g_max - g_min) /
    dg_min` rounded stochastically (up with the probability of the fraction, so the expected
    count is exact: aihwkit's stochastic pulse trains in the mean)."""
    if not isinstance(device, devices.AbstractPulsedDevice):
        raise ValueError(
            f"to_pulses: `device` must be a pulsed device (devices.ConstantStep, SoftBounds, "
            f"LinearStep, ExpStep, PowStep); got {type(device).__name__}."
        )
    n = jnp.asarray(dw) * ((device.g_max - device.g_min) / device.dg_min)
    lo = jnp.floor(n)
    return (lo + (jr.uniform(key, n.shape, n.dtype) < n - lo).astype(n.dtype)).astype(jnp.int32)


class PlasticLinear(eqx.Module):
    r"""`y = W x` on one crossbar of pulsed devices that learns by pulses.

    One cell per synapse (non-negative weights, as excitatory synapses), the weight the cell's
    place in the mean range: $W = (g - g_{min}) / (g_{max} - g_{min})$ (so a cell whose own
    bounds are narrower never reaches 0 or 1). `apply(dw, key)` turns a desired change into
    pulse counts (`to_pulses`) and applies them to the cells (`device.update`); `stdp(rule,
    pre, post, key)` does it for the spike trains of one presentation.

    The read: ideal (`tile=None`, Ohm's and Kirchhoff's laws), or through a `crossbar.Tile`'s
    periphery: its DAC (input scaling and rounding), short-term weight noise, output noise, ADC
    and bound management, on a grid of `rows x cols` tiles with the partial sums added
    digitally, the weights in [0, 1] as the tile units of the one array (the tile's `device`
    and `mapping` are not used: the cells are `device`). Circuit tiles (IR drop, non-linear
    I-V, current limit) and ADC gain/offset errors are not supported here.

    **Arguments:** `in_features`, `out_features`; `device`, a pulsed device; `w_init`, the
    initial weights `(low, high)`, drawn uniformly and programmed (default (0.3, 0.7));
    `tile`, the read periphery or None; `key`, for the initial weights and the cells'
    device-to-device spread.
    """

    state: devices.PulsedState
    in_features: int = eqx.field(static=True)
    out_features: int = eqx.field(static=True)
    device: devices.AbstractPulsedDevice
    tile: Tile | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        device: devices.AbstractPulsedDevice,
        w_init: tuple[float, float] = (0.3, 0.7),
        tile: Tile | None = None,
        key: PRNGKeyArray,
    ):
        check_int("PlasticLinear", "in_features", in_features)
        check_int("PlasticLinear", "out_features", out_features)
        if not isinstance(device, devices.AbstractPulsedDevice):
            raise ValueError(
                "PlasticLinear: `device` must be a pulsed device (devices.ConstantStep, "
                f"SoftBounds, LinearStep, ExpStep, PowStep); got {type(device).__name__}."
            )
        lo, hi = w_init
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(
                f"PlasticLinear: `w_init` must be (low, high) with 0 <= low <= high <= 1; got "
                f"{w_init!r}."
            )
        if tile is not None:
            if not isinstance(tile, Tile):
                raise ValueError(
                    f"PlasticLinear: `tile` must be a crossbar.Tile or None; got {tile!r}."
                )
            if tile.is_circuit or tile.has_adc_errors or tile.ir_drop is not None:
                raise ValueError(
                    "PlasticLinear: a tile with IR drop, non-linear I-V, a current limit or ADC "
                    "gain/offset errors is not supported for plastic layers; use one without."
                )
        # One array read as it is: the readout of a single array (Differential's combine is the
        # identity on one readout); the tile's own mapping does not apply to these cells.
        self.tile = None if tile is None else dataclasses.replace(tile, mapping=Differential())
        k_w, k_dev = jr.split(key)
        w = jr.uniform(k_w, (out_features, in_features), minval=lo, maxval=hi)
        g = device.g_min + w * (device.g_max - device.g_min)
        self.state = device.program(k_dev, g)
        self.in_features, self.out_features, self.device = in_features, out_features, device

    @property
    def weight(self) -> Array:
        """The weights `(out, in)` the cells hold now."""
        d = self.device
        return (self.state.g - d.g_min) / (d.g_max - d.g_min)

    def __call__(self, x: ArrayLike, *, key: PRNGKeyArray | None = None) -> Array:
        """`W x` for one input `(in,)`; `key` for the tile's periphery noise, if it has any."""
        x = jnp.asarray(x, dtype=self.state.g.dtype)
        if self.tile is None:
            return self.weight @ x
        tile = self.tile
        if tile.periphery_is_noisy and key is None:
            raise RuntimeError("PlasticLinear: this tile draws periphery noise: pass key=...")
        t_r, t_c, rows, cols = grid(self.in_features, self.out_features, tile)
        w_r = tiled(self.weight, t_r, rows, t_c, cols)[None]
        key = key if tile.periphery_is_noisy else None
        y = analog_mvm(tile, w_r, split_rows(x, t_r, rows), key)
        return y.sum(0).reshape(-1)[: self.out_features]

    def apply(self, dw: ArrayLike, key: PRNGKeyArray) -> PlasticLinear:
        """This layer after a desired weight change `dw (out, in)`, applied as pulses."""
        k_round, k_pulse = jr.split(key)
        n = to_pulses(dw, self.device, k_round)
        state = self.device.update(self.state, n, k_pulse)
        return eqx.tree_at(lambda m: m.state, self, state)

    def stdp(self, rule: STDP, pre: ArrayLike, post: ArrayLike, key: PRNGKeyArray) -> PlasticLinear:
        """This layer after `rule` on the spike trains `pre (T, in)`, `post (T, out)`."""
        return self.apply(rule(pre, post), key)
