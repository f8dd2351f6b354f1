"""Export to and import from the Neuromorphic Intermediate Representation (NIR)."""

from __future__ import annotations

import math
import os

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from devices.checks import is_real

from ..core._tile import Tile, ideal_tile
from ..nn._lif import LIF
from ..nn._linear import AnalogLinear
from ..nn._network import SpikingNetwork


def _nir():
    try:
        import nir
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("NIR export and import need the nir package: pip install nir") from e
    return nir


def export_nir(net: SpikingNetwork, path: str | os.PathLike | None = None, *, dt: float = 1e-3):
    """A `SpikingNetwork` of `AnalogLinear` and `LIF` layers as a NIR graph (written to `path`
    when given, atomically by `nir.write`'s own file; returned either way).

    - An `AnalogLinear` becomes an `Affine` node with the weights the chip realises when the
      network is a read chip (`crossbar.at_time(crossbar.program(net, key), t, key)`: the
      programmed, drifted, drift-compensated weights, `realised_weight()`), else its nominal
      weights; the digital bias (zeros without one).
    - A `LIF` becomes a `LIF` node per neuron with the snnTorch convention for a time step
      `dt` (seconds): `tau = dt / (1 - beta)`, `r = tau / dt`, `v_leak = 0`, `v_threshold =
      threshold`, `v_reset = 0`; Euler's step then gives our `U <- beta U + I`. NIR's LIF resets
      to `v_reset`; our reset mode (`"subtract"` or `"zero"`) and `beta` itself travel in the
      node's metadata (`crossbar_reset`, `crossbar_beta`) so a round trip is exact.
    The encoder is not part of the graph: the graph takes the per-step input `(in,)`; the
    network's readout is in the graph's metadata.
    """
    nir = _nir()
    if not isinstance(net, SpikingNetwork):
        raise ValueError(
            f"export_nir: expected a crossbar.SpikingNetwork; got {type(net).__name__}."
        )
    nodes, order, width = {}, [], None
    for i, layer in enumerate(net.layers):
        name = f"{i}_{type(layer).__name__.lower()}"
        if isinstance(layer, AnalogLinear):
            read = layer.state is not None and layer.state.g is not None
            w = np.asarray(layer.realised_weight() if read else layer.weight, np.float32)
            b = np.zeros(layer.out_features, np.float32) if layer.bias is None else layer.bias
            nodes[name] = nir.Affine(weight=w, bias=np.asarray(b, np.float32))
            if width is None:
                first_in = layer.in_features
            width = layer.out_features
        elif isinstance(layer, LIF):
            if width is None:
                raise ValueError("export_nir: a LIF layer must follow an AnalogLinear layer.")
            beta = float(np.clip(np.asarray(layer.beta), 0.0, 1.0))
            if beta >= 1.0:
                raise ValueError("export_nir: a LIF with beta = 1 (no leak) has no NIR LIF tau.")
            tau = dt / (1.0 - beta)
            ones = np.ones(width, np.float32)
            nodes[name] = nir.LIF(
                tau=tau * ones,
                r=(tau / dt) * ones,
                v_leak=0 * ones,
                v_threshold=layer.threshold * ones,
                v_reset=0 * ones,
                metadata={"crossbar_reset": layer.reset, "crossbar_beta": beta},
            )
        else:
            raise ValueError(
                f"export_nir: layer {i} ({type(layer).__name__}) has no NIR counterpart here; "
                "supported: AnalogLinear, LIF."
            )
        order.append(name)
    if width is None:
        raise ValueError("export_nir: the network has no AnalogLinear layer.")
    nodes["input"] = nir.Input(input_type={"input": np.array([first_in])})
    nodes["output"] = nir.Output(output_type={"output": np.array([width])})
    chain = ["input", *order, "output"]
    graph = nir.NIRGraph(
        nodes=nodes,
        edges=list(zip(chain[:-1], chain[1:])),
        metadata={"crossbar_readout": net.readout, "dt": dt},
    )
    if path is not None:
        nir.write(path, graph)
    return graph


def import_nir(graph, *, tile: Tile | None = None, key=None) -> SpikingNetwork:
    """A NIR graph (or a path to one) of `Affine`/`Linear` and `LIF` nodes in a chain, as a
    `SpikingNetwork` on crossbars (`tile`, default an ideal tile) with no encoder: it takes
    `(T, in)` inputs. Unsupported nodes, branching graphs and per-neuron LIF parameters that
    differ are errors naming what is unsupported. Nothing is drawn: `key` is unused, accepted
    so that older calls keep working."""
    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    tile = ideal_tile(Tile()) if tile is None else tile
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    bad = sorted(
        {k for k in kinds.values() if k not in ("Input", "Output", "Affine", "Linear", "LIF")}
    )
    if bad:
        raise ValueError(
            f"import_nir: unsupported NIR node types {bad}; supported: Input, Output, Affine, "
            "Linear, LIF."
        )
    succ = {}
    for a, b in graph.edges:
        if a in succ:
            raise ValueError(
                f"import_nir: node {a!r} has several successors; only chains are supported."
            )
        succ[a] = b
    start = [n for n, k in kinds.items() if k == "Input"]
    if len(start) != 1:
        raise ValueError(f"import_nir: expected one Input node; got {len(start)}.")
    layers, node, dt = [], succ.get(start[0]), graph.metadata.get("dt", 1e-3)
    if not (is_real(dt) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"import_nir: the graph's metadata `dt` must be > 0 s; got {dt!r}.")
    seen = set()
    while node is not None and kinds[node] != "Output":
        if node in seen:
            raise ValueError(
                f"import_nir: the graph has a cycle through node {node!r}; only chains from "
                "Input to Output are supported."
            )
        seen.add(node)
        n = graph.nodes[node]
        if kinds[node] in ("Affine", "Linear"):
            w = jnp.asarray(n.weight, jnp.float32)
            b = jnp.asarray(n.bias, jnp.float32) if kinds[node] == "Affine" else None
            layers.append(AnalogLinear.from_weights(w, b, tile=tile))
        else:
            for field in ("tau", "r", "v_threshold", "v_leak"):
                values = np.asarray(getattr(n, field)).ravel()
                if values.size and not np.all(values == values[0]):
                    raise ValueError(
                        f"import_nir: LIF node {node!r} has per-neuron `{field}`; only one value "
                        "per layer is supported."
                    )
            tau = float(np.asarray(n.tau).ravel()[0])
            r = float(np.asarray(n.r).ravel()[0])
            if float(np.asarray(n.v_leak).ravel()[0]) != 0.0:
                raise ValueError(f"import_nir: LIF node {node!r} has v_leak != 0; unsupported.")
            if not (math.isfinite(tau) and tau >= dt):
                raise ValueError(
                    f"import_nir: LIF node {node!r} has tau = {tau!r} s; it must be >= the "
                    f"graph's dt = {dt!r} s (the decay per step is 1 - dt / tau, in [0, 1))."
                )
            if not (math.isfinite(r) and r > 0):
                raise ValueError(f"import_nir: LIF node {node!r} has r = {r!r}; it must be > 0.")
            # NIR's LIF, tau dv/dt = (v_leak - v) + r I, stepped by dt: v' = (1 - dt/tau) v +
            # (dt r / tau) I. Our LIF adds its input unscaled, so the input gain dt r / tau is
            # folded into the layer that feeds it.
            gain = dt * r / tau
            if abs(gain - 1.0) > 1e-6:
                if not layers or not isinstance(layers[-1], AnalogLinear):
                    raise ValueError(
                        f"import_nir: LIF node {node!r} scales its input by dt r / tau = "
                        f"{gain:g} and follows no Affine/Linear node to fold that into."
                    )
                feed = layers[-1]
                feed = eqx.tree_at(lambda m: m.weight, feed, feed.weight * gain)
                if feed.bias is not None:
                    feed = eqx.tree_at(lambda m: m.bias, feed, feed.bias * gain)
                layers[-1] = feed
            beta = 1.0 - dt / tau
            meta = n.metadata or {}
            if "crossbar_beta" in meta and abs(meta["crossbar_beta"] - beta) < 1e-9:
                beta = float(meta["crossbar_beta"])
            layers.append(
                LIF(
                    beta=beta,
                    threshold=float(np.asarray(n.v_threshold).ravel()[0]),
                    reset=meta.get("crossbar_reset", "zero"),
                )
            )
        node = succ.get(node)
    if not layers:
        raise ValueError("import_nir: the graph holds no layers between Input and Output.")
    return SpikingNetwork(
        layers, encoder=None, readout=graph.metadata.get("crossbar_readout", "mean")
    )
