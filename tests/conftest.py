"""Shared test setup, in the Equinox manner: strict dtype promotion and a `getkey` fixture."""

import itertools

import jax
import jax.random as jr
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture
def getkey():
    """A function returning a fresh PRNG key on each call, the same sequence in every test."""
    counter = itertools.count()
    base = jr.PRNGKey(20260101)
    return lambda: jr.fold_in(base, next(counter))
