"""Shared test setup, in the Equinox manner: strict dtype promotion and a `getkey` fixture."""

import itertools
import os

# The suite is bound by XLA compilation (small networks, many programs). XLA's CPU backend at
# optimisation level 0 compiles them about twice as fast; runtime barely matters at test sizes.
# Set before the backend starts; the notebook kernels inherit it. Results are checked against
# references with tolerances, and bit-equality only within one configuration.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()

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
