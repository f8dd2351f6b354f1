"""Fitting device models to measured conductances.

From arrays of (target, programmed) conductances: the polynomial programming-noise model.
From conductances read at several times since programming: the state-dependent drift
exponent. `fit_pcm` combines both into a ready `PCM`. These run once on measured data, in
numpy (float64), outside any JAX transformation.
"""

from __future__ import annotations

import numpy as np

from ._pcm import PCM
from ._stats import LogLinear, Polynomial
from .checks import check_positive, is_integer


def _as_1d(name: str, x, owner: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{owner}: `{name}` holds non-finite values (nan or inf).")
    return x.reshape(-1)


def _check_bins(owner: str, bins, n: int, per_bin: int = 10) -> None:
    if not is_integer(bins) or bins < 2:
        raise ValueError(f"{owner}: `bins` must be an integer >= 2; got {bins!r}.")
    if n < bins * per_bin:
        raise ValueError(
            f"{owner}: {n} usable devices are too few for {bins} bins; give at least "
            f"{bins * per_bin} (10 per bin) or fewer `bins`."
        )


def _equal_count_bins(x: np.ndarray, bins: int) -> list[np.ndarray]:
    order = np.argsort(x, kind="stable")
    return np.array_split(order, bins)


def fit_programming_noise(
    g_target, g_programmed, *, g_max: float, degree: int = 2, bins: int = 20
) -> Polynomial:
    r"""Fit the polynomial programming-noise model $\sigma(g_T) = \sum_i c_i (g_T/g_{max})^i$.

    The model of Nandakumar et al. (ICECS 2019) and aihwkit's `prog_coeff`. Devices are
    sorted into `bins` equal-count bins of target conductance; in each bin the standard
    deviation of `g_programmed - g_target` is taken, and the polynomial is fitted to those
    spreads by least squares weighted by their sampling variance ($s^2 / (2(n - 1))$). Bins
    whose mean target lies within 3 spreads of zero are left out, since clipping of programmed
    conductances at zero narrows their spread.

    **Arguments:**

    - `g_target`, `g_programmed`: arrays of the same shape, uS.
    - `g_max`: the maximum conductance the coefficients refer to, uS.
    - `degree`: the polynomial degree (2 for the PCM model, 3 for HERMES).
    - `bins`: the number of equal-count bins (at least 10 devices each).

    **Returns:** a `devices.Polynomial` in uS at `g_max`, for `PCM(prog_sigma=...,
    prog_g_max_ref=g_max)`.
    """
    owner = "fit_programming_noise"
    check_positive(owner, "g_max", g_max)
    g_t = _as_1d("g_target", g_target, owner)
    g_p = _as_1d("g_programmed", g_programmed, owner)
    if g_t.shape != g_p.shape:
        raise ValueError(
            f"{owner}: `g_target` and `g_programmed` must have the same number of devices; "
            f"got {g_t.size} and {g_p.size}."
        )
    if not is_integer(degree) or degree < 0:
        raise ValueError(f"{owner}: `degree` must be an integer >= 0; got {degree!r}.")
    _check_bins(owner, bins, g_t.size)
    x, s, w = [], [], []
    for idx in _equal_count_bins(g_t, bins):
        resid = g_p[idx] - g_t[idx]
        sd = resid.std(ddof=1)
        if np.mean(g_t[idx]) < 3 * sd or sd <= 0:
            continue
        x.append(np.mean(g_t[idx]) / g_max)
        s.append(sd)
        w.append(2 * (idx.size - 1) / sd**2)
    if len(x) < degree + 1:
        raise ValueError(
            f"{owner}: only {len(x)} bins lie clear of zero conductance; a degree-{degree} "
            f"polynomial needs {degree + 1}. Give more devices at higher targets."
        )
    x, s, sw = np.asarray(x), np.asarray(s), np.sqrt(np.asarray(w))
    vander = np.vander(x, degree + 1, increasing=True)
    coeffs, *_ = np.linalg.lstsq(vander * sw[:, None], s * sw, rcond=None)
    return Polynomial(tuple(float(c) for c in coeffs))


def fit_clipped_line(x, y, weights=None, *, grid: int = 160) -> tuple[float, float, float, float]:
    r"""Weighted least-squares fit of $y = \mathrm{clip}(a x + b, lo, hi)$.

    Written as $y = b_0 + a\,\mathrm{clip}(x, k_1, k_2)$, the model is linear in $(b_0, a)$
    for fixed knots $k_1 \le k_2$; the knots are searched on a grid over the range of `x`
    (knots at the ends mean no clipping on that side). Outside the data the fit is constant.

    **Returns:** `(slope, intercept, lo, hi)` with `lo <= hi`.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, np.float64)
    knots = np.linspace(x.min(), x.max(), grid)
    k1, k2 = np.meshgrid(knots, knots, indexing="ij")
    keep = k1 < k2
    k1, k2 = k1[keep], k2[keep]  # (pairs,)
    z = np.clip(x[None, :], k1[:, None], k2[:, None])  # (pairs, n)
    sw = w.sum()
    zm = (z * w).sum(1) / sw
    ym = (y * w).sum() / sw
    szz = (w * (z - zm[:, None]) ** 2).sum(1)
    szy = (w * (z - zm[:, None]) * (y - ym)).sum(1)
    a = np.where(szz > 0, szy / np.where(szz > 0, szz, 1.0), 0.0)
    b0 = ym - a * zm
    sse = (w * (y[None, :] - b0[:, None] - a[:, None] * z) ** 2).sum(1)
    best = int(np.argmin(sse))
    a, b0, k1, k2 = float(a[best]), float(b0[best]), float(k1[best]), float(k2[best])
    ends = sorted((b0 + a * k1, b0 + a * k2))
    return a, b0, ends[0], ends[1]


def fit_drift(
    g_target, times, g_read, *, g_max: float, t0: float = 20.0, bins: int = 20
) -> tuple[LogLinear, LogLinear]:
    r"""Fit the state-dependent drift exponent: $\mu_\nu$ and $\sigma_\nu$ against $\ln g_{rel}$.

    For each device the drift exponent is the least-squares slope of $-\ln g(t)$ against
    $\ln((t + t_0)/t_0)$ over the read times (the drift law $g_{prog}((t + t_0)/t_0)^{-\nu}$).
    Devices are sorted into equal-count bins of $\ln(g_T / g_{max})$; in each bin the mean of
    the exponents estimates $\mu_\nu$, and their variance, less the mean variance of the
    per-device slope estimates (read noise makes each slope uncertain), estimates
    $\sigma_\nu^2$. Read noise biases the log-slopes slightly ($E[\ln(1 + e)] < 0$ and
    accumulated 1/f noise grows with time): on data drawn from `PCM()` the fitted curves
    come within about 4 % of the true ones for $g_{rel} \ge 0.006$, the slope of $\mu_\nu$
    about 5 % steep; where read noise exceeds ~50 % (the lowest conductances) the bias grows.
    Clipped lines in $\ln g_{rel}$ (the form of Nandakumar et al.) are then
    fitted to both, weighted by their sampling variance. Devices with a read at or below zero
    conductance are left out.

    **Arguments:**

    - `g_target`: `(n,)` target conductances, uS.
    - `times`: `(k,)` read times since programming, seconds, at least 3 distinct.
    - `g_read`: `(k, n)` conductances read at those times, uS.
    - `g_max`, `t0`: as in `PCM`.
    - `bins`: the number of bins.

    **Returns:** `(drift_mean, drift_std)`, two `devices.LogLinear`.
    """
    owner = "fit_drift"
    check_positive(owner, "g_max", g_max)
    check_positive(owner, "t0", t0)
    g_t = _as_1d("g_target", g_target, owner)
    t = _as_1d("times", times, owner)
    g_r = np.asarray(g_read, np.float64)
    if g_r.shape != (t.size, g_t.size):
        raise ValueError(
            f"{owner}: `g_read` must have shape (len(times), len(g_target)) = "
            f"({t.size}, {g_t.size}); got {g_r.shape}."
        )
    if np.any(t < 0) or np.unique(t).size < 3:
        raise ValueError(
            f"{owner}: `times` must hold at least 3 distinct times >= 0 s; got {t.tolist()}."
        )
    ok = np.all(g_r > 0, axis=0) & (g_t > 0) & np.all(np.isfinite(g_r), axis=0)
    g_t, g_r = g_t[ok], g_r[:, ok]
    _check_bins(owner, bins, g_t.size)
    x = np.log((t + t0) / t0)
    y = np.log(g_r)  # (k, n)
    xc = x - x.mean()
    sxx = (xc**2).sum()
    slope = (xc[:, None] * (y - y.mean(0))).sum(0) / sxx
    resid = y - y.mean(0) - slope * xc[:, None]
    est_var = (resid**2).sum(0) / (t.size - 2) / sxx
    nu = -slope
    ln_g = np.log(g_t / g_max)
    xb, mean, mean_w, std, std_w = [], [], [], [], []
    for idx in _equal_count_bins(ln_g, bins):
        n = idx.size
        m, v = nu[idx].mean(), nu[idx].var(ddof=1)
        var_nu = max(v - est_var[idx].mean(), 0.0)
        xb.append(ln_g[idx].mean())
        mean.append(m)
        mean_w.append(n / max(v, 1e-12))
        std.append(np.sqrt(var_nu))
        # var(sd) ~ var(nu_hat)^2 / (2 (n - 1) sigma^2): the noisier the slopes, the less weight
        std_w.append(2 * (n - 1) * max(var_nu, 1e-12) / max(v, 1e-12) ** 2)
    return (
        LogLinear(*fit_clipped_line(xb, mean, mean_w)),
        LogLinear(*fit_clipped_line(xb, std, std_w)),
    )


def fit_pcm(
    g_target,
    g_programmed,
    times,
    g_read,
    *,
    g_max: float = 25.0,
    t0: float = 20.0,
    degree: int = 2,
    bins: int = 20,
    g_target_read=None,
    **pcm_kwargs,
) -> PCM:
    """Fit a ready `PCM` model: programming noise and drift from measured conductances.

    **Arguments:**

    - `g_target`, `g_programmed`: targets and programmed conductances (uS), for
      `fit_programming_noise`.
    - `times`, `g_read`: read times (s) and `(len(times), n)` reads, for `fit_drift`; the
      devices' targets are `g_target_read` when given, else `g_target`.
    - `g_max`, `t0`: the model's maximum conductance (uS) and first read time (s).
    - `degree`, `bins`: as in the two fitting functions.
    - `**pcm_kwargs`: anything else for `PCM` (`t_read`, `read_noise`, noise scales...); the
      1/f read-noise statistic is not fitted and stays at its default unless given.

    **Returns:** a `PCM`.
    """
    prog = fit_programming_noise(g_target, g_programmed, g_max=g_max, degree=degree, bins=bins)
    targets = g_target if g_target_read is None else g_target_read
    mean, std = fit_drift(targets, times, g_read, g_max=g_max, t0=t0, bins=bins)
    return PCM(
        g_max,
        t0=t0,
        prog_sigma=prog,
        prog_g_max_ref=g_max,
        drift_mean=mean,
        drift_std=std,
        **pcm_kwargs,
    )
