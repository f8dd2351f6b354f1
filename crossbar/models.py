"""The models the command line, the demo, the notebooks and the benchmarks build: the demo's
spiking network and chip from a plain config dict, the device presets by name, and the
spiking CNN. Public: `crossbar.models.build_snn(...)`."""

from __future__ import annotations

import jax.random as jr

import devices

from ._conv import spiking_cnn
from ._converters import ADC, DAC
from ._encoders import Encoder
from ._lif import LIF
from ._linear import AnalogLinear
from ._network import SpikingNetwork
from ._tile import Tile

__all__ = ["DEFAULT_CONFIG", "DEVICES", "build_snn", "chip_tile", "spiking_cnn"]

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
}


def chip_tile(config: dict) -> Tile:
    """The tile of the demo's chip from a config dict (missing keys take `DEFAULT_CONFIG`'s
    values): the device, 8-bit DAC and ADC (bound 10), output noise 0.04 and training times."""
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
