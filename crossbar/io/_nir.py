"""Export to and import from the Neuromorphic Intermediate Representation (NIR)."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from devices.checks import is_real

from ..core._tile import Tile, ideal_tile
from ..nn._cells import Synaptic
from ..nn._lif import LIF
from ..nn._linear import AnalogLinear
from ..nn._network import SpikingNetwork
from ..nn._recurrent import Recurrent


def _nir():
    try:
        import nir
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("NIR export and import need the nir package: pip install nir") from e
    return nir


def export_nir(
    net: SpikingNetwork,
    path: str | os.PathLike | None = None,
    *,
    dt: float = 1e-3,
    gains: Literal["neuron", "weights"] = "neuron",
):
    """A `SpikingNetwork` of `AnalogLinear`, `LIF`, `Synaptic` and `Recurrent` layers as a
    NIR graph (written to `path` when given, atomically by `nir.write`'s own file; returned
    either way).

    - An `AnalogLinear` becomes an `Affine` node with the weights the chip realises when the
      network is a read chip (`crossbar.at_time(crossbar.program(net, key), t, key)`: the
      programmed, drifted, drift-compensated weights, `realised_weight()`), else its nominal
      weights; the digital bias (zeros without one).
    - A `LIF` becomes a `LIF` node per neuron with the snnTorch convention for a time step
      `dt` (seconds): `tau = dt / (1 - beta)` (per neuron where `beta` is), `r = tau / dt`,
      `v_leak = 0`, `v_threshold = threshold`, `v_reset = 0`; Euler's step then gives our
      `U <- beta U + I`. NIR's LIF resets to `v_reset`; our reset mode (`"subtract"` or
      `"zero"`) and `beta` itself travel in the node's metadata (`crossbar_reset`,
      `crossbar_beta`) so a round trip is exact.
    - A `Synaptic` becomes a `CubaLIF` node, snnTorch's convention again: `tau_syn = dt / (1 -
      alpha)`, `tau_mem = dt / (1 - beta)`, `w_in = tau_syn / dt`, `r = tau_mem / dt` (Euler's
      step: `I <- alpha I + x`, `U <- beta U + I`), metadata `crossbar_alpha` as well.
    - A `Recurrent(cell, V)` becomes a subgraph in the shape snnTorch writes for `RLeaky` and
      `RSynaptic`: nodes `input`, `lif` (the cell's node), `w_rec` (V's `Affine`, realised
      weights on a read chip; digital `eqx.nn.Linear` weights as they are) and `output`, with
      the cycle `lif -> w_rec -> lif`. The one-step delay of the feedback is NIR's reading of
      a cycle (the spikes of step t reach the neurons at t + 1).
    `gains`: where a neuron's input gain (`dt r / tau` of NIR's LIF, `dt w_in / tau_syn` and
    `dt r / tau_mem` of its CubaLIF) stays. `"neuron"` (default): in `r` and `w_in` as above,
    the weights as the chip realises them. `"weights"`: `r = w_in = 1` and the weights (and
    bias) of the layers that feed a neuron, recurrent ones included, multiplied row by row by
    the `r` (times `w_in`) they replace, an equal NIR graph for tools that ignore `r` (Norse's
    `from_nir` runs our LIF networks to the same spikes only so; metadata `crossbar_gains`).
    For snnTorch (`snntorch.import_nir.import_from_nir`), export with `dt=1e-4`: its importer
    assumes that step for every neuron (`beta = 1 - 1e-4 / tau`) and resets to zero at the spike,
    which gives our spikes for `LIF` layers with `reset="zero"` (`tests/test_interop.py`).
    The encoder is not part of the graph: the graph takes the per-step input `(in,)`; the
    network's readout is in the graph's metadata. `ALIF` and other layers are errors that
    name them (NIR has no adaptive-threshold node).
    """
    nir = _nir()
    if not isinstance(net, SpikingNetwork):
        raise ValueError(
            f"export_nir: expected a crossbar.SpikingNetwork; got {type(net).__name__}."
        )
    if gains not in ("neuron", "weights"):
        raise ValueError(f'export_nir: `gains` must be "neuron" or "weights"; got {gains!r}.')
    nodes, order, width, first_in = {}, [], None, None
    for i, layer in enumerate(net.layers):
        name = f"{i}_{type(layer).__name__.lower()}"
        if isinstance(layer, AnalogLinear):
            nodes[name] = _affine(nir, layer)
            first_in = layer.in_features if first_in is None else first_in
            width = layer.out_features
        elif width is None:
            raise ValueError(
                f"export_nir: layer {i} ({type(layer).__name__}) must follow an AnalogLinear "
                "layer (the graph's input is the first layer's)."
            )
        elif isinstance(layer, Recurrent):
            w_rec = _affine(nir, layer.recurrent)
            if w_rec.weight.shape != (width, width):
                raise ValueError(
                    f"export_nir: layer {i}'s recurrent weights are {w_rec.weight.shape}; the "
                    f"layer has {width} neurons."
                )
            n = np.array([width])
            nodes[name] = nir.NIRGraph(
                nodes={
                    "input": nir.Input(input_type={"input": n}),
                    "lif": _cell_node(nir, layer.cell, width, dt, i),
                    "w_rec": w_rec,
                    "output": nir.Output(output_type={"output": n}),
                },
                edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
                metadata={"crossbar_recurrent_analog": bool(layer.is_analog)},
            )
        else:
            nodes[name] = _cell_node(nir, layer, width, dt, i)
        if gains == "weights" and not isinstance(layer, AnalogLinear):
            _gains_into_weights(nodes, order[-1], name, i)
        order.append(name)
    if width is None:
        raise ValueError("export_nir: the network has no AnalogLinear layer.")
    nodes["input"] = nir.Input(input_type={"input": np.array([first_in])})
    nodes["output"] = nir.Output(output_type={"output": np.array([width])})
    chain = ["input", *order, "output"]
    graph = nir.NIRGraph(
        nodes=nodes,
        edges=list(zip(chain[:-1], chain[1:])),
        metadata={"crossbar_readout": net.readout, "dt": dt, "crossbar_gains": gains},
    )
    if path is not None:
        nir.write(path, graph)
    return graph


def _affine(nir, layer):
    """An `AnalogLinear` (realised weights when read) or a digital `eqx.nn.Linear` as NIR's
    `Affine` (zero bias without one)."""
    if isinstance(layer, AnalogLinear):
        read = layer.state is not None and layer.state.g is not None
        w = layer.realised_weight() if read else layer.weight
    elif isinstance(layer, eqx.nn.Linear):
        w = layer.weight
    else:
        raise ValueError(
            f"export_nir: a {type(layer).__name__} has no NIR counterpart here; the weights of "
            "a layer must be an AnalogLinear or an eqx.nn.Linear."
        )
    # Writable copies: a view of a JAX array is read-only, which torch warns about when a
    # tool (snnTorch's importer) wraps the graph's arrays in tensors.
    w = np.array(w, np.float32)
    b = np.zeros(w.shape[0], np.float32) if layer.bias is None else layer.bias
    return nir.Affine(weight=w, bias=np.array(b, np.float32))


def _gains_into_weights(nodes: dict, feeding: str, name: str, i: int) -> None:
    """`export_nir(gains="weights")` for the neuron node `name` (a cell, or a recurrent
    subgraph) fed by the `Affine` node `feeding`: its `r` (and `w_in`) set to 1, the rows of
    the layers feeding it multiplied by what they were."""
    node = nodes[name]
    sub = node.nodes if type(node).__name__ == "NIRGraph" else None
    cell = sub["lif"] if sub is not None else node
    if type(nodes[feeding]).__name__ != "Affine":
        raise ValueError(
            f'export_nir(gains="weights"): layer {i} ({name}) must follow an AnalogLinear, '
            "whose weights take its input gain."
        )
    ones = np.ones_like(np.asarray(cell.r, np.float32))
    gain = np.asarray(cell.r, np.float64)
    changes = {"r": ones}
    if type(cell).__name__ == "CubaLIF":
        gain = gain * np.asarray(cell.w_in, np.float64)
        changes["w_in"] = ones
    cell = dataclasses.replace(cell, **changes)

    def scaled(affine):
        return type(affine)(
            weight=np.array(affine.weight * gain[:, None], np.float32),
            bias=np.array(affine.bias * gain, np.float32),
        )

    nodes[feeding] = scaled(nodes[feeding])
    if sub is None:
        nodes[name] = cell
    else:
        sub["lif"], sub["w_rec"] = cell, scaled(sub["w_rec"])


def _tau(owner: str, decay, width: int, dt: float) -> np.ndarray:
    """`dt / (1 - decay)` per neuron (float64), for a decay in [0, 1)."""
    decay = np.clip(np.asarray(decay, np.float64), 0.0, 1.0)
    if np.any(decay >= 1.0):
        raise ValueError(f"export_nir: a {owner} = 1 (no leak) has no NIR time constant.")
    return dt / (1.0 - np.broadcast_to(decay, (width,)))


def _cell_node(nir, cell, width: int, dt: float, i: int):
    """A `LIF` as NIR's `LIF`, a `Synaptic` as `CubaLIF` (snnTorch's conventions)."""
    zeros = np.zeros(width, np.float32)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    if isinstance(cell, LIF):
        tau = _tau("LIF with beta", cell.beta, width, dt)
        beta = np.clip(np.asarray(cell.beta, np.float64), 0.0, 1.0)
        return nir.LIF(
            tau=f32(tau),
            r=f32(tau / dt),
            v_leak=zeros,
            v_threshold=cell.threshold + zeros,
            v_reset=zeros,
            metadata={"crossbar_reset": cell.reset, "crossbar_beta": beta.tolist()},
        )
    if isinstance(cell, Synaptic):
        tau_syn = _tau("Synaptic with alpha", cell.alpha, width, dt)
        tau_mem = _tau("Synaptic with beta", cell.beta, width, dt)
        alpha, beta = (
            np.clip(np.asarray(a, np.float64), 0.0, 1.0) for a in (cell.alpha, cell.beta)
        )
        return nir.CubaLIF(
            tau_syn=f32(tau_syn),
            tau_mem=f32(tau_mem),
            r=f32(tau_mem / dt),
            w_in=f32(tau_syn / dt),
            v_leak=zeros,
            v_threshold=f32(np.broadcast_to(np.asarray(cell.threshold), (width,))),
            v_reset=zeros,
            metadata={
                "crossbar_reset": cell.reset,
                "crossbar_alpha": alpha.tolist(),
                "crossbar_beta": beta.tolist(),
            },
        )
    raise ValueError(
        f"export_nir: layer {i} ({type(cell).__name__}) has no NIR counterpart here; supported: "
        "AnalogLinear, LIF (NIR LIF), Synaptic (CubaLIF), Recurrent of those (a subgraph with "
        "a cycle)."
    )


def _values(a: np.ndarray) -> str:
    """An array of per-neuron values for an error message: the one value, or the range."""
    if np.all(a == a[0]):
        return repr(float(a[0]))
    return f"[{float(a.min())!r}, {float(a.max())!r}] (per neuron)"


_KINDS = ("Input", "Output", "Affine", "Linear", "LIF", "CubaLIF", "NIRGraph")


def import_nir(
    graph, *, tile: Tile | None = None, dt: float | None = None, key=None
) -> SpikingNetwork:
    """A NIR graph (or a path to one) as a `SpikingNetwork` on crossbars (`tile`, default an
    ideal tile) with no encoder: it takes `(T, in)` inputs. The graph is a chain from Input to
    Output of `Affine`/`Linear` nodes (as `AnalogLinear`), `LIF` nodes (as `LIF`), `CubaLIF`
    nodes (as `Synaptic`) and recurrent subgraphs in snnTorch's shape (`input -> lif <->
    w_rec`, `lif -> output`: as `Recurrent(cell, AnalogLinear)`, the feedback weights on the
    crossbars too). A neuron node's time constants and gains may differ per neuron (per-neuron
    decays; the input gains `dt r / tau` and `dt w_in / tau_syn` folded into the rows of the
    feeding layer and of the recurrent weights); unsupported nodes, branching graphs, cycles
    outside such a subgraph, `v_leak != 0` and (for `LIF`) per-neuron thresholds are errors
    naming what is unsupported. `dt`: the time step (seconds) the graph's time constants are
    for; default the graph's metadata `dt` (ours writes it), else 1e-3 s. Give `dt=1e-4` for a
    graph from snnTorch's `export_to_nir`, which writes none and assumes that step. Nothing is
    drawn: `key` is unused, accepted so that older calls keep working."""
    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    tile = ideal_tile(Tile()) if tile is None else tile
    given = dt is not None
    dt = dt if given else graph.metadata.get("dt", 1e-3)
    if not (is_real(dt) and math.isfinite(dt) and dt > 0):
        what = "`dt` must be a number of seconds > 0"
        what = what if given else "the graph's metadata `dt` must be > 0 s"
        raise ValueError(f"import_nir: {what}; got {dt!r}.")
    layers = []
    for name, node in _chain(graph, "the graph"):
        kind = type(node).__name__
        if kind in ("Affine", "Linear"):
            layers.append(_linear(node, kind, tile))
            continue
        if kind == "NIRGraph":
            cell_node, w_rec = _rnn_subgraph(name, node)
            cell, gain = _cell(name, cell_node, dt)
            rec = _linear(w_rec, type(w_rec).__name__, tile)
            if gain is not None:
                rec = _scaled_rows(rec, gain)
            cell = Recurrent(cell, rec)
        else:
            cell, gain = _cell(name, node, dt)
        if gain is not None:
            if not layers or not isinstance(layers[-1], AnalogLinear):
                raise ValueError(
                    f"import_nir: node {name!r} scales its input by {_values(gain)} and follows "
                    "no Affine/Linear node to fold that into."
                )
            layers[-1] = _scaled_rows(layers[-1], gain)
        layers.append(cell)
    if not layers:
        raise ValueError("import_nir: the graph holds no layers between Input and Output.")
    return SpikingNetwork(
        layers, encoder=None, readout=graph.metadata.get("crossbar_readout", "mean")
    )


def _chain(graph, where: str) -> list:
    """The `(name, node)` pairs from Input to Output of a chain graph, checked."""
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    bad = sorted({k for k in kinds.values() if k not in _KINDS})
    if bad:
        raise ValueError(
            f"import_nir: unsupported NIR node types {bad} in {where}; supported: "
            f"{', '.join(_KINDS[:-1])} and recurrent subgraphs."
        )
    succ = {}
    for a, b in graph.edges:
        if a in succ:
            raise ValueError(
                f"import_nir: node {a!r} has several successors; only chains are supported "
                "(and recurrent subgraphs in snnTorch's shape)."
            )
        succ[a] = b
    start = [n for n, k in kinds.items() if k == "Input"]
    if len(start) != 1:
        raise ValueError(f"import_nir: expected one Input node; got {len(start)}.")
    chain, node, seen = [], succ.get(start[0]), set()
    while node is not None and kinds[node] != "Output":
        if node in seen:
            raise ValueError(
                f"import_nir: the graph has a cycle through node {node!r}; only chains from "
                "Input to Output are supported (a recurrent layer is a subgraph: input -> lif "
                "<-> w_rec, lif -> output)."
            )
        seen.add(node)
        chain.append((node, graph.nodes[node]))
        node = succ.get(node)
    return chain


def _rnn_subgraph(name: str, sub):
    """The neuron node and the recurrent weights of snnTorch's recurrent subgraph."""
    by_kind = {}
    for n, node in sub.nodes.items():
        by_kind.setdefault(type(node).__name__, []).append(n)
    cells = by_kind.get("LIF", []) + by_kind.get("CubaLIF", [])
    weights = by_kind.get("Affine", []) + by_kind.get("Linear", [])
    shape = (
        len(sub.nodes) == 4
        and len(cells) == 1
        and len(weights) == 1
        and len(by_kind.get("Input", [])) == 1
        and len(by_kind.get("Output", [])) == 1
    )
    edges = {tuple(e) for e in sub.edges}
    c, w = (cells[0], weights[0]) if shape else (None, None)
    if not shape or not {(c, w), (w, c)} <= edges or len(edges) != 4:
        raise ValueError(
            f"import_nir: subgraph {name!r} is not a recurrent layer in snnTorch's shape "
            "(Input -> LIF|CubaLIF -> Output, with LIF|CubaLIF -> Affine|Linear -> LIF|CubaLIF); "
            f"nodes {sorted(sub.nodes)}, edges {sorted(edges)}."
        )
    return sub.nodes[c], sub.nodes[w]


def _linear(node, kind: str, tile: Tile) -> AnalogLinear:
    w = jnp.asarray(node.weight, jnp.float32)
    b = jnp.asarray(node.bias, jnp.float32) if kind == "Affine" else None
    return AnalogLinear.from_weights(w, b, tile=tile)


def _scaled_rows(layer: AnalogLinear, gain: np.ndarray) -> AnalogLinear:
    """`layer` with output row `i` scaled by `gain[i]` (or all by one gain)."""
    g = jnp.asarray(np.broadcast_to(gain, (layer.out_features,)), jnp.float32)
    layer = eqx.tree_at(lambda m: m.weight, layer, layer.weight * g[:, None])
    if layer.bias is not None:
        layer = eqx.tree_at(lambda m: m.bias, layer, layer.bias * g)
    return layer


def _positive_tau(name: str, field: str, tau, dt: float) -> np.ndarray:
    tau = np.asarray(tau, np.float64).ravel()
    if not np.all(np.isfinite(tau) & (tau >= dt)):
        raise ValueError(
            f"import_nir: node {name!r} has {field} = {_values(tau)} s; it must be >= the "
            f"graph's dt = {dt!r} s (the decay per step is 1 - dt / {field}, in [0, 1))."
        )
    return tau


def _positive(name: str, field: str, value) -> np.ndarray:
    value = np.asarray(value, np.float64).ravel()
    if not np.all(np.isfinite(value) & (value > 0)):
        raise ValueError(
            f"import_nir: node {name!r} has {field} = {_values(value)}; it must be > 0."
        )
    return value


def _decay(meta: dict, key: str, decay: np.ndarray):
    """The decay from `dt / tau`, or the exact one of our own export when it matches."""
    saved = np.asarray(meta.get(key, np.nan), np.float64).ravel()
    if saved.shape in (decay.shape, (1,)) and np.all(np.abs(saved - decay) < 1e-6):
        decay = np.broadcast_to(saved, decay.shape)
    return float(decay[0]) if np.all(decay == decay[0]) else np.array(decay)


def _cell(name: str, node, dt: float):
    """A NIR `LIF` as `LIF`, a `CubaLIF` as `Synaptic`: `(cell, input gain or None)`.

    NIR's LIF, `tau dv/dt = (v_leak - v) + r I`, stepped by dt: `v' = (1 - dt/tau) v + (dt r /
    tau) I`; CubaLIF's current `tau_syn dI/dt = -I + w_in x` likewise. Our cells add their
    input unscaled, so the gains (one per neuron) are returned to be folded into the
    layers that feed the cell."""
    if np.any(np.asarray(node.v_leak) != 0.0):
        raise ValueError(f"import_nir: node {name!r} has v_leak != 0; unsupported.")
    meta = node.metadata or {}
    reset = meta.get("crossbar_reset", "zero")
    threshold = np.asarray(node.v_threshold, np.float64).ravel()
    if type(node).__name__ == "LIF":
        if threshold.size and not np.all(threshold == threshold[0]):
            raise ValueError(
                f"import_nir: LIF node {name!r} has per-neuron `v_threshold`; only one value "
                "per layer is supported (a CubaLIF may have one per neuron)."
            )
        tau = _positive_tau(name, "tau", node.tau, dt)
        gain = dt * _positive(name, "r", node.r) / tau
        cell = LIF(
            beta=_decay(meta, "crossbar_beta", 1.0 - dt / tau),
            threshold=float(threshold[0]),
            reset=reset,
        )
    else:
        tau_syn = _positive_tau(name, "tau_syn", node.tau_syn, dt)
        tau_mem = _positive_tau(name, "tau_mem", node.tau_mem, dt)
        gain = (dt * _positive(name, "w_in", node.w_in) / tau_syn) * (
            dt * _positive(name, "r", node.r) / tau_mem
        )
        cell = Synaptic(
            alpha=_decay(meta, "crossbar_alpha", 1.0 - dt / tau_syn),
            beta=_decay(meta, "crossbar_beta", 1.0 - dt / tau_mem),
            threshold=float(threshold[0]) if np.all(threshold == threshold[0]) else threshold,
            reset=reset,
        )
    return cell, (gain if np.any(np.abs(gain - 1.0) > 1e-6) else None)
