"""LIF neurons, surrogate gradients and encoders."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import crossbar

CURRENTS = [0.6, 0.6, 0.6, 0.0, 1.5, 0.2]


def run(lif, currents):
    def step(u, i):
        s, u = lif(i, u)
        return u, (s, u)

    currents = jnp.asarray(currents)
    _, (s, u) = jax.lax.scan(step, lif.init_state(currents.shape[1:]), currents)
    return np.asarray(s), np.asarray(u)


def test_subtract_reset_hand_trace():
    """beta 0.5, threshold 1: U = 0.5 U + I - S[t-1]; the reset comes one step after a spike."""
    s, u = run(crossbar.LIF(beta=0.5, threshold=1.0, reset="subtract"), CURRENTS)
    np.testing.assert_allclose(u, [0.6, 0.9, 1.05, -0.475, 1.2625, -0.16875], atol=1e-6)
    np.testing.assert_array_equal(s, [0, 0, 1, 0, 1, 0])


def test_zero_reset_hand_trace():
    s, u = run(crossbar.LIF(beta=0.5, threshold=1.0, reset="zero"), CURRENTS)
    np.testing.assert_allclose(u, [0.6, 0.9, 1.05, 0.0, 1.5, 0.2], atol=1e-6)
    np.testing.assert_array_equal(s, [0, 0, 1, 0, 1, 0])


def test_threshold_is_strictly_greater():
    s, _ = run(crossbar.LIF(beta=0.0, threshold=1.0), [1.0, 1.0 + 1e-6])
    np.testing.assert_array_equal(s, [0, 1])


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("beta, threshold", [(0.9, 1.0), (0.5, 0.7), (0.95, 2.0)])
def test_same_traces_as_snntorch_leaky(reset, beta, threshold):
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    rng = np.random.default_rng(0)
    currents = rng.uniform(-0.5, 1.5, size=(50, 32)).astype(np.float32)
    leaky = snn.Leaky(beta=beta, threshold=threshold, reset_mechanism=reset)
    mem = leaky.init_leaky()
    spk_ref, mem_ref = [], []
    with torch.no_grad():
        for i in currents:
            spk, mem = leaky(torch.from_numpy(i), mem)
            spk_ref.append(spk.numpy())
            mem_ref.append(mem.numpy())
    lif = crossbar.LIF(beta=beta, threshold=threshold, reset=reset)
    s, u = run(lif, currents)
    np.testing.assert_array_equal(s, np.stack(spk_ref))
    np.testing.assert_allclose(u, np.stack(mem_ref), rtol=1e-5, atol=1e-6)
    assert s.sum() > 50  # the comparison saw many spikes and resets


@pytest.mark.parametrize(
    "surrogate, formula",
    [
        (crossbar.fast_sigmoid(), lambda u: 1 / (1 + 25 * abs(u)) ** 2),
        (crossbar.fast_sigmoid(10.0), lambda u: 1 / (1 + 10 * abs(u)) ** 2),
        (crossbar.arctan(), lambda u: 1 / (1 + (math.pi * u) ** 2)),
        (crossbar.arctan(4.0), lambda u: 2 / (1 + (2 * math.pi * u) ** 2)),
        (crossbar.triangle(), lambda u: max(0.0, 1 - abs(u))),
        (crossbar.straight_through(), lambda u: 1.0),
    ],
)
def test_surrogate_gradients_match_their_formulas(surrogate, formula):
    u = jnp.array([-1.5, -0.3, -0.01, 0.0, 0.02, 0.4, 2.0])
    np.testing.assert_array_equal(np.asarray(surrogate(u)), [0, 0, 0, 0, 1, 1, 1])
    grad = jax.vmap(jax.grad(surrogate))(u)
    np.testing.assert_allclose(grad, [formula(float(x)) for x in u], rtol=1e-5)


def test_gradient_flows_through_time_but_not_through_the_reset():
    lif = crossbar.LIF(beta=0.8, surrogate=crossbar.straight_through())
    g = jax.grad(lambda i: run_sum(lif, i))(jnp.array([0.5, 0.9, 0.1]))
    assert bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).sum()) > 0


def run_sum(lif, currents):
    def step(u, i):
        s, u = lif(i, u)
        return u, s

    return jax.lax.scan(step, lif.init_state(()), currents)[1].sum()


def test_tau_and_learnable_beta():
    assert float(crossbar.LIF(tau=2.0).beta) == 0.5
    currents = jnp.array([0.4, 0.7, 0.3, 0.9])
    fixed = jax.grad(lambda m: run_sum(m, currents))(crossbar.LIF(beta=0.8))
    learned = jax.grad(lambda m: run_sum(m, currents))(crossbar.LIF(beta=0.8, learn_beta=True))
    assert float(fixed.beta) == 0.0 and float(learned.beta) != 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(beta=1.5), "beta.*\\[0, 1\\]"),
        (dict(), "exactly one"),
        (dict(beta=0.5, tau=2.0), "exactly one"),
        (dict(tau=0.5), "tau"),
        (dict(beta=0.5, threshold=0.0), "threshold"),
        (dict(beta=0.5, reset="soft"), "reset"),
    ],
)
def test_bad_lif_configuration(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        crossbar.LIF(**kwargs)


def test_rate_encoding_statistics(getkey):
    p = jnp.array([0.0, 0.1, 0.5, 0.9, 1.0, 1.7])
    s = crossbar.rate_encode(p, 20_000, key=getkey())
    assert s.shape == (20_000, 6)
    rate = np.asarray(s.mean(0))
    expected = np.clip(np.asarray(p), 0, 1)
    assert np.all(np.abs(rate - expected) <= 4 * np.sqrt(expected * (1 - expected) / 20_000) + 1e-9)


def test_latency_and_direct_encoding():
    x = jnp.array([1.0, 0.5, 0.0, 0.25])
    s = np.asarray(crossbar.latency_encode(x, 5))
    np.testing.assert_array_equal(s.sum(0), [1, 1, 0, 1])  # one spike each; zero never spikes
    np.testing.assert_array_equal(s.argmax(0)[[0, 1, 3]], [0, 2, 3])  # (1 - x)(T - 1)
    d = np.asarray(crossbar.direct_encode(x, 3))
    np.testing.assert_array_equal(d, np.tile(np.asarray(x), (3, 1)))
    with pytest.raises(ValueError, match="steps"):
        crossbar.latency_encode(x, 0)
    with pytest.raises(RuntimeError, match="key"):
        crossbar.Encoder("rate", 4)(x)
