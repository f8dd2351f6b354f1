"""Interoperability against the other tools themselves (issue 16, first part): a network
exported by `crossbar.export_nir` runs in snnTorch (`snntorch.import_nir.import_from_nir`) and
in Norse (`norse.torch.from_nir`) with the same spikes, and one exported by snnTorch imports
here with the same spikes.

Runs where the `interop` extra is installed (`pip install -e ".[interop]"`: torch, snntorch,
nirtorch, norse); skipped elsewhere. Norse's LIF ignores NIR's `r` (it warns), so the graph
for it is exported with `gains="weights"` (`r = 1`, the gain in the weights).

snnTorch's importer fixes two conventions: a time step of `dt = 1e-4` s (so the graph is
exported with `dt=1e-4`, and snnTorch's `beta = 1 - dt / tau` is our beta) and reset to zero
at the spike (`reset_delay=False`). Our zero reset, which takes
the reset from the previous potential (snnTorch's default `reset_delay=True`), gives the same
spikes as reset at the spike for `LIF`, so a feed-forward LIF network with `reset="zero"`
must agree spike for spike. A `Recurrent` layer is run by nirtorch's interpreter as the graph's
cycle, `lif(input + w_rec's output of the step before)`, with a zero output before the first
step; our `Recurrent` (as snnTorch's `RLeaky`) adds `V 0 + b` there, so the two agree where the
recurrent weights have no bias (with one, 2 of 400 spikes differed in the first steps).
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices

torch = pytest.importorskip("torch", reason='pip install -e ".[interop]"')
pytest.importorskip("nirtorch", reason='pip install -e ".[interop]"')
snn_nir = pytest.importorskip("snntorch.import_nir", reason='pip install -e ".[interop]"')

#: The time step snnTorch's NIR importer assumes for every neuron.
SNNTORCH_DT = 1e-4


def _lif_network(recurrent: bool = False):
    tile = crossbar.Tile(device=devices.Ideal())
    k = jr.split(jr.PRNGKey(0), 3)
    hidden = crossbar.LIF(beta=0.9, reset="zero")
    if recurrent:
        v = crossbar.AnalogLinear(32, 32, tile=tile, key=k[2], use_bias=False)
        hidden = crossbar.Recurrent(hidden, v)
    return crossbar.SpikingNetwork(
        [
            crossbar.AnalogLinear(16, 32, tile=tile, key=k[0]),
            hidden,
            crossbar.AnalogLinear(32, 5, tile=tile, key=k[1]),
            crossbar.LIF(beta=0.8, reset="zero"),
        ],
        encoder=None,
        readout="sum",
    )


def _torch_spikes(module, x: np.ndarray, hidden: str) -> tuple[np.ndarray, np.ndarray]:
    """The spikes of the graph's hidden layer (the submodule `hidden`) and of its output, for
    input spikes `x (T, in)`, one step at a time: `((T, hidden), (T, out))`."""
    seen = []

    def keep(_module, _inputs, output):
        seen.append((output[0] if isinstance(output, tuple) else output).numpy()[0])

    handle = module.get_submodule(hidden).register_forward_hook(keep)
    state, out = None, []
    with torch.no_grad():
        for x_t in x:
            y, state = module(torch.tensor(x_t)[None], state)
            out.append(y.numpy()[0])
    handle.remove()
    return np.asarray(seen), np.asarray(out)


@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
def test_snntorch_runs_our_lif_network_with_the_same_spikes(recurrent):
    net = _lif_network(recurrent)
    rng = np.random.default_rng(0)
    x = (rng.random((50, 16)) < 0.4).astype(np.float32) * 8.0  # input spikes of amplitude 8
    digital = crossbar.as_digital(net)  # the nominal weights the graph carries
    _, acts = digital.record(jnp.asarray(x))
    ours = np.asarray(acts[1]), np.asarray(acts[-1])  # hidden and output spikes, (T, n)
    module = snn_nir.import_from_nir(crossbar.export_nir(net, dt=SNNTORCH_DT))
    theirs = _torch_spikes(module, x, "1_" + type(net.layers[1]).__name__.lower())
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert 5 <= a.sum() < 0.5 * a.size  # there are spikes and silences to compare
        np.testing.assert_array_equal(b, a)


# snnTorch 1.0's exporter calls nirtorch's older entry point, which warns.
@pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph:DeprecationWarning")
def test_an_snntorch_network_imports_with_the_same_spikes():
    """snnTorch -> NIR (`export_to_nir`) -> `crossbar.import_nir(graph, dt=1e-4)`: the same
    hidden and output spikes. snnTorch's exporter writes every `Leaky` as a NIR `LIF` that
    resets to zero (its subtract mode is not in the graph) and needs per-neuron `beta` and
    `threshold` tensors (nir's type inference refuses scalars)."""
    snn = pytest.importorskip("snntorch")
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)

    def leaky(n, beta, **kw):
        beta, threshold = torch.full((n,), beta), torch.ones(n)
        return snn.Leaky(beta=beta, threshold=threshold, reset_mechanism="zero", **kw)

    net = torch.nn.Sequential(
        torch.nn.Linear(16, 32),
        leaky(32, 0.9, init_hidden=True),
        torch.nn.Linear(32, 5),
        leaky(5, 0.8, init_hidden=True, output=True),
    )
    graph = export_to_nir(net, torch.zeros(16))
    rng = np.random.default_rng(1)
    x = (rng.random((50, 16)) < 0.4).astype(np.float32) * 4.0
    hidden, out = [], []
    handle = net[1].register_forward_hook(lambda _m, _i, y: hidden.append(y.numpy().copy()))
    utils.reset(net)
    with torch.no_grad():
        for x_t in x:
            spikes, _ = net(torch.tensor(x_t))
            out.append(spikes.numpy().copy())
    handle.remove()
    theirs = np.asarray(hidden), np.asarray(out)

    ours_net = crossbar.import_nir(
        graph, dt=SNNTORCH_DT, tile=crossbar.Tile(device=devices.Ideal())
    )
    _, acts = crossbar.as_digital(ours_net).record(jnp.asarray(x))
    ours = np.asarray(acts[1]), np.asarray(acts[-1])
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert 5 <= a.sum() < 0.5 * a.size  # there are spikes and silences to compare
        np.testing.assert_array_equal(a, b)


# Norse 1.1 calls nirtorch's older entry point, which warns.
@pytest.mark.filterwarnings("ignore:nirtorch.load:DeprecationWarning")
@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
def test_norse_runs_our_lif_network_with_the_same_spikes(recurrent):
    norse = pytest.importorskip("norse.torch", reason='pip install -e ".[interop]"')
    net = _lif_network(recurrent)
    rng = np.random.default_rng(2)
    x = (rng.random((50, 16)) < 0.4).astype(np.float32) * 8.0
    _, acts = crossbar.as_digital(net).record(jnp.asarray(x))
    ours = np.asarray(acts[1]), np.asarray(acts[-1])
    graph = crossbar.export_nir(net, gains="weights")  # Norse's default dt is ours, 1e-3 s
    assert np.all(graph.nodes["3_lif"].r == 1) and graph.metadata["crossbar_gains"] == "weights"
    module = norse.from_nir(graph, dt=1e-3)
    theirs = _torch_spikes(module, x, "1_" + type(net.layers[1]).__name__.lower())
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert 5 <= a.sum() < 0.5 * a.size  # there are spikes and silences to compare
        np.testing.assert_array_equal(b, a)


class _Stepped(torch.nn.Module if torch is not None else object):
    """A NIR graph module run over `(batch, T, in)` with its state carried between steps
    (nirtorch keeps a recurrent cycle's state in the state it returns), `(T, batch, out)` out:
    what NeuroBench's `SNNTorchModel(..., custom_forward=True)` calls."""

    def __init__(self, graph_module):
        super().__init__()
        self.graph = graph_module

    def forward(self, data):
        from snntorch import utils

        utils.reset(self.graph)  # the neurons' own memory, from the batch before
        state, out = None, []
        for t in range(data.shape[1]):
            y, state = self.graph(data[:, t], state)
            out.append(y)
        return torch.stack(out)


@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
def test_neurobench_counts_equal_ours(recurrent):
    """NeuroBench 2's SynapticOperations and ActivationSparsity, on our read chip run in
    snnTorch through NIR with the same inputs, equal `estimate_energy(...)["neurobench"]`; its
    ParameterCount is our weights and biases."""
    pytest.importorskip("neurobench", reason="pip install --no-deps neurobench numba llvmlite")
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ParameterCount
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import SNNTorchModel

    net = crossbar.map_tiles(_lif_network(recurrent), crossbar.ideal_tile)
    chip = crossbar.at_time(crossbar.program(net, jr.PRNGKey(2)), 1.0, jr.PRNGKey(3))
    rng = np.random.default_rng(3)
    x = (rng.random((32, 20, 16)) < 0.4).astype(np.float32) * 8.0  # (N, T, in), not spikes
    ours = crossbar.estimate_energy(chip, jnp.asarray(x), key=jr.PRNGKey(1))["neurobench"]

    module = _Stepped(snn_nir.import_from_nir(crossbar.export_nir(chip, dt=SNNTORCH_DT)))
    data = torch.utils.data.TensorDataset(torch.tensor(x), torch.zeros(32, dtype=torch.long))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    metrics = [[ParameterCount], [SynapticOperations, ActivationSparsity]]
    theirs = Benchmark(SNNTorchModel(module, custom_forward=True), loader, [], [], metrics).run()

    assert ours["SynapticOperations"]["Effective_ACs"] > 0  # spikes reach a layer
    assert ours["SynapticOperations"]["Effective_MACs"] > 0  # the first layer's inputs
    expected = dict(ours["SynapticOperations"])
    if recurrent:
        # nirtorch computes the feedback of the last step's spikes too (its output is never
        # read), where our feedback array reads, at step t, the spikes of step t - 1 (zeros at
        # the first): T reads each way (the same dense count), and the effective ACs differ by
        # the last step's spikes times the feedback's fan-out.
        _, acts = jax.vmap(lambda x: chip.record(x, key=jr.PRNGKey(0)))(jnp.asarray(x))
        last = float(jnp.sum(acts[1][:, -1])) / x.shape[0]
        expected["Effective_ACs"] += last * 32
    for name, value in expected.items():
        assert theirs["SynapticOperations"][name] == pytest.approx(value, rel=1e-9), name
    assert theirs["ActivationSparsity"] == pytest.approx(ours["ActivationSparsity"], rel=1e-6)
    weights = sum(
        layer.weight.size + (0 if layer.bias is None else layer.bias.size)
        for layer in crossbar.core.analog_layers(chip)
    )
    # Our export writes a bias-free layer as an Affine with zero bias (NIR's Affine has one),
    # which the torch side counts: 32 more for the bias-free feedback weights.
    assert theirs["ParameterCount"] == weights + (32 if recurrent else 0)
