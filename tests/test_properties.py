"""Property-based: random configurations of PCM, DAC, ADC, Tile, LIF and AnalogLinear are
either accepted and give finite outputs for finite inputs, or refused with a `ValueError`
that names a field; never another exception, never a hang (bounded examples)."""

import math

import jax.numpy as jnp
import jax.random as jr
import pytest

import crossbar
import devices

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: Numbers of the right type with the values that break things: zero, negative, tiny, huge,
#: not finite.
FLOATS = st.one_of(
    st.sampled_from([0.0, -1.0, 1e-30, 1e30, math.inf, -math.inf, math.nan, 0.5, 1.0, 25.0]),
    st.floats(-100, 100, allow_nan=False),
)
INTS = st.one_of(st.sampled_from([0, -3, 1, 2, 4, 8, 25, 10**9]), st.integers(-5, 40))
FEW = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def built_or_named(make, fields):
    """`make()`, or None when it raised a ValueError that names one of `fields`."""
    try:
        return make()
    except ValueError as e:
        message = str(e)
        assert any(f"`{f}`" in message or f"{f}" in message for f in fields), message
        return None


@FEW
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "g_max": FLOATS,
            "g_min": FLOATS,
            "t0": FLOATS,
            "t_read": FLOATS,
            "prog_noise_scale": FLOATS,
            "drift_scale": FLOATS,
            "read_noise_scale": FLOATS,
        },
    )
)
def test_pcm(kwargs):
    pcm = built_or_named(lambda: devices.PCM(**kwargs), kwargs)
    if pcm is not None:
        g = jnp.linspace(pcm.g_min, pcm.g_max, 16)
        state = pcm.program(jr.PRNGKey(0), g)
        read = pcm.read(jr.PRNGKey(1), state, 3600.0)
        assert bool(jnp.all(jnp.isfinite(read))) and bool(jnp.all(read >= 0))


@FEW
@given(INTS, FLOATS, INTS, FLOATS)
def test_converters(dac_bits, dac_bound, adc_bits, adc_bound):
    dac = built_or_named(lambda: crossbar.DAC(bits=dac_bits, bound=dac_bound), ["bits", "bound"])
    adc = built_or_named(lambda: crossbar.ADC(bits=adc_bits, bound=adc_bound), ["bits", "bound"])
    x = jnp.linspace(-3, 3, 11)
    if dac is not None:
        assert bool(jnp.all(jnp.isfinite(dac(x, jnp.ones((1,))))))
    if adc is not None:
        assert bool(jnp.all(jnp.isfinite(adc(x))))


@FEW
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "out_noise": FLOATS,
            "w_noise": FLOATS,
            "rows": INTS,
            "cols": INTS,
            "max_bm_res": FLOATS,
            "v_read": FLOATS,
            "train_time": st.tuples(FLOATS, FLOATS),
        },
    ),
    st.integers(-1, 20),
    st.integers(-1, 20),
)
def test_tile_and_analog_linear(kwargs, n_in, n_out):
    tile = built_or_named(lambda: crossbar.Tile(device=devices.PCM(), **kwargs), kwargs)
    if tile is None:
        return
    layer = built_or_named(
        lambda: crossbar.AnalogLinear(n_in, n_out, tile=tile, key=jr.PRNGKey(0)),
        ["in_features", "out_features"],
    )
    if layer is not None:
        y = layer(jnp.linspace(-1, 1, n_in), key=jr.PRNGKey(1))
        assert y.shape == (n_out,) and bool(jnp.all(jnp.isfinite(y)))


@FEW
@given(st.one_of(st.none(), FLOATS), st.one_of(st.none(), FLOATS), FLOATS)
def test_lif(beta, tau, threshold):
    lif = built_or_named(
        lambda: crossbar.LIF(beta, tau=tau, threshold=threshold), ["beta", "tau", "threshold"]
    )
    if lif is not None:
        spikes, u = lif(jnp.linspace(-2, 2, 3), jnp.zeros(3))
        assert bool(jnp.all(jnp.isfinite(spikes))) and bool(jnp.all(jnp.isfinite(u)))
