"""Shared test setup, in the Equinox manner: strict dtype promotion and a `getkey` fixture."""

import itertools
import os

# The suite is bound by XLA compilation (small networks, many programs); runtime barely
# matters at test sizes. XLA's CPU backend at optimisation level 0 compiles them about twice
# as fast, and without LLVM's expensive passes a little faster again (the README's SNN read
# at 1 h: 2.8 s at level 0, 2.3 s with both). XLA's older loop emitters
# (`--xla_cpu_use_fusion_emitters=false`) would halve that again, but they round some fused
# elementwise chains differently from the same operations unfused, so "same key, same bits"
# under `jit` and eager execution would no longer hold: not used. Set before the backend
# starts; the notebook kernels and the CLI's subprocesses inherit them. A flag the user set
# is kept. Results are checked against references with tolerances, and bit-equality only
# within one configuration.
for _flag, _value in (
    ("xla_backend_optimization_level", "0"),
    ("xla_llvm_disable_expensive_passes", "true"),
):
    if _flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --{_flag}={_value}".strip()

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

import jax  # noqa: E402 (after the environment above)
import jax.random as jr  # noqa: E402
import pytest  # noqa: E402

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
