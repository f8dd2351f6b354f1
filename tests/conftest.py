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

# Many tests compile the same programs in other processes: the CLI's subprocesses (a killed run
# and its resume), the two pytest-xdist workers, the notebooks' kernels. One persistent
# compilation cache for the whole run, new for each run (so no run is timed against a warm
# cache of an earlier one), shared through the environment that workers and subprocesses
# inherit. A user's own JAX_COMPILATION_CACHE_DIR is kept.
# (The kill -9 test runs about 10 % faster with it.) The process that made it removes it.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="crossbar-jax-cache-")
    os.environ["CROSSBAR_TEST_CACHE_OWNER"] = str(os.getpid())
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")

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


def pytest_unconfigure(config):
    if os.environ.get("CROSSBAR_TEST_CACHE_OWNER") == str(os.getpid()):
        import shutil

        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
