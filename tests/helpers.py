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
