"""The models the command line, the demo, the notebooks and the benchmarks build: the demo's
spiking networks and chip from a plain config dict, the device presets by name, the
recurrent SNN of the temporal demo and its non-spiking twin, and the spiking CNN; and the
files of the command line's models (`load_trained`, `save_trained`). Public:
`crossbar.models.build_snn(...)`."""

from __future__ import annotations

import os
from pathlib import Path

import equinox as eqx
import jax
import jax.random as jr
import optax
from jaxtyping import PRNGKeyArray

import devices
from devices.checks import check_int

from .core._converters import ADC, DAC
from .core._mapping import Differential
from .core._tile import Tile
from .io._checkpoint import _fingerprint, checkpoint_meta, load_checkpoint, save_checkpoint
from .nn._conv import AnalogConv2d
from .nn._encoders import Encoder
from .nn._lif import LIF
from .nn._linear import AnalogLinear
from .nn._network import SpikingNetwork
from .nn._norms import ChannelNorm
from .nn._pooling import Flatten, MaxPool2d
from .nn._recurrent import Recurrent

__all__ = [
    "DEFAULT_CONFIG",
    "DEVICES",
    "build_snn",
    "chip_tile",
    "count_parameters",
    "equal_size_mlp",
    "load_trained",
    "recurrent_snn",
    "save_trained",
    "spiking_cnn",
]

#: The device presets by name (`crossbar train --device`).
DEVICES = {
    "ideal": devices.Ideal,
    "pcm": devices.PCM,
    "pcm-hermes": devices.PCM.hermes,
    "rram-cmo": devices.RRAMCMO,
    "rram-wan2022": devices.RRAMWan2022,
    "rram-milo2021": devices.RRAMMilo2021,
}

#: The demo's network and chip, and the defaults of `crossbar train`.
DEFAULT_CONFIG = {
    "hidden": 128,
    "steps": 8,
    "beta": 0.9,
    "encoder": "rate",
    "device": "pcm",
    "dac_bits": 8,
    "adc_bits": 8,
    "adc_bound": 10.0,
    "out_noise": 0.04,
    "train_time": [1.0, 365 * 86400.0],
    "pairs": 1,
}


def chip_tile(config: dict) -> Tile:
    """The tile of the demo's chip from a config dict (missing keys take `DEFAULT_CONFIG`'s
    values): the device, 8-bit DAC and ADC (bound 10), output noise 0.04, training times and
    the differential pairs per weight (`crossbar.Differential(pairs=...)`)."""
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError(
            f"chip_tile: unknown config keys {sorted(unknown)}; allowed: {sorted(DEFAULT_CONFIG)}."
        )
    c = {**DEFAULT_CONFIG, **config}
    if c["device"] not in DEVICES:
        raise ValueError(
            f"chip_tile: `device` must be one of {sorted(DEVICES)}; got {c['device']!r}."
        )
    return Tile(
        device=DEVICES[c["device"]](),
        dac=DAC(bits=c["dac_bits"]),
        adc=ADC(bits=c["adc_bits"], bound=float(c["adc_bound"])),
        out_noise=float(c["out_noise"]),
        train_time=tuple(float(t) for t in c["train_time"]),
        mapping=Differential(pairs=int(c["pairs"])),
    )


def build_snn(config: dict, n_in: int, n_out: int, *, key) -> SpikingNetwork:
    """The network of the demo and of `crossbar train` from a plain config dict:
    `AnalogLinear(n_in, hidden) -> LIF -> AnalogLinear(hidden, n_out)`, mean output over time.
    Unknown keys are an error; missing keys take `DEFAULT_CONFIG`'s values."""
    tile = chip_tile(config)
    c = {**DEFAULT_CONFIG, **config}
    k1, k2 = jr.split(key)
    return SpikingNetwork(
        [
            AnalogLinear(n_in, c["hidden"], tile=tile, key=k1),
            LIF(beta=float(c["beta"])),
            AnalogLinear(c["hidden"], n_out, tile=tile, key=k2),
        ],
        encoder=Encoder(c["encoder"], c["steps"]),
        readout="mean",
    )


def spiking_cnn(tile: Tile, *, key: PRNGKeyArray, steps: int = 8, channels=(32, 64), hidden=256):
    """The spiking CNN of SpikingJelly's documentation for 28 x 28 inputs, every Conv and
    Linear on crossbars: Conv(1->32, 3x3) -> Norm -> LIF(tau 2) -> MaxPool(2) -> Conv(32->64)
    -> Norm -> LIF -> MaxPool(2) -> Flatten -> Linear(64*7*7 -> 256) -> LIF -> Linear(256 ->
    10), direct input over T = 8 steps, mean output over time."""
    c1, c2 = channels
    k = jr.split(key, 4)
    return SpikingNetwork(
        [
            AnalogConv2d(1, c1, 3, padding=1, tile=tile, key=k[0]),
            ChannelNorm(c1, standardise=True),
            LIF(tau=2.0),
            MaxPool2d(2),
            AnalogConv2d(c1, c2, 3, padding=1, tile=tile, key=k[1]),
            ChannelNorm(c2, standardise=True),
            LIF(tau=2.0),
            MaxPool2d(2),
            Flatten(),
            AnalogLinear(c2 * 7 * 7, hidden, tile=tile, key=k[2]),
            LIF(tau=2.0),
            AnalogLinear(hidden, 10, tile=tile, key=k[3]),
        ],
        encoder=Encoder("direct", steps),
        readout="mean",
    )


def recurrent_snn(
    tile: Tile,
    *,
    key: PRNGKeyArray,
    n_in: int = 8,
    hidden: int = 128,
    n_out: int = 10,
    beta_range: tuple[float, float] = (0.8, 0.99),
) -> SpikingNetwork:
    """The temporal demo's network: `AnalogLinear(n_in -> hidden) -> Recurrent(LIF,
    AnalogLinear(hidden -> hidden)) -> AnalogLinear(hidden -> n_out)`, every weight (the
    recurrent ones too) on crossbars of `tile`, mean output over time, no encoder (it takes
    `(T, n_in)` sequences). Each hidden neuron has its own learned decay `beta`, drawn
    uniformly from `beta_range` with `key` (time constants of 5 to 100 steps: the
    heterogeneous memory of Perez-Nieves et al. 2021)."""
    for name, value in (("n_in", n_in), ("hidden", hidden), ("n_out", n_out)):
        check_int("recurrent_snn", name, value)
    lo, hi = beta_range
    if not 0 <= lo <= hi < 1:
        raise ValueError(
            f"recurrent_snn: `beta_range` must be (low, high) with 0 <= low <= high < 1; "
            f"got {beta_range!r}."
        )
    k = jr.split(key, 4)
    beta = jr.uniform(k[3], (hidden,), minval=lo, maxval=hi)
    return SpikingNetwork(
        [
            AnalogLinear(n_in, hidden, tile=tile, key=k[0]),
            Recurrent(
                LIF(beta=beta, learn_beta=True),
                AnalogLinear(hidden, hidden, tile=tile, key=k[1]),
            ),
            AnalogLinear(hidden, n_out, tile=tile, key=k[2]),
        ],
        encoder=None,
        readout="mean",
    )


def count_parameters(model) -> int:
    """The number of trainable values in `model`: every inexact array leaf (weights, biases,
    learned decays and thresholds; a fixed decay counts too, as it is stored)."""
    return sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array)))


def equal_size_mlp(
    tile: Tile, n_parameters: int, *, key: PRNGKeyArray, n_in: int = 40, n_out: int = 10
) -> SpikingNetwork:
    """A non-spiking network with (as nearly as a whole hidden width allows) `n_parameters`
    parameters: `AnalogLinear(n_in -> h) -> ReLU -> AnalogLinear(h -> n_out)` on crossbars of
    `tile`, with `h = round((n_parameters - n_out) / (n_in + n_out + 1))`. It is a
    `SpikingNetwork` of one time step (`Encoder("direct", 1)`), so the same training,
    programming and drift evaluation apply to it; it takes `(n_in,)` inputs."""
    check_int("equal_size_mlp", "n_parameters", n_parameters)
    h = max(1, round((n_parameters - n_out) / (n_in + n_out + 1)))
    k1, k2 = jr.split(key)
    return SpikingNetwork(
        [
            AnalogLinear(n_in, h, tile=tile, key=k1),
            eqx.nn.Lambda(jax.nn.relu),
            AnalogLinear(h, n_out, tile=tile, key=k2),
        ],
        encoder=Encoder("direct", 1),
        readout="mean",
    )


def load_trained(path: str | os.PathLike) -> SpikingNetwork:
    """The network in a checkpoint of `crossbar train` (or of `save_trained`), rebuilt from
    the configuration the checkpoint holds: one call, `crossbar.models.load_trained(path)`.
    Raises `ValueError` for a checkpoint written by something else (no network config)."""
    meta = checkpoint_meta(path)
    if "config" not in meta:
        raise ValueError(
            f"load_trained: {path} was not written by `crossbar train` or "
            "crossbar.models.save_trained (it has no network config)."
        )
    model = build_snn(meta["config"], meta["n_in"], meta["n_out"], key=jr.PRNGKey(0))
    if meta.get("contents") == "model":  # save_trained: the model alone
        loaded, _ = load_checkpoint(path, model)
        return loaded
    # crossbar train: the model and its Adam state (the state's structure, not its values)
    like = (model, optax.adam(meta["lr"]).init(eqx.filter(model, eqx.is_inexact_array)))
    (loaded, _), _ = load_checkpoint(path, like)
    return loaded


def save_trained(
    path: str | os.PathLike, model: SpikingNetwork, config: dict, *, data: str | None = None
) -> Path:
    """Write a network trained in Python as a checkpoint that the command line reads
    (`crossbar evaluate / energy / sweep --checkpoint path`) and `load_trained` reads back:
    `model` must be the network `build_snn(config, n_in, n_out)` builds (any weights, any
    training); `data` names its dataset (`digits`, ...) for the record. Atomic."""
    first, last = (
        (model.layers[0], model.layers[-1]) if isinstance(model, SpikingNetwork) else (None, None)
    )
    if not (isinstance(first, AnalogLinear) and isinstance(last, AnalogLinear)):
        raise ValueError(
            "save_trained: `model` must be a network of crossbar.models.build_snn (AnalogLinear, "
            f"LIF, AnalogLinear); got {type(model).__name__}."
        )
    n_in, n_out = first.in_features, last.out_features
    like = build_snn(config, n_in, n_out, key=jr.PRNGKey(0))

    # What the file does not hold (the tile's and neurons' numbers that are not arrays) must
    # be what the config rebuilds.
    def settings(tree):
        return jax.tree_util.tree_leaves(eqx.filter(tree, lambda v: not eqx.is_array(v)))

    if (
        jax.tree_util.tree_structure(model) != jax.tree_util.tree_structure(like)
        or _fingerprint(model) != _fingerprint(like)  # the arrays' paths, shapes, dtypes
        or settings(model) != settings(like)
    ):
        raise ValueError(
            "save_trained: `model` is not the network build_snn(config, "
            f"{n_in}, {n_out}) builds (another architecture, tile or config); save it with "
            "crossbar.save_checkpoint and load it into the model it is."
        )
    meta = {"config": {**DEFAULT_CONFIG, **config}, "n_in": n_in, "n_out": n_out}
    return save_checkpoint(path, model, **meta, data=data, contents="model")
