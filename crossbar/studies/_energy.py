"""Energy, SynOps and latency of analog spiking inference, from events counted on real inputs."""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import PRNGKeyArray

from devices.checks import check_nonnegative, check_positive

from ..core._analog_mvm import split_rows, untiled
from ..core._chip import analog_layers
from ..core._layer import AbstractAnalogLayer
from ..core._tile import grid
from ..nn._lif import AbstractNeuron
from ..nn._linear import AnalogLinear
from ..nn._network import SpikingNetwork
from ..nn._recurrent import Recurrent, recurrent_inputs
from ._energy_report import COMPONENTS, EnergyReport, neurobench_counts

# Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm, joules per operation.
FP32_ADD, FP32_MULT = 0.9e-12, 3.7e-12
INT8_ADD, INT8_MULT = 0.03e-12, 0.2e-12
FP16_ADD, FP16_MULT = 0.4e-12, 1.1e-12
# 64-bit read of an 8 KB SRAM (the same table).
SRAM_8KB_WORD = 10e-12
# int4: not in Horowitz's table; scaled from int8 with the multiplier quadratic and the adder
# linear in the word width: 0.2/4 + 0.03/2 pJ.
INT4_MAC = INT8_MULT / 4 + INT8_ADD / 2

#: Neuromorphic chips, joules per synaptic event: TrueNorth (Merolla et al., Science 2014,
#: static power included) and Loihi (Davies et al., IEEE Micro 2018, per synaptic op).
NEUROMORPHIC = (("truenorth", 26e-12), ("loihi", 23.6e-12))

#: The components of an analog inference, as named in the report.


class EnergyModel(eqx.Module):
    """The energy constants of an analog chip and of its digital baselines.

    - `v_read`, `read_time`: the read voltage of a full-scale input (V) and the duration of
      one read (s); None takes each layer's `Tile.v_read` / `Tile.read_time`. A crossbar read
      costs $V^2 G t$ per cell (0.2 V, 10 uS, 10 ns: 4 fJ); an input `x~` in [-1, 1] drives
      its row at `v_read |x~|`, and a row whose input is zero (no spike) draws nothing.
    - `adc`: `"walden"`: $E = \\mathrm{FOM}\\, 2^{\\mathrm{bits}}$ per conversion with `adc_fom`
      J/conversion-step (default 5 fJ: CIM papers budget 1-10 fJ; the survey frontier is about
      1 fJ for SAR ADCs); `"sar"`: NeuroSim's 22 nm SAR fit, `sar_5bit` (42 fJ) per 5-bit
      conversion scaled quadratically in bits.
    - `dac_fom`: DAC energy per conversion $= \\mathrm{dac\\_fom}\\, 2^{\\mathrm{bits}}$ (default
      0.5 fJ; an assumption, a tenth of the ADC's figure of merit: no single published number
      fits all DAC designs). Binary inputs (spikes) need no DAC.
    - `adc_time`: one conversion, s (default 10 ns, a 100 MS/s SAR), for the latency.
    - `neuron_update`: J per LIF neuron per time step (default 0.23 pJ: an int8 multiply-add,
      Horowitz 45 nm, for `beta U + I` and the threshold compare).
    - `input_encoding`: `"amplitude"` (default): an input drives its row at `v_read |x~|` for
      the whole read, $E = V^2 x^2 G t$; `"pwm"`: at `v_read` for `|x~| read_time` (pulse-width
      modulation, as in IBM's HERMES), $E = V^2 |x| G t$. The two agree for spikes.
    - `adc_during_read`: the ADC converts while the input is applied (integrating and
      current-controlled-oscillator ADCs): a read takes `max(read_time, adc_time)`, not the sum.
    - `digital_output`: J per ADC output for the digital work every analog read needs after
      the ADC: the scaling by the input and weight scales and the sum of the tiles' partial
      sums (default 1.5 pJ: an fp16 multiply 1.1 pJ + add 0.4 pJ, Horowitz 45 nm).
    - `sram_word`: J per 64-bit SRAM access (default 10 pJ: an 8 KB SRAM, Horowitz 45 nm). Every
      read of a layer fetches its input vector (1 bit per spike, DAC bits per analog input) and
      stores its outputs (16 bits each, the fp16 of `digital_output`); the LIF states stay in
      registers. The digital baselines pay the same activation traffic with their word width
      and fetch every weight once per inference. 0 leaves memory out everywhere.
    - `static_power`: W, drawn for the whole latency (default 0).
    - `profiles`: extra neuromorphic-chip profiles, `((name, J per synaptic event), ...)`,
      beside TrueNorth (26 pJ) and Loihi (23.6 pJ).

    Digital baselines (Horowitz, ISSCC 2014, 45 nm): fp32 MAC 4.6 pJ (add 0.9 + mult 3.7),
    int8 MAC 0.23 pJ (0.03 + 0.2), int4 MAC 0.065 pJ (scaled from int8), an SNN on a digital
    accelerator: an add per synaptic event (fp32 0.9 pJ, int8 0.03 pJ) and a MAC per
    non-spike input; all of them with the SRAM traffic of `sram_word` (DRAM left out: the
    weights are assumed to fit on chip, as they do in the analog arrays).

    `EnergyModel.hermes()` gives the constants of IBM's HERMES PCM core as far as they are
    published.
    """

    v_read: float | None = None
    read_time: float | None = None
    adc: Literal["walden", "sar"] = eqx.field(static=True, default="walden")
    adc_fom: float = 5e-15
    sar_5bit: float = 42e-15
    dac_fom: float = 0.5e-15
    adc_time: float = 10e-9
    neuron_update: float = INT8_ADD + INT8_MULT
    input_encoding: Literal["amplitude", "pwm"] = eqx.field(static=True, default="amplitude")
    adc_during_read: bool = eqx.field(static=True, default=False)
    digital_output: float = FP16_MULT + FP16_ADD
    sram_word: float = SRAM_8KB_WORD
    static_power: float = 0.0
    profiles: tuple = eqx.field(static=True, default=())

    def __check_init__(self):
        for name in ("v_read", "read_time"):
            if getattr(self, name) is not None:
                check_positive("EnergyModel", name, getattr(self, name))
        for name in ("adc_fom", "sar_5bit", "adc_time"):
            check_positive("EnergyModel", name, getattr(self, name))
        for name in ("dac_fom", "neuron_update", "digital_output", "sram_word", "static_power"):
            check_nonnegative("EnergyModel", name, getattr(self, name))
        if self.adc not in ("walden", "sar"):
            raise ValueError(f'EnergyModel: `adc` must be "walden" or "sar"; got {self.adc!r}.')
        if self.input_encoding not in ("amplitude", "pwm"):
            raise ValueError(
                'EnergyModel: `input_encoding` must be "amplitude" or "pwm"; '
                f"got {self.input_encoding!r}."
            )
        for entry in self.profiles:
            if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
                raise ValueError(
                    "EnergyModel: `profiles` must hold (name, joules per event) pairs; "
                    f"got {entry!r}."
                )
            check_positive("EnergyModel", f"profiles[{entry[0]!r}]", entry[1])

    @classmethod
    def hermes(cls, **overrides) -> EnergyModel:
        """IBM HERMES's PCM core (14 nm, 256 x 256, 8-bit inputs and outputs), as published.

        - Inputs are pulse-width modulated (`input_encoding="pwm"`) over a read window of
          133 ns: the time of one 256 x 256 MVM in one-phase mode, from the chip's 63.1 TOPS
          over 64 cores (2 x 256^2 x 64 / 63.1 TOPS; Le Gallo et al.,
          Nat. Electron. 2023).
        - The 256 current-controlled-oscillator ADCs count at 300 ps per LSB while the input
          is applied (`adc_during_read`; 8 bits: 76.8 ns; Khaddam-Aljameh et al., IEEE JSSC
          2022).
        The ADC's energy per conversion is not published apart from the core's total; the
        Walden default stays, and everything else keeps the defaults (Horowitz 45 nm digital
        and SRAM energies at a 14 nm chip: an overestimate there).
        """
        params = dict(
            read_time=2 * 256**2 * 64 / 63.1e12,
            input_encoding="pwm",
            adc_time=300e-12 * 2**8,
            adc_during_read=True,
        )
        return cls(**{**params, **overrides})

    def read_duration(self, t_read: float) -> float:
        """Seconds one read of a layer takes: input window and conversion."""
        if self.adc_during_read:
            return max(t_read, self.adc_time)
        return t_read + self.adc_time

    def adc_energy(self, bits: int | None) -> float:
        """J per conversion of a `bits`-bit ADC (0 for an ideal one, which has no cost model)."""
        if bits is None:
            return 0.0
        if self.adc == "walden":
            return self.adc_fom * 2.0**bits
        return self.sar_5bit * (bits / 5.0) ** 2

    def dac_energy(self, bits: int | None) -> float:
        """J per conversion of a `bits`-bit DAC (0 for an ideal one)."""
        return 0.0 if bits is None else self.dac_fom * 2.0**bits


def _layer_vectors(layer: AbstractAnalogLayer, activity) -> tuple[AnalogLinear, jnp.ndarray, int]:
    """The crossbar and its input vectors `(M, in)` of an analog layer over all examples and
    steps, and the number of vectors per step of one example (positions, for a convolution)."""
    vec = _crossbar_inputs(layer, activity)  # (N T, per step, in)
    return layer.crossbar, vec.reshape(-1, vec.shape[-1]), vec.shape[1]


@eqx.filter_jit
def _crossbar_inputs(layer: AbstractAnalogLayer, activity) -> jnp.ndarray:
    return jax.vmap(layer.crossbar_inputs)(activity.reshape((-1,) + activity.shape[2:]))


def _row_conductance(linear: AnalogLinear) -> jnp.ndarray:
    """Sum over arrays and real outputs of the read conductances of each input row, uS."""
    g = linear.state.g  # (n_arrays, T_r, T_c, cols, rows)
    return sum(untiled(g[a], linear.out_features, linear.in_features).sum(0) for a in range(len(g)))


@eqx.filter_jit
def _events(linear: AnalogLinear, x: jnp.ndarray, pwm: bool):
    """`(sum of drive x row conductance, nonzero converted inputs, row-tile slices that
    receive input, whether every input is 0 or 1)` of the input vectors `x (M, in)`, in one
    compiled program (op by op, each call compiled a dozen kernels)."""
    tile = linear.tile
    t_r, _, rows, _ = grid(linear.in_features, linear.out_features, tile)
    xs = jax.vmap(lambda v: split_rows(v, t_r, rows))(x)  # (M, T_r, rows)
    nm = tile.dac.input_scale(xs)  # (M, T_r)
    active = nm > 0
    scale = jnp.where(active, 1.0 / jnp.where(active, nm, 1.0), 1.0)
    xq = tile.dac(xs, scale).reshape(x.shape[0], -1)[:, : linear.in_features]  # (M, in)
    drive = jnp.abs(xq) if pwm else xq * xq
    return (
        jnp.sum(drive * _row_conductance(linear)),
        jnp.sum(xq != 0),
        jnp.sum(active),
        jnp.all((x == 0) | (x == 1)),
    )


def _count(linear: AnalogLinear, x: jnp.ndarray, model: EnergyModel) -> dict:
    """Events and energies summed over the input vectors `x (M, in)`."""
    tile = linear.tile
    t_c = grid(linear.in_features, linear.out_features, tile)[1]
    v_read = model.v_read if model.v_read is not None else tile.v_read
    t_read = model.read_time if model.read_time is not None else tile.read_time
    drive_g, nonzero, n_active, binary = (
        v.item() for v in _events(linear, x, model.input_encoding == "pwm")
    )
    binary = bool(binary)
    nonzero = int(nonzero)
    array_j = t_read * v_read**2 * 1e-6 * drive_g
    dac_conversions = 0 if binary else nonzero * t_c
    adc_conversions = int(n_active) * linear.out_features * tile.mapping.n_readouts
    # SRAM: each vector's inputs are fetched and its fp16 outputs stored, 64 bits a word.
    in_bits = 1 if binary else (tile.dac.bits or 32)
    words = x.shape[0] * (linear.in_features * in_bits + linear.out_features * 16) / 64
    return {
        "array_j": float(array_j),
        "dac_j": dac_conversions * model.dac_energy(tile.dac.bits),
        "adc_j": adc_conversions * model.adc_energy(tile.adc.bits),
        "digital_j": adc_conversions * model.digital_output,
        "memory_j": words * model.sram_word,
        "dac_conversions": dac_conversions,
        "adc_conversions": adc_conversions,
        "synops": int(nonzero) * linear.out_features if binary else 0,
        "events": int(nonzero) * linear.out_features,
        "macs": x.shape[0] * linear.in_features * linear.out_features,
        "vectors": x.shape[0],
        "binary_input": binary,
        "t_read": t_read,
    }


@eqx.filter_jit
def _record(chip: SpikingNetwork, x, key: PRNGKeyArray):
    """Every layer's activity over the examples `x` (one compiled program, reused by every
    call of the same chip structure and input shape)."""
    return jax.vmap(lambda x, k: chip.record(x, key=k))(x, jr.split(key, x.shape[0]))


def _row(layer, inputs, spikes, neurons: int, n: int, steps: int, model: EnergyModel):
    """One analog layer's row of the report (per inference) and its latency, from its inputs
    `(N, T, ...)` and the spikes of the neurons it feeds (None if none)."""
    linear, vectors, per_step = _layer_vectors(layer, inputs)
    c = _count(linear, vectors, model)
    row = {
        "name": f"{type(layer).__name__}({linear.in_features}->{linear.out_features})",
        "array_j": c["array_j"] / n,
        "dac_j": c["dac_j"] / n,
        "adc_j": c["adc_j"] / n,
        "neuron_j": steps * neurons * model.neuron_update,
        "digital_j": c["digital_j"] / n,
        "memory_j": c["memory_j"] / n,
        "synops": c["synops"] / n,
        "firing_rate": float(jnp.mean(spikes)) if spikes is not None else None,
        "macs": c["macs"] / n,
        "dac_conversions": c["dac_conversions"] / n,
        "adc_conversions": c["adc_conversions"] / n,
        "binary_input": c["binary_input"],
        "in_features": linear.in_features,
        "out_features": linear.out_features,
        "vectors": c["vectors"] / n,
        "events": c["events"] / n,
    }
    return row, steps * per_step * model.read_duration(c["t_read"])


def estimate_energy(
    chip: SpikingNetwork,
    inputs,
    *,
    key: PRNGKeyArray,
    model: EnergyModel = EnergyModel(),
) -> EnergyReport:
    """Energy per inference of a programmed, read chip, from the events of real inputs.

    Runs `inputs` (`(N, ...)`, N examples) through `chip` (a `SpikingNetwork` after
    `crossbar.at_time`) and counts, per analog layer and time step: the array energy from the
    read conductances and the converted inputs ($t_{read} \\sum_i (v_{read} |x~_i|)^2 \\sum_j
    (G^+_{ij} + G^-_{ij})$; a spike drives only its row), DAC conversions (none for binary
    inputs), ADC conversions (every output of every tile row-slice that receives input, per
    readout), and the updates of the neurons that follow. The recurrent weights of a
    `Recurrent` neuron on a crossbar are a row of their own (named `... recurrent`), read
    each step with the layer's spikes of the step before. Also SynOps (input spikes x
    fan-out), firing rates, dense MACs, the latency (time steps x, per layer, input vectors x
    (read time + conversion time)), and the digital and neuromorphic baselines for the same
    network. Everything is per inference (averaged over the N examples). `neurobench` holds
    the same counts under NeuroBench's names (`SynapticOperations` with `Effective_MACs`,
    `Effective_ACs`, `Dense`; `ActivationSparsity`), equal to what NeuroBench 2 computes on the
    network run in snnTorch through NIR (`tests/test_interop.py`).

    **Returns:** an `EnergyReport` (a dict: `print(report)` gives the table, `report.to_json`,
    `report.plot`).
    """
    if not isinstance(chip, SpikingNetwork):
        raise ValueError(
            f"estimate_energy: `chip` must be a crossbar.SpikingNetwork; got {type(chip).__name__}."
        )
    layers = analog_layers(chip)
    if not layers or any(layer.state is None or layer.state.g is None for layer in layers):
        raise ValueError(
            "estimate_energy: needs a programmed and read chip: "
            "crossbar.at_time(crossbar.program(net, key), t, key)."
        )
    if not isinstance(model, EnergyModel):
        raise ValueError(f"estimate_energy: `model` must be a crossbar.EnergyModel; got {model!r}.")
    inputs = jnp.asarray(inputs)
    if inputs.ndim < 2 or inputs.shape[0] < 1:
        raise ValueError(
            f"estimate_energy: `inputs` must be (N, ...) with N >= 1; got shape {inputs.shape}."
        )
    n = inputs.shape[0]
    _, activity = _record(chip, inputs, key)
    steps = next(a.shape[1] for a in activity if a is not None)

    analog = AbstractAnalogLayer
    rows, latency = [], 0.0
    for i, layer in enumerate(chip.layers):
        if isinstance(layer, Recurrent) and layer.is_analog:
            # The feedback array reads the layer's own spikes of the step before.
            spikes = activity[i]
            row, dt = _row(layer.recurrent, recurrent_inputs(spikes), spikes, 0, n, steps, model)
            row["name"] += " recurrent"
            rows.append(row)
            latency += dt
        if not isinstance(layer, analog):
            continue
        # The neurons this analog layer feeds (before the next analog layer), if any.
        after = [
            j
            for j in range(i + 1, len(chip.layers))
            if isinstance(chip.layers[j], (AbstractNeuron, analog))
        ]
        lif = after[0] if after and isinstance(chip.layers[after[0]], AbstractNeuron) else None
        spikes = activity[lif] if lif is not None else None
        neurons = int(np.prod(spikes.shape[2:])) if spikes is not None else 0
        row, dt = _row(layer, activity[i], spikes, neurons, n, steps, model)
        rows.append(row)
        latency += dt
    totals = {k: sum(r[k] for r in rows) for k in COMPONENTS}
    macs = sum(r["macs"] for r in rows)
    synops = sum(r["synops"] for r in rows)
    # A digital SNN accelerator adds per input spike and multiplies-adds per non-spike input.
    dense_in_snn = sum(r["macs"] for r in rows if not r["binary_input"])
    # Neuromorphic chips pay per synaptic event: every non-zero input times its fan-out.
    events = sum(r["events"] for r in rows)
    static = model.static_power * latency
    total = sum(totals.values()) + static
    baselines = {
        "digital_fp32": macs * (FP32_ADD + FP32_MULT) + _dense_traffic(rows, 32, model),
        "digital_int8": macs * (INT8_ADD + INT8_MULT) + _dense_traffic(rows, 8, model),
        "digital_int4": macs * INT4_MAC + _dense_traffic(rows, 4, model),
        "snn_digital_fp32": synops * FP32_ADD
        + dense_in_snn * (FP32_ADD + FP32_MULT)
        + _snn_traffic(rows, 32, model),
        "snn_digital_int8": synops * INT8_ADD
        + dense_in_snn * (INT8_ADD + INT8_MULT)
        + _snn_traffic(rows, 8, model),
    }
    for name, per_event in NEUROMORPHIC + tuple(model.profiles):
        baselines[name] = events * per_event
    fired = [activity[j] for j, cell in enumerate(chip.layers) if isinstance(cell, AbstractNeuron)]
    neurobench = neurobench_counts(rows, fired)
    return EnergyReport(
        joules_per_inference=total,
        components_j={**totals, "static_j": static},
        layers=rows,
        macs=macs,
        synops=synops,
        time_steps=int(steps),
        latency_s=latency,
        examples=int(n),
        baselines=baselines,
        neurobench=neurobench,
        model={f: getattr(model, f) for f in model.__dataclass_fields__ if f != "profiles"},
    )


def _dense_traffic(rows, bits: int, model: EnergyModel) -> float:
    """SRAM energy of a dense digital accelerator with `bits`-bit words: every weight fetched
    once per inference, every vector's inputs fetched and outputs stored."""
    words = sum(
        r["in_features"] * r["out_features"] + r["vectors"] * (r["in_features"] + r["out_features"])
        for r in rows
    )
    return words * bits / 64 * model.sram_word


def _snn_traffic(rows, bits: int, model: EnergyModel) -> float:
    """SRAM energy of an event-driven digital SNN: a weight fetched per synaptic event (the
    fan-out of each spike), spikes read as single bits; layers with non-spike inputs as dense.
    Membrane potentials stay in registers."""
    bits_total = 0.0
    for r in rows:
        if r["binary_input"]:
            bits_total += r["synops"] * bits + r["vectors"] * r["in_features"]
        else:
            bits_total += (
                r["in_features"] * r["out_features"] + r["vectors"] * r["in_features"]
            ) * bits
    return bits_total / 64 * model.sram_word
