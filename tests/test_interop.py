"""Interoperability against the other tools themselves (issue 16, first part): a network
exported by `crossbar.export_nir` runs in snnTorch (`snntorch.import_nir.import_from_nir`) with
the same spikes.

Runs where the `interop` extra is installed (`pip install -e ".[interop]"`: torch, snntorch,
nirtorch); skipped elsewhere. snnTorch's importer fixes two conventions: a time step of
`dt = 1e-4` s (so the graph is exported with `dt=1e-4`, and snnTorch's `beta = 1 - dt / tau`
is our beta) and reset to zero at the spike (`reset_delay=False`). Our zero reset, which takes
the reset from the previous potential (snnTorch's default `reset_delay=True`), gives the same
spikes as reset at the spike for `LIF`, so a feed-forward LIF network with `reset="zero"`
must agree spike for spike.
"""

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


def _lif_network():
    tile = crossbar.Tile(device=devices.Ideal())
    k = jr.split(jr.PRNGKey(0), 2)
    return crossbar.SpikingNetwork(
        [
            crossbar.AnalogLinear(16, 32, tile=tile, key=k[0]),
            crossbar.LIF(beta=0.9, reset="zero"),
            crossbar.AnalogLinear(32, 5, tile=tile, key=k[1]),
            crossbar.LIF(beta=0.8, reset="zero"),
        ],
        encoder=None,
        readout="sum",
    )


def _snntorch_spikes(module, x: np.ndarray) -> np.ndarray:
    """The graph's output spikes for input spikes `x (T, in)`, one step at a time."""
    state, out = None, []
    with torch.no_grad():
        for x_t in x:
            y, state = module(torch.tensor(x_t)[None], state)
            out.append(y.numpy()[0])
    return np.asarray(out)


def test_snntorch_runs_our_lif_network_with_the_same_spikes():
    net = _lif_network()
    rng = np.random.default_rng(0)
    x = (rng.random((50, 16)) < 0.4).astype(np.float32) * 8.0  # input spikes of amplitude 8
    digital = crossbar.as_digital(net)  # the nominal weights the graph carries
    _, acts = digital.record(jnp.asarray(x))
    ours = np.asarray(acts[-1])
    module = snn_nir.import_from_nir(crossbar.export_nir(net, dt=SNNTORCH_DT))
    theirs = _snntorch_spikes(module, x)
    assert theirs.shape == ours.shape
    assert ours.sum() >= 5  # there are spikes to compare
    np.testing.assert_array_equal(theirs, ours)
