"""`Tile.from_aihwkit`: aihwkit's inference configurations translated, run side by side.

Runs where aihwkit imports (its pure-PyTorch `TorchInferenceRPUConfig` tile works with any
torch; the C++ tile of `InferenceRPUConfig` only with the torch it was built for). To run:
`pip install torch==2.13.0 && pip install --no-deps aihwkit==1.1.0 scipy tqdm requests protobuf`.
"""

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import agree_but_for_ties

import crossbar
import devices


@pytest.fixture(scope="module")
def aihwkit():
    torch = pytest.importorskip("torch")
    configs = pytest.importorskip("aihwkit.simulator.configs")
    enums = pytest.importorskip("aihwkit.simulator.parameters.enums")
    nn = pytest.importorskip("aihwkit.nn")
    presets = pytest.importorskip("aihwkit.simulator.presets")
    return torch, configs, enums, nn, presets


def noiseless(configs, enums, *, res_in, res_out, bound, bm, nm, omega, columnwise):
    """The equivalence tests' settings, as an aihwkit user writes them."""
    cfg = configs.TorchInferenceRPUConfig()
    f = cfg.forward
    f.inp_res, f.out_res, f.out_bound = res_in, res_out, bound
    f.out_noise = 0.0
    f.noise_management = getattr(enums.NoiseManagementType, nm)
    f.nm_thres = 2.0 if nm == "CONSTANT" else 0.0
    f.bound_management = getattr(enums.BoundManagementType, bm)
    cfg.mapping.weight_scaling_omega = omega
    cfg.mapping.weight_scaling_columnwise = columnwise
    cfg.mapping.max_input_size = cfg.mapping.max_output_size = 0
    cfg.drift_compensation = None
    return cfg


CASES = [
    # (DAC resolution, ADC resolution, output bound, bound management, noise management,
    #  omega, columnwise, input scale)
    (1 / (2**7 - 2), 1 / (2**9 - 2), 12.0, "NONE", "ABS_MAX", 1.0, False, 1.0),  # defaults
    (254.0, 254.0, 10.0, "NONE", "ABS_MAX", 1.0, True, 1.0),  # steps, as the HWA preset
    (1 / (2**6 - 2), 1 / (2**6 - 2), 1.0, "ITERATIVE", "ABS_MAX", 1.0, False, 1.0),
    (1 / (2**8 - 2), 1 / (2**8 - 2), 3.0, "ITERATIVE", "ABS_MAX", 1.0, False, 3.0),
    (1 / (2**8 - 2), 1 / (2**8 - 2), 10.0, "NONE", "CONSTANT", 1.0, False, 1.0),
    (1 / (2**8 - 2), 1 / (2**8 - 2), 12.0, "NONE", "NONE", 0.0, False, 0.5),  # no remapping
]


@pytest.mark.parametrize("res_in, res_out, bound, bm, nm, omega, columnwise, x_scale", CASES)
def test_translated_tile_gives_aihwkits_outputs(
    aihwkit, res_in, res_out, bound, bm, nm, omega, columnwise, x_scale
):
    torch, configs, enums, nn, _ = aihwkit
    cfg = noiseless(
        configs, enums, res_in=res_in, res_out=res_out, bound=bound, bm=bm, nm=nm,
        omega=omega, columnwise=columnwise,
    )  # fmt: skip
    # aihwkit's noise model acts only when a chip is programmed (`program_analog_weights`):
    # before that its forward reads the weights as set, as our ideal device does
    tile = dataclasses.replace(crossbar.Tile.from_aihwkit(cfg), device=devices.Ideal())
    rng = np.random.default_rng(7)
    W = (rng.normal(size=(48, 96)) * 0.1).astype(np.float32)
    b = (rng.normal(size=48) * 0.1).astype(np.float32)
    X = (rng.normal(size=(200, 96)) * x_scale).astype(np.float32)

    layer = nn.AnalogLinear(96, 48, bias=True, rpu_config=cfg)
    layer.set_weights(torch.from_numpy(W), torch.from_numpy(b))
    layer.eval()
    with torch.no_grad():
        if bm == "NONE":
            theirs = layer(torch.from_numpy(X)).numpy()
        else:
            # aihwkit's torch tile repeats a whole batch while any of its outputs clips (its
            # C++ tile, and ours, each example on its own): one example per call is where the
            # two agree
            theirs = np.concatenate([layer(torch.from_numpy(x[None])).numpy() for x in X])

    ours_layer = crossbar.AnalogLinear(96, 48, tile=tile, key=jax.random.PRNGKey(0))
    ours_layer = eqx.tree_at(lambda m: (m.weight, m.bias), ours_layer, (jnp.asarray(W), b))
    ours = np.asarray(jax.vmap(ours_layer)(jnp.asarray(X)))

    # one ADC step in output units, per example and output, times the largest reduction
    res_out = 1 / res_out if res_out > 1 else res_out
    w_max = np.abs(W).max(axis=1 if columnwise else None) if omega > 0 else 1.0
    x_max = np.abs(X).max(axis=1, keepdims=True) if nm == "ABS_MAX" else (2.0 if nm else 1)
    step = 2 * bound * res_out * x_max * w_max
    d = np.abs(ours - theirs)
    k = np.clip(np.round(np.log2(np.maximum(d / step, 1e-12))), 0, 6)
    flips = agree_but_for_ties(ours, theirs, step * 2.0**k, max_fraction=2e-3)
    print(f"max |ours - aihwkit| = {d.max():.3g}; a tie apart: {flips} of {d.size}")


def test_default_configs_translate_field_by_field(aihwkit):
    _, configs, _, _, _ = aihwkit
    for cfg in (configs.InferenceRPUConfig(), configs.TorchInferenceRPUConfig()):
        tile = crossbar.Tile.from_aihwkit(cfg)
        assert (tile.dac.bits, tile.dac.bound, tile.dac.scaling) == (7, 1.0, "abs_max")
        assert (tile.adc.bits, tile.adc.bound) == (9, 12.0)
        assert tile.out_noise == 0.06 and tile.w_noise == 0.0
        assert (tile.bound_management, tile.max_bm_factor, tile.max_bm_res) == (
            "iterative",
            1000,
            0.25,
        )
        assert tile.mapping == crossbar.Differential(scaling="none")  # omega 0 by default
        assert (tile.rows, tile.cols) == (512, 512)
        assert (tile.drift_compensation, tile.drift_reference) == ("global", "one_hot")
        assert tile.ir_drop is None
        # aihwkit's PCMLikeNoiseModel with its defaults is our PCM with its defaults
        assert tile.device == devices.PCM()


def test_noise_models_and_compensation_translate(aihwkit):
    _, configs, _, _, _ = aihwkit
    from aihwkit.inference.compensation.drift import (
        GlobalDriftCompensation,
        PerColumnDriftCompensation,
    )
    from aihwkit.inference.noise.hermes import HermesNoiseModel
    from aihwkit.inference.noise.pcm import PCMLikeNoiseModel
    from aihwkit.inference.noise.reram import ReRamCMONoiseModel, ReRamWan2022NoiseModel

    cfg = configs.InferenceRPUConfig()
    cfg.noise_model = PCMLikeNoiseModel(
        g_max=20.0, t_0=10.0, prog_noise_scale=0.5, read_noise_scale=2.0, drift_scale=0.7
    )
    cfg.drift_compensation = PerColumnDriftCompensation()
    tile = crossbar.Tile.from_aihwkit(cfg)
    assert tile.device == devices.PCM(
        g_max=20.0, t0=10.0, prog_noise_scale=0.5, read_noise_scale=2.0, drift_scale=0.7
    )
    assert tile.drift_compensation == "column"
    cfg.noise_model = PCMLikeNoiseModel(prog_coeff=[0.1, 1.0, -0.5], g_max=25.0)
    cfg.drift_compensation = GlobalDriftCompensation()
    assert crossbar.Tile.from_aihwkit(cfg).device.prog_sigma == devices.Polynomial((0.1, 1, -0.5))
    for n in (1, 2):
        cfg.noise_model = HermesNoiseModel(num_devices=n)
        assert crossbar.Tile.from_aihwkit(cfg).device == devices.PCM.hermes(n)
    # aihwkit's Wan fit keeps its spread in uS at any g_max (its reference is g_max itself);
    # ours scales it by g_max / 40: the same spread at aihwkit's default g_max of 25 uS
    cfg.noise_model = ReRamWan2022NoiseModel(noise_scale=0.5)
    assert crossbar.Tile.from_aihwkit(cfg).device == devices.RRAMWan2022(
        g_max=25.0, noise_scale=0.5 * 40 / 25
    )
    cfg.noise_model = ReRamWan2022NoiseModel(g_max=40.0)
    assert crossbar.Tile.from_aihwkit(cfg).device == devices.RRAMWan2022()
    cfg.noise_model = ReRamCMONoiseModel(acceptance_range=2)
    tile = crossbar.Tile.from_aihwkit(cfg)
    g_max = float(cfg.noise_model.g_max)  # aihwkit holds 88.2 uS as 88.199997
    assert abs(g_max - 88.2) < 1e-5
    assert tile.device == devices.RRAMCMO(g_max=g_max, acceptance=2.0)
    assert isinstance(tile.mapping, crossbar.Offset)  # one device per weight, affine


def test_ir_drop_weight_noise_and_sizes_translate(aihwkit):
    _, configs, enums, _, _ = aihwkit
    cfg = configs.InferenceRPUConfig()
    cfg.forward.ir_drop, cfg.forward.ir_drop_g_ratio = 1.5, 4e5
    cfg.forward.w_noise, cfg.forward.w_noise_type = 0.0175, enums.WeightNoiseType.PCM_READ
    cfg.forward.out_bound, cfg.forward.out_res = 0.0, 0.0  # no bound, no quantisation
    cfg.mapping.max_input_size, cfg.mapping.max_output_size = 256, 0
    tile = crossbar.Tile.from_aihwkit(cfg)
    assert tile.ir_drop == crossbar.IRDrop(method="aihwkit", scale=1.5, g_ratio=4e5)
    assert (tile.w_noise, tile.w_noise_type) == (0.0175, "pcm")
    assert tile.adc.bits is None and math.isinf(tile.adc.bound)
    assert tile.rows == 256 and tile.cols >= 2**31 - 1
    cfg.forward.w_noise_type = enums.WeightNoiseType.ADDITIVE_CONSTANT
    assert crossbar.Tile.from_aihwkit(cfg).w_noise_type == "additive"


def test_what_is_not_modelled_is_refused_by_name(aihwkit):
    _, configs, enums, _, _ = aihwkit
    cfg = configs.InferenceRPUConfig()
    cfg.forward.inp_noise = 0.01
    cfg.forward.out_nonlinearity = 0.1
    cfg.forward.inp_res = 1 / 100  # 100 steps: no number of bits
    cfg.forward.noise_management = enums.NoiseManagementType.AVERAGE_ABS_MAX
    cfg.mapping.weight_scaling_omega = 0.6
    with pytest.raises(ValueError) as e:
        crossbar.Tile.from_aihwkit(cfg)
    for name in (
        "forward.inp_noise = 0.01",
        "forward.out_nonlinearity = 0.1",
        "forward.inp_res = 0.01",
        "forward.noise_management = AVERAGE_ABS_MAX",
        "mapping.weight_scaling_omega = 0.6",
    ):
        assert name in str(e.value)
    # dropping some of them is explicit, and a name that needs no dropping is an error
    with pytest.raises(ValueError, match=r"`ignore` names \['clip'\]"):
        crossbar.Tile.from_aihwkit(cfg, ignore=("clip",))
    with pytest.raises(ValueError, match="forward.inp_res") as e:
        crossbar.Tile.from_aihwkit(cfg, ignore=("forward.inp_noise", "forward.out_nonlinearity"))
    assert "inp_noise" not in str(e.value)
    with pytest.raises(ValueError, match="InferenceRPUConfig"):
        crossbar.Tile.from_aihwkit(configs.SingleRPUConfig())


def test_every_preset_translates_or_names_what_it_needs_dropped(aihwkit):
    """aihwkit 1.1's presets: the two inference ones translate (the training preset once its
    training-only parts are dropped, each named); the pulsed-device ones are refused."""
    _, configs, _, _, presets = aihwkit
    fp = crossbar.Tile.from_aihwkit(presets.FloatingPointPreset())
    assert fp.dac.bits is None and fp.adc.bits is None and fp.out_noise == 0.0
    assert (fp.rows, fp.cols) == (2**31 - 1, 2**31 - 1)

    hwa = presets.StandardHWATrainingPreset()
    with pytest.raises(ValueError) as e:
        crossbar.Tile.from_aihwkit(hwa)
    assert "ignore=('clip', 'pre_post.input_range')" in str(e.value)
    tile = crossbar.Tile.from_aihwkit(hwa, ignore=("clip", "pre_post.input_range"))
    # Rasch et al. 2023: 8-bit converters (254 steps), bound 10, output noise 0.04, PCM read
    # noise 0.0175, IR drop 1, constant input scale 1, per-column weights, tiles of 512 rows
    assert (tile.dac.bits, tile.adc.bits, tile.adc.bound) == (8, 8, 10.0)
    assert (tile.dac.scaling, tile.dac.constant) == ("constant", 1.0)
    assert (tile.out_noise, tile.w_noise, tile.w_noise_type) == (0.04, 0.0175, "pcm")
    assert tile.ir_drop == crossbar.IRDrop(method="aihwkit", scale=1.0)  # aihwkit's g_ratio
    assert tile.mapping == crossbar.Differential(scaling="column")
    assert (tile.rows, tile.bound_management, tile.drift_compensation) == (512, "none", "global")
    assert tile.device == devices.PCM()

    translated, refused = [], []
    for name in sorted(dir(presets)):
        cls = getattr(presets, name)
        if not (isinstance(cls, type) and name.endswith("Preset")):
            continue
        if name in ("FloatingPointPreset", "StandardHWATrainingPreset"):
            translated.append(name)
            continue
        with pytest.raises(ValueError, match="must be an aihwkit InferenceRPUConfig"):
            crossbar.Tile.from_aihwkit(cls())
        refused.append(name)
    print(f"translated: {translated}; refused (pulsed-device training): {len(refused)}")
    assert len(refused) >= 20
