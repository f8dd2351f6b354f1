"""Helpers shared by the tests (plain functions; fixtures live in conftest.py)."""

import math

import jax
import jax.numpy as jnp


def tree_allclose(x, y, *, rtol=1e-5, atol=1e-8):
    """Whether two pytrees have the same structure and all-close leaves."""
    lx, tx = jax.tree_util.tree_flatten(x)
    ly, ty = jax.tree_util.tree_flatten(y)
    if tx != ty:
        return False
    return all(jnp.allclose(a, b, rtol=rtol, atol=atol) for a, b in zip(lx, ly))


def tree_equal(x, y):
    """Whether two pytrees are equal bit for bit."""
    lx, tx = jax.tree_util.tree_flatten(x)
    ly, ty = jax.tree_util.tree_flatten(y)
    return tx == ty and all(bool(jnp.array_equal(a, b)) for a, b in zip(lx, ly))


def normal_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def normal_pdf(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def rectified_normal_moments(m, s):
    """Mean and standard deviation of max(0, X), X ~ N(m, s^2)."""
    a = m / s
    mean = m * normal_cdf(a) + s * normal_pdf(a)
    second = (m * m + s * s) * normal_cdf(a) + m * s * normal_pdf(a)
    return mean, math.sqrt(max(second - mean * mean, 0.0))


def folded_normal_moments(m, s):
    """Mean and standard deviation of |X|, X ~ N(m, s^2)."""
    mean = s * math.sqrt(2 / math.pi) * math.exp(-m * m / (2 * s * s)) + m * (
        1 - 2 * normal_cdf(-m / s)
    )
    return mean, math.sqrt(m * m + s * s - mean * mean)


def folded_normal_mgf(c, m, s):
    """E[exp(-c |X|)] for X ~ N(m, s^2): the mean drift factor when nu = |X| and c = ln a."""
    e = c * c * s * s / 2
    return math.exp(-c * m + e) * normal_cdf(m / s - c * s) + math.exp(c * m + e) * normal_cdf(
        -m / s - c * s
    )


def numpy_analog_linear(
    W,
    b,
    x,
    *,
    rows,
    cols,
    dac_bits,
    adc_bits,
    adc_bound,
    bm="none",
    scaling="abs_max",
    constant=1.0,
    max_bm_res=0.25,
    max_bm_factor=1000,
):
    """A plain numpy (float32) reference of the noiseless tile pipeline of `AnalogLinear`
    with an ideal device and the differential mapping: per-tile DAC scaling, DAC, MVM, ADC,
    iterative bound management, digital rescale and row-tile sum, bias. aihwkit's order."""
    import numpy as np

    f32 = np.float32
    W, x = np.asarray(W, f32), np.asarray(x, f32)
    out_f, in_f = W.shape
    wmax = f32(np.abs(W).max())
    wt = (W.T / wmax).astype(f32)

    def step(bits, bound):
        if bits is None:
            return f32(0)
        return f32(f32(1.0 / max(2**bits - 2, 1)) * f32(2.0 * bound))

    r_in, r_out = step(dac_bits, 1.0), step(adc_bits, adc_bound)

    def q(v, r, bound):
        if r > 0:
            v = (np.rint(v / r) * r).astype(f32)
        return v, np.clip(v, -bound, bound).astype(f32)

    y = np.zeros(out_f, np.float64)
    for r0 in range(0, in_f, rows):
        xs = x[r0 : r0 + rows]
        nm = {"abs_max": f32(np.abs(xs).max()), "none": f32(1), "constant": f32(constant)}[scaling]
        if nm <= 0:
            continue
        for c0 in range(0, out_f, cols):
            wb = wt[r0 : r0 + rows, c0 : c0 + cols]
            red = f32(1)
            while True:
                scale = f32(f32(f32(1) / nm) / red)
                _, xq = q((xs * scale).astype(f32), r_in, 1.0)
                yy = (xq.astype(np.float64) @ wb.astype(np.float64)).astype(f32)
                yr, yc = q(yy, r_out, adc_bound)
                clipped = np.any(yr != yc)
                limit = red > max_bm_factor or (r_in > 0 and red > max_bm_res / r_in)
                if bm == "none" or not clipped or limit:
                    break
                red = f32(red * 2)
            y[c0 : c0 + cols] += (yc * (f32(1) / scale) * wmax).astype(np.float64)
    return (y + np.asarray(b, np.float64)).astype(f32)


def agree_but_for_ties(ours, ref, step, *, atol=1e-5, max_fraction=1e-3):
    """Outputs equal to float32 rounding, except a few that differ by exactly one ADC `step`
    (a pre-ADC value within float32 summation error of a rounding tie). Returns the count of
    such flips; raises AssertionError otherwise."""
    import numpy as np

    ours, ref, step = np.asarray(ours), np.asarray(ref), np.broadcast_to(step, np.shape(ref))
    d = np.abs(ours - ref)
    flips = d > atol + 1e-5 * np.abs(ref)
    assert np.allclose(d[flips], step[flips], rtol=1e-3), (d[flips], step[flips])
    assert flips.mean() <= max_fraction, f"{flips.sum()} of {flips.size} outputs differ"
    return int(flips.sum())
