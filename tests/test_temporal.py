"""Neurons with memory: Synaptic, ALIF and Recurrent, against numpy loops and snnTorch."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices

N, T = 12, 40


def run(cell, currents, key=None):
    """The spikes and membranes of `cell` over `currents (T, n)`."""

    def step(state, inp):
        i, k = inp
        s, state = cell(i, state, key=k) if key is not None else cell(i, state)
        return state, (s, cell.membrane(state))

    currents = jnp.asarray(currents)
    keys = jr.split(key, currents.shape[0]) if key is not None else jnp.zeros(currents.shape[0])
    _, (s, u) = jax.lax.scan(step, cell.init_state(currents.shape[1:]), (currents, keys))
    return np.asarray(s), np.asarray(u)


def currents(seed=0, t=T, n=N, low=-0.4, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=(t, n)).astype(np.float32)


def numpy_recurrent_lif(i, v, b, beta, theta, reset):
    """Our LIF (snnTorch Leaky's rule) with feedback `v s + b`, in float64."""
    u, s, out_s, out_u = np.zeros(i.shape[1]), np.zeros(i.shape[1]), [], []
    for x in i.astype(np.float64):
        r = (u > theta).astype(float)
        x = x + v @ s + b
        u = beta * u + x - r * theta if reset == "subtract" else beta * (1 - r) * u + x
        s = (u > theta).astype(float)
        out_s.append(s)
        out_u.append(u)
    return np.array(out_s), np.array(out_u)


def numpy_synaptic(i, alpha, beta, theta, reset, v=None, b=0.0):
    syn, mem, s, out_s, out_u = (np.zeros(i.shape[1]) for _ in range(5))
    out_s, out_u = [], []
    for x in i.astype(np.float64):
        r = (mem > theta).astype(float)
        if v is not None:
            x = x + v @ s + b
        syn_new = alpha * syn + x
        mem_new = beta * mem + syn_new
        if reset == "subtract":
            mem_new = mem_new - r * theta
        else:
            mem_new = (1 - r) * mem_new
        syn, mem = syn_new, mem_new
        s = (mem > theta).astype(float)
        out_s.append(s)
        out_u.append(mem)
    return np.array(out_s), np.array(out_u)


def numpy_alif(i, beta, b0, beta_a, rho, reset):
    """Bellec et al.'s ALIF as written in the issue: b = b0 + beta_a a, a' = rho a + s."""
    u, a, s = (np.zeros(i.shape[1]) for _ in range(3))
    out_s, out_u, out_b = [], [], []
    for x in i.astype(np.float64):
        b_prev = b0 + beta_a * a
        u = beta * u + x - s * b_prev if reset == "subtract" else beta * (1 - s) * u + x
        a = rho * a + s
        b = b0 + beta_a * a
        s = (u > b).astype(float)
        out_s.append(s)
        out_u.append(u)
        out_b.append(b)
    return np.array(out_s), np.array(out_u), np.array(out_b)


def digital_linear(w, b):
    lin = eqx.nn.Linear(w.shape[1], w.shape[0], key=jr.PRNGKey(0))
    return eqx.tree_at(lambda m: (m.weight, m.bias), lin, (jnp.asarray(w), jnp.asarray(b)))


def recurrent_weights(seed=1, n=N, scale=0.3):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(0, scale, (n, n)).astype(np.float32),
        rng.normal(0, 0.05, n).astype(np.float32),
    )


# ----------------------------------------------------------------- closed forms, numpy


def test_synaptic_hand_trace():
    """alpha 0.5, beta 0.5, threshold 1, one input pulse of 1.6 then nothing: I_syn halves each
    step (1.6, 0.8, 0.4, 0.2) and U = 0.5 U + I_syn - R: 1.6 (a spike), then 0.8 + 0.8 - 1 =
    0.6 (the reset comes a step after the spike), 0.3 + 0.4 = 0.7, 0.35 + 0.2 = 0.55."""
    s, u = run(crossbar.Synaptic(0.5, 0.5), [[1.6], [0.0], [0.0], [0.0]])
    np.testing.assert_allclose(u[:, 0], [1.6, 0.6, 0.7, 0.55], atol=1e-6)
    np.testing.assert_array_equal(s[:, 0], [1, 0, 0, 0])
    s, u = run(crossbar.Synaptic(0.5, 0.5, reset="zero"), [[1.6], [0.0], [0.0], [0.0]])
    # U zeroed a step after the spike; I_syn carries on: 0.4, then 0.2 + 0.2 = 0.4.
    np.testing.assert_allclose(u[:, 0], [1.6, 0.0, 0.4, 0.4], atol=1e-6)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_synaptic_equals_numpy(reset):
    i = currents(2)
    alpha = np.linspace(0.3, 0.9, N)  # one decay per neuron
    s, u = run(crossbar.Synaptic(alpha, 0.8, threshold=1.2, reset=reset), i)
    s_ref, u_ref = numpy_synaptic(i, alpha, 0.8, 1.2, reset)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_allclose(u, u_ref, rtol=1e-5, atol=1e-5)
    assert s.sum() > 40


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_alif_equals_numpy(reset):
    i = currents(3, low=0.0, high=0.9)
    cell = crossbar.ALIF(0.9, threshold=1.0, beta_a=0.3, rho=0.8, reset=reset)
    s, u = run(cell, i)
    s_ref, u_ref, _ = numpy_alif(i, 0.9, 1.0, 0.3, 0.8, reset)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_allclose(u, u_ref, rtol=1e-5, atol=1e-5)
    assert s.sum() > 40


def test_alif_threshold_rises_with_each_spike_and_relaxes():
    """A constant drive of 1.5 fires at once; with beta_a 0.5, rho 0.5 the threshold after the
    first spike is 1 + 0.5 = 1.5, and it relaxes geometrically when the input stops."""
    cell = crossbar.ALIF(0.0, threshold=1.0, beta_a=0.5, rho=0.5)
    state = cell.init_state(1)
    s, state = cell(jnp.array([1.5]), state)
    assert float(s[0]) == 1.0
    np.testing.assert_allclose(cell.adaptive_threshold(state), [1.0])  # a = 0 until next step
    for expect_a in (1.0, 0.5, 0.25):
        _, state = cell(jnp.array([0.0]), state)
        np.testing.assert_allclose(state[1], [expect_a], atol=1e-7)
    np.testing.assert_allclose(cell.adaptive_threshold(state), [1.125], atol=1e-7)


def test_alif_without_adaptation_is_lif():
    i = currents(4)
    s, u = run(crossbar.ALIF(0.85, threshold=0.9, beta_a=0.0), i)
    s_ref, u_ref = run(crossbar.LIF(0.85, threshold=0.9), i)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_allclose(u, u_ref, atol=1e-6)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_recurrent_lif_equals_numpy(reset):
    i, (v, b) = currents(5), recurrent_weights()
    cell = crossbar.Recurrent(crossbar.LIF(0.9, threshold=1.0, reset=reset), digital_linear(v, b))
    s, u = run(cell, i)
    s_ref, u_ref = numpy_recurrent_lif(i, v, b, 0.9, 1.0, reset)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_allclose(u, u_ref, rtol=1e-5, atol=1e-5)
    assert s.sum() > 40


def test_recurrent_synaptic_and_alif_equal_numpy():
    i, (v, b) = currents(6), recurrent_weights(2)
    s, u = run(crossbar.Recurrent(crossbar.Synaptic(0.6, 0.7), digital_linear(v, b)), i)
    s_ref, u_ref = numpy_synaptic(i, 0.6, 0.7, 1.0, "subtract", v=v, b=b)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_allclose(u, u_ref, rtol=1e-5, atol=1e-5)
    assert s.sum() > 40


def test_recurrent_feedback_matters():
    """The same cell without feedback gives other spikes (the test above is not trivial)."""
    i, (v, b) = currents(5), recurrent_weights()
    s, _ = run(crossbar.Recurrent(crossbar.LIF(0.9), digital_linear(v, b)), i)
    s0, _ = run(crossbar.LIF(0.9), i)
    assert np.sum(s != s0) > 20


def test_analog_recurrent_on_an_ideal_tile_equals_digital():
    i, (v, b) = currents(7), recurrent_weights(3)
    tile = crossbar.ideal_tile(crossbar.Tile())
    analog = crossbar.AnalogLinear.from_weights(jnp.asarray(v), jnp.asarray(b), tile=tile)
    s_a, u_a = run(crossbar.Recurrent(crossbar.LIF(0.9), analog), i, key=jr.PRNGKey(1))
    s_d, u_d = run(crossbar.Recurrent(crossbar.LIF(0.9), digital_linear(v, b)), i)
    np.testing.assert_array_equal(s_a, s_d)
    np.testing.assert_allclose(u_a, u_d, atol=1e-5)


# ----------------------------------------------------------------------------- snnTorch


def _snntorch_run(neuron, i, recurrent):
    """snnTorch's spikes and membranes over `i`, the state passed explicitly each step."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    zeros = [torch.zeros(i.shape[1]) for _ in range(3)]
    synaptic = isinstance(neuron, (snn.Synaptic, snn.RSynaptic))
    spk, syn, mem = zeros
    out_s, out_u = [], []
    with torch.no_grad():
        for x in torch.from_numpy(i):
            if synaptic:
                args = (spk, syn, mem) if recurrent else (syn, mem)
                spk, syn, mem = neuron(x, *args)
            else:
                spk, mem = neuron(x, spk, mem) if recurrent else neuron(x, mem)
            out_s.append(spk.numpy().copy())
            out_u.append(mem.numpy().copy())
    return np.stack(out_s), np.stack(out_u)


def _set_linear(torch_linear, v, b):
    import torch

    with torch.no_grad():
        torch_linear.weight.copy_(torch.from_numpy(v))
        torch_linear.bias.copy_(torch.from_numpy(b))


@pytest.mark.parametrize("beta, threshold", [(0.9, 1.0), (0.7, 0.8)])
def test_recurrent_lif_equals_snntorch_rleaky(beta, threshold):
    pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    i, (v, b) = currents(8), recurrent_weights(4)
    ref = snn.RLeaky(beta=beta, threshold=threshold, linear_features=N)
    _set_linear(ref.recurrent, v, b)
    s_ref, u_ref = _snntorch_run(ref, i, recurrent=True)
    cell = crossbar.Recurrent(crossbar.LIF(beta, threshold=threshold), digital_linear(v, b))
    s, u = run(cell, i)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_allclose(u, u_ref, rtol=1e-5, atol=1e-5)
    assert s.sum() > 40


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_synaptic_equals_snntorch(reset):
    pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    i = currents(9)
    ref = snn.Synaptic(alpha=0.6, beta=0.8, threshold=1.1, reset_mechanism=reset)
    s_ref, u_ref = _snntorch_run(ref, i, recurrent=False)
    s, u = run(crossbar.Synaptic(0.6, 0.8, threshold=1.1, reset=reset), i)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_allclose(u, u_ref, rtol=1e-5, atol=1e-5)
    assert s.sum() > 40


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_recurrent_synaptic_equals_snntorch_rsynaptic(reset):
    pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    i, (v, b) = currents(10), recurrent_weights(5)
    ref = snn.RSynaptic(alpha=0.6, beta=0.8, linear_features=N, reset_mechanism=reset)
    _set_linear(ref.recurrent, v, b)
    s_ref, u_ref = _snntorch_run(ref, i, recurrent=True)
    cell = crossbar.Recurrent(crossbar.Synaptic(0.6, 0.8, reset=reset), digital_linear(v, b))
    s, u = run(cell, i)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_allclose(u, u_ref, rtol=1e-5, atol=1e-5)
    assert s.sum() > 40


# ----------------------------------------------------------------- networks and chips


def recurrent_net(key, n_in=6, n=10, n_out=3, cell=None):
    k1, k2, k3 = jr.split(key, 3)
    tile = crossbar.Tile(device=devices.PCM())
    cell = crossbar.LIF(0.9) if cell is None else cell
    return crossbar.SpikingNetwork(
        [
            crossbar.AnalogLinear(n_in, n, key=k1, tile=tile),
            crossbar.Recurrent(cell, crossbar.AnalogLinear(n, n, key=k2, tile=tile)),
            crossbar.AnalogLinear(n, n_out, key=k3, tile=tile),
            crossbar.LIF(0.9),
        ],
        encoder=None,
    )


def test_recurrent_weights_are_programmed_read_and_vmapped_over_chips():
    net = recurrent_net(jr.PRNGKey(0))
    assert len(crossbar.analog_layers(net)) == 3  # the recurrent layer is found
    x = jnp.asarray(currents(11, t=16, n=6) > 0.5, jnp.float32)
    keys = jr.split(jr.PRNGKey(1), 4)

    @eqx.filter_jit
    @eqx.filter_vmap
    def chip_outputs(k):
        chip = crossbar.at_time(crossbar.program(net, k), 86400.0, k)
        return chip(x, key=k), chip.layers[1].recurrent.state.g

    y, g = chip_outputs(keys)
    assert y.shape == (4, 3)
    assert g.shape[0] == 4 and not np.allclose(g[0], g[1])  # each chip its own devices
    one = crossbar.at_time(crossbar.program(net, keys[2]), 86400.0, keys[2])
    np.testing.assert_allclose(y[2], one(x, key=keys[2]), atol=1e-6)


def test_recurrent_network_learns():
    """A recurrent network on a task that needs memory: say which of two channels held the
    first of two pulses, the answer read at the end, with the channels silent between."""
    key = jr.PRNGKey(0)
    n_ex, steps = 64, 12
    label = np.random.default_rng(0).integers(0, 2, n_ex)
    x = np.zeros((n_ex, steps, 2), np.float32)
    x[np.arange(n_ex), 0, label] = 1.0  # the cue at step 0 ...
    x[:, 8, :] = 1.0  # ... and a "go" pulse on both channels later
    net = crossbar.SpikingNetwork(
        [
            crossbar.AnalogLinear(2, 16, key=jr.PRNGKey(1)),
            crossbar.Recurrent(
                crossbar.LIF(0.95, learn_beta=True),
                crossbar.AnalogLinear(16, 16, key=jr.PRNGKey(2)),
            ),
            crossbar.AnalogLinear(16, 2, key=jr.PRNGKey(3)),
        ],
        encoder=None,
        readout="mean",
    )
    step = crossbar.TrainStep(net, learning_rate=2e-2, hardware_aware=False)
    x, y = jnp.asarray(x), jnp.asarray(label, jnp.int32)
    losses = [float(step(x, y, key=jr.fold_in(key, i))[0]) for i in range(150)]
    first, last = losses[0], float(step(x, y, key=key)[0])
    assert first > 0.6  # chance: log 2 = 0.69
    assert last < 0.5 * first, (first, last)


def test_learnable_decays_and_thresholds_get_gradients():
    i = jnp.asarray(currents(12))

    def loss(cell):
        s, u = run_traced(cell, i)
        return jnp.sum(u**2) + jnp.sum(s)

    for cell, names in [
        (
            crossbar.Synaptic(0.5, 0.8, learn_alpha=True, learn_beta=True, learn_threshold=True),
            ("alpha", "beta", "threshold"),
        ),
        (
            crossbar.ALIF(0.8, learn_beta=True, learn_threshold=True, learn_adaptation=True),
            ("beta", "threshold", "beta_a", "rho"),
        ),
    ]:
        g = eqx.filter_grad(loss)(cell)
        for name in names:
            assert float(jnp.abs(getattr(g, name))) > 0, (type(cell).__name__, name)
    frozen = eqx.filter_grad(loss)(crossbar.Synaptic(0.5, 0.8))
    assert float(frozen.alpha) == 0 and float(frozen.threshold) == 0


def run_traced(cell, i):
    def step(state, x):
        s, state = cell(x, state)
        return state, (s, cell.membrane(state))

    _, (s, u) = jax.lax.scan(step, cell.init_state(i.shape[1:]), i)
    return s, u


def test_energy_report_counts_the_recurrent_array():
    net = recurrent_net(jr.PRNGKey(0))
    key = jr.PRNGKey(3)
    chip = crossbar.at_time(crossbar.program(net, key), 3600.0, key)
    x = jnp.asarray(np.random.default_rng(1).uniform(0, 1, (5, 16, 6)) > 0.4, jnp.float32)
    report = crossbar.estimate_energy(chip, x, key=key)
    names = [r["name"] for r in report["layers"]]
    assert len(names) == 3 and names[1] == "AnalogLinear(10->10) recurrent", names
    _, activity = jax.vmap(lambda xi: chip.record(xi, key=key))(x)
    spikes = np.asarray(activity[1])  # the recurrent layer's spikes (N, T, n)
    # SynOps of the recurrent array: each spike of the step before reaches all n neurons.
    expected = spikes[:, :-1].sum() * 10 / x.shape[0]
    assert report["layers"][1]["synops"] == pytest.approx(expected)
    assert report["layers"][1]["firing_rate"] == pytest.approx(spikes.mean())


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: crossbar.Synaptic(1.2, 0.5), "alpha"),
        (lambda: crossbar.Synaptic(0.5, 0.5, threshold=0.0), "threshold"),
        (lambda: crossbar.Synaptic(0.5, tau=0.5), "tau"),
        (lambda: crossbar.ALIF(0.9, beta_a=-1.0), "beta_a"),
        (lambda: crossbar.ALIF(0.9, rho=0.5, tau_a=3.0), "rho"),
        (lambda: crossbar.ALIF(0.9, reset="soft"), "reset"),
        (lambda: crossbar.Recurrent(jnp.tanh, digital_linear(*recurrent_weights())), "cell"),
        (
            lambda: crossbar.Recurrent(
                crossbar.LIF(0.9), crossbar.AnalogLinear(4, 5, key=jr.PRNGKey(0))
            ),
            "square",
        ),
    ],
)
def test_bad_neuron_arguments_are_named(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# ----------------------------------------------------------------- NIR


def nir_net(reset, key=jr.PRNGKey(0)):
    """Every temporal layer NIR has a node for, on an ideal tile (exact round trips)."""
    tile = crossbar.ideal_tile(crossbar.Tile())
    k = jr.split(key, 4)
    beta = np.linspace(0.7, 0.95, 10)
    return crossbar.SpikingNetwork(
        [
            crossbar.AnalogLinear(6, 10, key=k[0], tile=tile),
            crossbar.Recurrent(
                crossbar.LIF(beta, threshold=0.8, reset=reset),
                crossbar.AnalogLinear(10, 10, key=k[1], tile=tile),
            ),
            crossbar.AnalogLinear(10, 8, key=k[2], tile=tile),
            crossbar.Recurrent(
                crossbar.Synaptic(0.5, 0.85, threshold=np.linspace(0.6, 1.2, 8), reset=reset),
                crossbar.AnalogLinear(8, 8, key=k[3], tile=tile),
            ),
            crossbar.AnalogLinear(8, 4, key=k[0], tile=tile),
            crossbar.Synaptic(0.3, 0.9, reset=reset),
        ],
        encoder=None,
        readout="sum",
    )


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_nir_round_trip_of_recurrent_and_synaptic_layers(tmp_path, reset):
    pytest.importorskip("nir")
    net = nir_net(reset)
    crossbar.export_nir(net, tmp_path / "rsnn.nir")
    back = crossbar.import_nir(tmp_path / "rsnn.nir")
    x = jnp.asarray(currents(12, t=30, n=6, low=0.0) > 0.5, jnp.float32)
    (out_a, act_a), (out_b, act_b) = net.record(x), back.record(x)
    for i in (1, 3, 5):
        np.testing.assert_array_equal(act_a[i], act_b[i])
        assert 0 < float(jnp.mean(act_a[i])) < 1  # the test has spikes to lose
    np.testing.assert_array_equal(out_a, out_b)
    assert isinstance(back.layers[1], crossbar.Recurrent)
    assert isinstance(back.layers[3].cell, crossbar.Synaptic)
    np.testing.assert_array_equal(back.layers[1].cell.beta, net.layers[1].cell.beta)
    np.testing.assert_array_equal(back.layers[3].cell.threshold, net.layers[3].cell.threshold)


def test_nir_graph_of_a_recurrent_chip():
    """The closed forms of snnTorch's conventions, the cycle of the recurrent subgraph and
    the realised (programmed, drifted) recurrent weights of a read chip."""
    nir = pytest.importorskip("nir")
    net = recurrent_net(jr.PRNGKey(0), cell=crossbar.Synaptic(0.6, 0.8))
    chip = crossbar.at_time(crossbar.program(net, jr.PRNGKey(1)), 86400.0, jr.PRNGKey(2))
    graph = crossbar.export_nir(chip, dt=1e-4)
    sub = graph.nodes["1_recurrent"]
    assert isinstance(sub, nir.NIRGraph)
    assert {("lif", "w_rec"), ("w_rec", "lif")} <= {tuple(e) for e in sub.edges}
    realised = chip.layers[1].recurrent.realised_weight()
    np.testing.assert_allclose(sub.nodes["w_rec"].weight, realised, rtol=1e-6)
    assert not np.allclose(sub.nodes["w_rec"].weight, net.layers[1].recurrent.weight)
    cuba = sub.nodes["lif"]
    np.testing.assert_allclose(cuba.tau_syn, 1e-4 / 0.4, rtol=1e-6)  # dt / (1 - alpha)
    np.testing.assert_allclose(cuba.tau_mem, 1e-4 / 0.2, rtol=1e-6)  # dt / (1 - beta)
    np.testing.assert_allclose(cuba.w_in * 1e-4, cuba.tau_syn, rtol=1e-6)
    np.testing.assert_allclose(cuba.r * 1e-4, cuba.tau_mem, rtol=1e-6)


def test_nir_foreign_cubalif_gains_are_folded_and_alif_is_refused():
    nir = pytest.importorskip("nir")
    dt, n = 1e-3, 5
    w = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    w_rec = np.random.default_rng(1).normal(size=(n, n)).astype(np.float32) * 0.3
    ones = np.ones(n, np.float32)
    cuba = nir.CubaLIF(  # input gains dt w_in / tau_syn = 0.5 and dt r / tau_mem = 3
        tau_syn=2e-3 * ones,
        tau_mem=5e-3 * ones,
        r=15 * ones,
        w_in=1 * ones,
        v_leak=0 * ones,
        v_threshold=ones,
        v_reset=0 * ones,
    )
    sub = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n])}),
            "lif": cuba,
            "w_rec": nir.Linear(weight=w_rec),
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([3])}),
            "fc": nir.Linear(weight=w),
            "rnn": sub,
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "fc"), ("fc", "rnn"), ("rnn", "output")],
        metadata={"dt": dt},
    )
    net = crossbar.import_nir(graph)
    np.testing.assert_allclose(net.layers[0].weight, 1.5 * w, rtol=1e-6)
    np.testing.assert_allclose(net.layers[1].recurrent.weight, 1.5 * w_rec, rtol=1e-6)
    cell = net.layers[1].cell
    np.testing.assert_allclose([cell.alpha, cell.beta], [0.5, 0.8], rtol=1e-6)
    # A numpy Euler step of NIR's equations gives the same spikes.
    x = currents(13, t=25, n=3, low=0.0, high=1.0)
    i_syn, v, s, ref = np.zeros(n), np.zeros(n), np.zeros(n), []
    for xt in x.astype(np.float64):
        # the zero reset of a foreign graph, snnTorch Synaptic's rule (delayed, and the step's
        # input dropped with the membrane)
        r = (v > 1.0).astype(float)
        i_syn = 0.5 * i_syn + 0.5 * (w @ xt + w_rec @ s)
        v = (1 - r) * (0.8 * v + 3.0 * i_syn)
        s = (v > 1.0).astype(float)
        ref.append(s)
    _, act = net.record(jnp.asarray(x))
    np.testing.assert_array_equal(act[1], np.stack(ref))
    assert 0 < np.mean(ref) < 1
    alif = recurrent_net(jr.PRNGKey(0), cell=crossbar.ALIF(0.9))
    with pytest.raises(ValueError, match="ALIF"):
        crossbar.export_nir(alif)


def test_recurrent_network_in_evaluate_drift_and_sweep():
    """A recurrent network goes through the studies like any other: `evaluate_drift` over
    chips and times, and one compiled `sweep` over float parameters whose points differ."""
    net = recurrent_net(jr.PRNGKey(0))
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(48, 12, 6)) < 0.4).astype(np.float32)
    y = rng.integers(0, 3, 48).astype(np.int32)
    data = crossbar.data.arrays(x[:32], y[:32], x[32:], y[32:])
    r = crossbar.evaluate_drift(net, data, [1.0, 3.15e7], 3, jr.PRNGKey(1))
    assert np.asarray(r["accuracy"]).shape == (3, 2)
    res = crossbar.sweep(
        net, data, {"tile.out_noise": [0.05, 0.5]}, key=jr.PRNGKey(2), n_chips=3, t=3600.0
    )  # both noises on: one program for the two points
    assert [row["tile.out_noise"] for row in res] == [0.05, 0.5]
    err = [row["output_error_median"] for row in res]
    assert err[1] > err[0] > 0  # more output noise, larger error; the recurrent array read
