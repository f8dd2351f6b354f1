"""The switch for checks of traced values in forward passes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_ENABLED = [True]


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Turn the checks of traced values in forward passes on (the default) or off while
    tracing the code inside.

    An analog layer checks its input for nan and inf on every call (`eqx.error_if`, also
    under `jit`). That costs a reduction and a host round trip per call, which a training
    step or a study whose data were checked once where they entered does not need:
    `crossbar.train`, `evaluate_drift` and `sweep` trace their steps with the checks off.
    The switch acts when a function is traced (a function jitted with the checks on keeps
    them). Configuration errors and the devices' checks at `program` and `at_time` are not
    affected.

    ```python
    with crossbar.value_checks(False):
        step = jax.jit(my_step).lower(...).compile()
    ```
    """
    previous = _ENABLED[0]
    _ENABLED[0] = bool(enabled)
    try:
        yield
    finally:
        _ENABLED[0] = previous


def checking() -> bool:
    """Whether forward passes traced now check their traced values."""
    return _ENABLED[0]
