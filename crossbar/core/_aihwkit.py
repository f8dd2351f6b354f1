"""aihwkit's inference configurations as `Tile`s: `Tile.from_aihwkit(rpu_config)`.

aihwkit is not imported here: its objects are read by their fields, and its enums by their
names, so the translation needs only the object a user already has. Every field is looked at:
those we model are translated, the rest must hold aihwkit's default (that of the base class,
`IOParameters()`, `MappingParameter()`, ..., not of a preset), or the translation refuses and
names each of them with its value, unless the caller drops it explicitly (`ignore`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

import devices

from ._circuit import IRDrop
from ._converters import ADC, DAC
from ._mapping import Differential, Offset

#: The tile size that stands for aihwkit's `max_input_size` / `max_output_size` of 0 (no
#: limit: one tile for the whole layer).
UNLIMITED = 2**31 - 1

# The fields of each part of an `InferenceRPUConfig` that the translation reads (the others
# must hold aihwkit's default).
_READ = {
    "forward": {
        "is_perfect",
        "inp_bound",
        "inp_res",
        "out_bound",
        "out_res",
        "out_noise",
        "noise_management",
        "nm_thres",
        "bound_management",
        "max_bm_factor",
        "max_bm_res",
        "w_noise",
        "w_noise_type",
        "ir_drop",
        "ir_drop_g_ratio",
    },
    "mapping": {
        "digital_bias",
        "weight_scaling_omega",
        "weight_scaling_columnwise",
        "learn_out_scaling",
        "out_scaling_columnwise",
        "max_input_size",
        "max_output_size",
    },
    "remap": {"type", "remapped_wmax"},
}

# The parts of an `InferenceRPUConfig` read below, and those that do not describe the forward
# pass of an inference tile (the tile's class, the ideal backward pass and update that
# `InferenceRPUConfig` fixes, runtime options).
_PARTS = {"forward", "noise_model", "drift_compensation", "mapping", "remap", "clip"}
_PARTS |= {"modifier", "pre_post", "tile_class", "tile_array_class", "simulator_tile_class"}
_PARTS |= {"device", "backward", "update", "runtime"}

_PCM_PROG = (0.26348, 1.9650, -1.1731)


def _name(value):
    """An enum's name (aihwkit's enums), or the value itself."""
    return getattr(value, "name", value)


def _default_of(obj, base: str):
    """A fresh instance of the class named `base` in `obj`'s MRO (aihwkit's defaults, not a
    preset's), or None."""
    for cls in type(obj).__mro__:
        if cls.__name__ == base:
            try:
                return cls()
            except TypeError:
                return None
    return None


def _differs(a, b) -> bool:
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        return any(_differs(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    a, b = _name(a), _name(b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return False
    return a != b


class _Refusals:
    """What the translation cannot model: `(dotted field, value, why)`."""

    def __init__(self):
        self.items: list[tuple[str, str, str]] = []

    def add(self, field: str, value, why: str) -> None:
        value = _name(value)
        self.items.append((field, value if isinstance(value, str) else repr(value), why))

    def unread(self, part: str, obj, base: str) -> None:
        """Every field of `obj` that is neither read nor at aihwkit's default."""
        default = _default_of(obj, base)
        if default is None or not dataclasses.is_dataclass(obj):
            return
        for f in dataclasses.fields(obj):
            if f.name in _READ.get(part, set()) or not f.init:
                continue
            value = getattr(obj, f.name)
            if _differs(value, getattr(default, f.name, value)):
                self.add(f"{part}.{f.name}", value, "not modelled")


def _bits(part: str, name: str, res, refusals: _Refusals) -> int | None:
    """The converter bits of aihwkit's `inp_res` / `out_res`: a resolution (the step over the
    range), or a number of steps where it is above 1; 0 or less is no quantisation."""
    res = float(res)
    if res <= 0:
        return None
    if res > 1:
        res = 1.0 / res
    bits = int(round(math.log2(1.0 / res + 2.0)))
    if 1 <= bits <= 24 and np.float32(1.0 / max(2**bits - 2, 1)) == np.float32(res):
        return bits
    refusals.add(
        f"{part}.{name}",
        res,
        f"{1 / res:g} steps: crossbar's converters have 2**bits - 2 steps (bits 1 to 24), "
        "e.g. 1 / (2**8 - 2) or 254 for 8 bits",
    )
    return 8


def _bound(value) -> float:
    """aihwkit's converter bound: 0 or less is no bound."""
    value = float(value)
    return value if value > 0 else math.inf


def _periphery(fwd, refusals: _Refusals) -> dict:
    """The DAC, ADC, noise, bound management and IR drop of `rpu_config.forward`."""
    refusals.unread("forward", fwd, "IOParameters")
    if fwd.is_perfect:  # an exact matmul: no converter, no noise
        return dict(dac=DAC(bits=None, bound=math.inf, scaling="none"), adc=ADC(None, math.inf))
    nm, thres = _name(fwd.noise_management), float(fwd.nm_thres)
    scaling, constant = "abs_max", 1.0
    if nm == "NONE":
        scaling = "none"
    elif nm == "CONSTANT":
        scaling, constant = "constant", thres if thres > 0 else 1.0
    elif nm == "ABS_MAX":
        if thres > 0:
            refusals.add(
                "forward.nm_thres", thres, "ABS_MAX noise management capped at a threshold"
            )
    else:
        refusals.add("forward.noise_management", nm, "modelled: NONE, ABS_MAX, CONSTANT")
    bm = _name(fwd.bound_management)
    if bm not in ("NONE", "ITERATIVE"):
        refusals.add("forward.bound_management", bm, "modelled: NONE, ITERATIVE")
    out = dict(
        dac=DAC(
            bits=_bits("forward", "inp_res", fwd.inp_res, refusals),
            bound=_bound(fwd.inp_bound),
            scaling=scaling,
            constant=constant,
        ),
        adc=ADC(
            bits=_bits("forward", "out_res", fwd.out_res, refusals),
            bound=_bound(fwd.out_bound),
        ),
        out_noise=float(fwd.out_noise),
        bound_management="iterative" if bm == "ITERATIVE" else "none",
        max_bm_factor=int(fwd.max_bm_factor),
        max_bm_res=float(fwd.max_bm_res),
    )
    kind = _name(fwd.w_noise_type)
    if kind in ("ADDITIVE_CONSTANT", "PCM_READ") and float(fwd.w_noise) > 0:
        out["w_noise"] = float(fwd.w_noise)
        out["w_noise_type"] = "additive" if kind == "ADDITIVE_CONSTANT" else "pcm"
    elif kind not in ("NONE", "ADDITIVE_CONSTANT", "PCM_READ"):
        refusals.add("forward.w_noise_type", kind, "modelled: NONE, ADDITIVE_CONSTANT, PCM_READ")
    if float(fwd.ir_drop) > 0:
        out["ir_drop"] = IRDrop(
            method="aihwkit", scale=float(fwd.ir_drop), g_ratio=float(fwd.ir_drop_g_ratio)
        )
    return out


def _device(model, refusals: _Refusals):
    """Our device model for aihwkit's `noise_model`, and whether it needs the one-device
    affine mapping."""
    kind = type(model).__name__
    converter = getattr(model, "g_converter", None)
    conv = type(converter).__name__ if converter is not None else None
    scales = dict(
        prog_noise_scale=float(getattr(model, "prog_noise_scale", 1.0)),
        read_noise_scale=float(getattr(model, "read_noise_scale", 1.0)),
        drift_scale=float(getattr(model, "drift_scale", 1.0)),
    )
    if model is None:
        return devices.Ideal(), False
    if kind in ("PCMLikeNoiseModel", "HermesNoiseModel"):
        if conv != "SinglePairConductanceConverter":
            why = "modelled: SinglePairConductanceConverter"
            refusals.add("noise_model.g_converter", conv, why)
        g = dict(g_max=float(model.g_max), g_min=float(getattr(converter, "g_min", 0.0)))
        time = dict(t0=float(model.t_0), t_read=float(model.t_read))
        ref = float(getattr(model, "prog_coeff_g_max_reference", model.g_max))
        if kind == "HermesNoiseModel":
            fit = devices.PCM.hermes(int(model.num_devices))
            if not np.allclose(model.prog_coeff, fit.prog_sigma.coeffs, rtol=1e-7):
                refusals.add("noise_model.prog_coeff", model.prog_coeff, "not HERMES's fit")
            return devices.PCM.hermes(int(model.num_devices), **g, **time, **scales), False
        prog = {}
        if tuple(model.prog_coeff) != _PCM_PROG or ref != 25.0:
            prog = dict(
                prog_sigma=devices.Polynomial(tuple(float(c) for c in model.prog_coeff)),
                prog_g_max_ref=ref,
            )
        return devices.PCM(**g, **time, **scales, **prog), False
    if kind == "ReRamWan2022NoiseModel":
        if _differs(model.coeff_dic, type(model)().coeff_dic):
            refusals.add("noise_model.coeff_dic", "(custom)", "not Wan et al.'s fit")
        # aihwkit scales the fitted spread by g_max / coeff_g_max_reference, and that
        # reference is g_max itself unless given (factor 1); ours by g_max / 40, the fit's own
        # reference: the same spread in uS needs the ratio of the two in the noise scale
        ref = float(getattr(model, "coeff_g_max_reference", model.g_max))
        noise = float(model.noise_scale) * 40.0 / ref
        return devices.RRAMWan2022(g_max=float(model.g_max), noise_scale=noise), False
    if kind == "ReRamCMONoiseModel":
        fresh = type(model)()
        for name in ("coeff_dict", "decay_dict", "read_dict"):
            if _differs(getattr(model, name), getattr(fresh, name)):
                refusals.add(f"noise_model.{name}", "(custom)", "not Falcone et al.'s fit")
        device = devices.RRAMCMO(
            g_min=float(model.g_min),
            g_max=float(model.g_max),
            acceptance=float(model.acceptance_range),
            **scales,
        )
        return device, True
    refusals.add(
        "noise_model",
        kind,
        "modelled: None, PCMLikeNoiseModel, HermesNoiseModel, "
        "ReRamWan2022NoiseModel, ReRamCMONoiseModel",
    )
    return devices.Ideal(), False


def _mapping(cfg, offset: bool, refusals: _Refusals):
    """The mapping and tile size of `rpu_config.mapping` (and of `remap`)."""
    m = cfg.mapping
    refusals.unread("mapping", m, "MappingParameter")
    if not m.digital_bias:
        refusals.add("mapping.digital_bias", False, "the bias is digital here")
    omega = float(m.weight_scaling_omega)
    scaling = ("column" if m.weight_scaling_columnwise else "layer") if omega > 0 else "none"
    if omega not in (0.0, 1.0):
        refusals.add(
            "mapping.weight_scaling_omega",
            omega,
            "modelled: 0 (no remapping) and 1 (the largest |w| at g_max)",
        )
    if m.learn_out_scaling and omega == 0:
        refusals.add(
            "mapping.learn_out_scaling",
            True,
            "learned output scales over unscaled tile weights (modelled with omega = 1)",
        )
    remap = getattr(cfg, "remap", None)
    if remap is not None:
        refusals.unread("remap", remap, "WeightRemapParameter")
        kind = _name(remap.type)
        wanted = {"LAYERWISE_SYMMETRIC": "layer", "CHANNELWISE_SYMMETRIC": "column"}
        if kind in wanted:
            # our mapping derives the scale from the weights at every forward pass: the remap
            # after every step, exactly
            if float(remap.remapped_wmax) != 1.0 or (omega > 0 and wanted[kind] != scaling):
                refusals.add("remap", f"{kind}, wmax {remap.remapped_wmax}", "against mapping")
            scaling = wanted[kind]
        elif kind != "NONE":
            refusals.add("remap.type", kind, "modelled: NONE, LAYERWISE/CHANNELWISE_SYMMETRIC")
    size = {k: int(getattr(m, f"max_{k}_size")) for k in ("input", "output")}
    rows, cols = (size[k] if size[k] > 0 else UNLIMITED for k in ("input", "output"))
    mapping = Offset(scaling=scaling) if offset else Differential(scaling=scaling)
    return dict(mapping=mapping, rows=rows, cols=cols)


def _drift(comp, refusals: _Refusals) -> dict:
    kind = type(comp).__name__ if comp is not None else None
    if kind is None:
        return dict(drift_compensation="none")
    if kind == "GlobalDriftCompensation":
        return dict(drift_compensation="global", drift_reference="one_hot")
    if kind == "PerColumnDriftCompensation":
        return dict(drift_compensation="column", drift_reference="one_hot")
    refusals.add(
        "drift_compensation",
        kind,
        "modelled: None, GlobalDriftCompensation, PerColumnDriftCompensation",
    )
    return dict(drift_compensation="none")


def _training(cfg, refusals: _Refusals) -> None:
    """aihwkit's hardware-aware-training parts, each refused as a whole where it is on: weight
    clipping, the weight modifier, the learned input range and other pre/post-processing."""
    clip = getattr(cfg, "clip", None)
    if clip is not None and _name(clip.type) != "NONE":
        value = f"{_name(clip.type)} (fixed_value {clip.fixed_value}, sigma {clip.sigma})"
        refusals.add("clip", value, "weight clipping while training in aihwkit")
    modifier = getattr(cfg, "modifier", None)
    if modifier is not None and _name(modifier.type) not in ("NONE", "COPY"):
        value = f"{_name(modifier.type)} (std_dev {modifier.std_dev}, res {modifier.res})"
        refusals.add("modifier", value, "aihwkit's weight noise while training")
    pre_post = getattr(cfg, "pre_post", None)
    if pre_post is None:
        return
    ir = getattr(pre_post, "input_range", None)
    if ir is not None and ir.enable:
        value = f"enable, init_value {ir.init_value}, learn_input_range {ir.learn_input_range}"
        refusals.add(
            "pre_post.input_range",
            value,
            "a learned input range; a trained range r is DAC(scaling='constant', constant=r)",
        )
    default = _default_of(pre_post, "PrePostProcessingParameter")
    for f in dataclasses.fields(pre_post):
        if f.name != "input_range" and f.init and default is not None:
            if _differs(getattr(pre_post, f.name), getattr(default, f.name, None)):
                refusals.add(f"pre_post.{f.name}", getattr(pre_post, f.name), "not modelled")


def _others(cfg, refusals: _Refusals) -> None:
    """Any other part of the configuration (`act_quant_config` of the quantised tile, or one
    of a later aihwkit) that is set."""
    default = _default_of(cfg, "InferenceRPUConfig")
    for f in dataclasses.fields(cfg):
        if f.name in _PARTS or not f.init:
            continue
        value = getattr(cfg, f.name)
        if hasattr(default, f.name):
            if _differs(value, getattr(default, f.name)):
                refusals.add(f.name, value, "not modelled")
        elif value not in (None, False, 0):
            refusals.add(f.name, value, "not modelled")


def tile_from_aihwkit(rpu_config, *, ignore=()):
    """See `Tile.from_aihwkit`."""
    from ._tile import Tile

    names = [cls.__name__ for cls in type(rpu_config).__mro__]
    if "InferenceRPUConfig" not in names:
        raise ValueError(
            f"Tile.from_aihwkit: `rpu_config` must be an aihwkit InferenceRPUConfig or "
            f"TorchInferenceRPUConfig (or a preset derived from them); got "
            f"{type(rpu_config).__name__}. Configurations of pulsed-device training "
            f"(SingleRPUConfig, UnitCellRPUConfig, ...) are not translated."
        )
    if isinstance(ignore, str) or not all(isinstance(name, str) for name in ignore):
        raise ValueError(
            f"Tile.from_aihwkit: `ignore` must be a tuple of field names such as "
            f"('clip', 'pre_post.input_range'); got {ignore!r}."
        )
    refusals = _Refusals()
    if "TorchInferenceRPUConfigIRDropT" in names:
        refusals.add("forward", type(rpu_config.forward).__name__, "time-dependent IR drop")
    _training(rpu_config, refusals)
    _others(rpu_config, refusals)
    device, offset = _device(rpu_config.noise_model, refusals)
    fields = dict(device=device)
    fields |= _periphery(rpu_config.forward, refusals)
    fields |= _mapping(rpu_config, offset, refusals)
    fields |= _drift(rpu_config.drift_compensation, refusals)
    known = {field for field, _, _ in refusals.items}
    unknown = [name for name in ignore if not any(_under(f, name) for f in known)]
    if unknown:
        raise ValueError(
            f"Tile.from_aihwkit: `ignore` names {unknown!r}, which this configuration does "
            f"not need dropped; what it cannot translate: {sorted(known) or 'nothing'}."
        )
    left = [item for item in refusals.items if not any(_under(item[0], n) for n in ignore)]
    if left:
        lines = "; ".join(f"{field} = {value} ({why})" for field, value, why in left)
        drop = tuple(sorted({field for field, _, _ in left}))
        raise ValueError(
            f"Tile.from_aihwkit: {type(rpu_config).__name__} sets what crossbar-jax does not "
            f"model: {lines}. Pass ignore={drop!r} to translate the rest without them."
        )
    return Tile(**fields)


def _under(field: str, name: str) -> bool:
    """Whether the dotted `field` is `name` or lies under it."""
    return field == name or field.startswith(name + ".")
