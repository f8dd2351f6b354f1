r"""ANN-to-SNN conversion: a trained ReLU network as integrate-and-fire neurons on crossbars.

Rueckauer et al., "Conversion of continuous-valued deep networks to efficient event-driven
networks for image classification", Front. Neurosci. 11, 682 (2017): a ReLU's output is
approximated by the firing rate of a non-leaky integrate-and-fire neuron with reset by
subtraction and threshold 1, once each layer's weights are scaled so that its activations
rarely exceed 1. With $\lambda_l$ the `percentile`-th percentile of layer $l$'s ReLU outputs on
calibration data ($\lambda_0 = 1$: inputs are the currents they are),
$W_l \leftarrow W_l \lambda_{l-1} / \lambda_l$, $b_l \leftarrow b_l / \lambda_l$ (the output
layer keeps $\lambda_L = 1$: its mean current over time is the logits, up to $1/\lambda$).
The input is a constant current (direct coding); more time steps, a finer rate code.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from devices.checks import check_int, is_real

from ..core._tile import Tile
from ._encoders import Encoder
from ._lif import LIF
from ._linear import AnalogLinear
from ._network import SpikingNetwork

_SUPPORTED = (
    "eqx.nn.Linear, ReLU (jax.nn.relu as eqx.nn.Lambda, or an eqx.nn.MLP with relu), "
    "eqx.nn.Dropout and eqx.nn.Identity (dropped at inference)"
)


def _is_relu(fn) -> bool:
    return fn is jax.nn.relu or getattr(fn, "__name__", None) == "relu"


def _linear_layers(ann) -> list[eqx.nn.Linear]:
    """The Linear layers of a supported ANN, a ReLU between each two (checked), or a
    ValueError naming the layer that has no spiking counterpart."""
    if isinstance(ann, eqx.nn.MLP):
        if not _is_relu(ann.activation):
            raise ValueError(
                f"convert: the MLP's activation must be jax.nn.relu (an integrate-and-fire "
                f"neuron's rate is a ReLU); got {ann.activation!r}."
            )
        final = ann.final_activation
        if getattr(final, "__name__", "") not in ("_identity", "<lambda>") and not _is_relu(final):
            raise ValueError(
                f"convert: the MLP's final_activation must be the identity or relu; got {final!r}."
            )
        return list(ann.layers)
    if not isinstance(ann, eqx.nn.Sequential):
        raise ValueError(
            f"convert: `ann` must be an eqx.nn.MLP or eqx.nn.Sequential of {_SUPPORTED}; got "
            f"{type(ann).__name__}."
        )
    linears: list[eqx.nn.Linear] = []
    relu_after_last = False  # whether a ReLU follows the latest Linear
    for i, layer in enumerate(ann.layers):
        if isinstance(layer, eqx.nn.Linear):
            if linears and not relu_after_last:
                raise ValueError(
                    f"convert: layers[{i}] is a Linear right after another Linear with no ReLU "
                    "between them; fold them into one or put a ReLU between."
                )
            linears.append(layer)
            relu_after_last = False
        elif isinstance(layer, eqx.nn.Lambda) and _is_relu(layer.fn):
            if not linears or relu_after_last:
                raise ValueError(f"convert: layers[{i}] is a ReLU with no Linear before it.")
            relu_after_last = True
        elif not isinstance(layer, (eqx.nn.Dropout, eqx.nn.Identity)):
            what = type(layer).__name__
            if isinstance(layer, eqx.nn.Lambda):
                what = f"Lambda({getattr(layer.fn, '__name__', layer.fn)!r})"
            raise ValueError(
                f"convert: layers[{i}] ({what}) has no spiking counterpart; supported: "
                f"{_SUPPORTED}."
            )
    if not linears:
        raise ValueError("convert: the network has no Linear layer.")
    return linears


def _activations(linears, x: np.ndarray) -> list[np.ndarray]:
    """Each hidden layer's ReLU outputs on `x (N, in)` (the output layer's are not needed)."""
    acts, h = [], jnp.asarray(x)
    for layer in linears[:-1]:
        h = jax.nn.relu(jax.vmap(layer)(h))
        acts.append(np.asarray(h))
    return acts


def convert(
    ann,
    x_calib,
    *,
    tile: Tile = Tile(),
    steps: int = 32,
    percentile: float = 99.9,
    key: PRNGKeyArray | None = None,
) -> SpikingNetwork:
    """A trained ReLU network as a spiking network on crossbar tiles (see the module doc).

    **Arguments:**

    - `ann`: an `eqx.nn.MLP` with `jax.nn.relu`, or an `eqx.nn.Sequential` of
      `eqx.nn.Linear` and `eqx.nn.Lambda(jax.nn.relu)` (dropout and identity layers are
      dropped); acting on one example `(in,)`. Anything else is a `ValueError` naming it.
    - `x_calib`: calibration inputs `(N, in)` for the activation percentiles (the training
      set, or a few hundred examples of it).
    - `tile`: the tiles of every layer (default `Tile()`; `crossbar.ideal_tile(Tile())` for
      digital weights).
    - `steps`: time steps of one inference (direct coding: the input current every step).
    - `percentile`: of each layer's activations, in (0, 100] (Rueckauer's robust 99.9; 100 is
      the max-norm of Diehl et al. 2015).
    - `key`: unused (nothing is drawn: the layers are built from the converted weights);
      accepted so that older calls keep working.

    **Returns:** `SpikingNetwork([AnalogLinear, LIF(beta=1, threshold=1, reset="subtract"),
    ..., AnalogLinear], encoder=Encoder("direct", steps), readout="mean")`.
    """
    check_int("convert", "steps", steps)
    if not (is_real(percentile) and 0 < percentile <= 100):
        raise ValueError(f"convert: `percentile` must lie in (0, 100]; got {percentile!r}.")
    if not isinstance(tile, Tile):
        raise ValueError(f"convert: `tile` must be a crossbar.Tile; got {tile!r}.")
    linears = _linear_layers(ann)
    x_calib = np.asarray(x_calib, np.float32)
    n_in = linears[0].in_features
    if x_calib.ndim != 2 or x_calib.shape[1] != n_in or len(x_calib) < 1:
        raise ValueError(
            f"convert: `x_calib` must be (N, {n_in}) inputs of the network; got {x_calib.shape}."
        )
    scales = [1.0]
    for a in _activations(linears, x_calib):
        lam = float(np.percentile(a, percentile))
        scales.append(lam if lam > 0 else 1.0)
    scales.append(1.0)  # the output layer: mean current, no neuron
    layers: list = []
    for i, lin in enumerate(linears):
        w = lin.weight * (scales[i] / scales[i + 1])
        b = lin.bias / scales[i + 1] if lin.use_bias else None
        layers.append(AnalogLinear.from_weights(w, b, tile=tile))
        if i < len(linears) - 1:
            layers.append(LIF(beta=1.0, threshold=1.0, reset="subtract"))
    return SpikingNetwork(layers, encoder=Encoder("direct", steps), readout="mean")
