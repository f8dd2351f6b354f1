"""The noiseless forward pass against aihwkit's `InferenceRPUConfig` C++ tile.

Skipped where aihwkit is not installed or its C++ tile does not run with the installed torch
(aihwkit 1.1.0 needs torch 2.10). To run it:
`pip install torch==2.10.0 && pip install --no-deps aihwkit==1.1.0 scipy tqdm requests protobuf`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import agree_but_for_ties

import crossbar


def _aihwkit():
    torch = pytest.importorskip("torch")
    configs = pytest.importorskip("aihwkit.simulator.configs")
    enums = pytest.importorskip("aihwkit.simulator.parameters.enums")
    nn = pytest.importorskip("aihwkit.nn")
    try:
        nn.AnalogLinear(2, 2, rpu_config=configs.InferenceRPUConfig())(torch.ones(1, 2))
    except Exception as e:  # the C++ tile is built against one torch version
        pytest.skip(f"aihwkit's C++ tile does not run here: {e}")
    return torch, configs, enums, nn


def aihwkit_forward(W, b, X, *, n_in, n_out, bound, bm, columnwise=False):
    torch, configs, enums, nn = _aihwkit()
    cfg = configs.InferenceRPUConfig()
    f = cfg.forward
    f.inp_res, f.out_res = 1 / (2**n_in - 2), 1 / (2**n_out - 2)
    f.inp_bound, f.out_bound = 1.0, bound
    f.out_noise, f.w_noise, f.ir_drop = 0.0, 0.0, 0.0
    f.noise_management = enums.NoiseManagementType.ABS_MAX
    f.bound_management = (
        enums.BoundManagementType.ITERATIVE if bm == "iterative" else enums.BoundManagementType.NONE
    )
    cfg.mapping.weight_scaling_omega = 1.0  # tile weights in [-1, 1]: our tile units
    cfg.mapping.weight_scaling_columnwise = columnwise
    cfg.mapping.max_input_size = cfg.mapping.max_output_size = 0  # one tile
    cfg.drift_compensation = None
    layer = nn.AnalogLinear(W.shape[1], W.shape[0], bias=True, rpu_config=cfg)
    layer.set_weights(torch.from_numpy(W), torch.from_numpy(b))
    layer.eval()
    with torch.no_grad():
        return layer(torch.from_numpy(X)).numpy()


def ours_forward(W, b, X, *, n_in, n_out, bound, bm, columnwise=False):
    mapping = crossbar.Differential(scaling="column" if columnwise else "layer")
    tile = crossbar.Tile(
        mapping=mapping,
        dac=crossbar.DAC(bits=n_in),
        adc=crossbar.ADC(bits=n_out, bound=bound),
        bound_management=bm,
        rows=W.shape[1],
        cols=W.shape[0],
        drift_compensation="none",
    )
    layer = crossbar.AnalogLinear(W.shape[1], W.shape[0], tile=tile, key=jax.random.PRNGKey(0))
    layer = eqx.tree_at(lambda m: (m.weight, m.bias), layer, (jnp.asarray(W), jnp.asarray(b)))
    return np.asarray(eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(layer, jnp.asarray(X)))


CASES = [
    # (DAC bits, ADC bits, output bound, bound management, input scale, columnwise)
    (7, 9, 12.0, "none", 1.0, False),  # aihwkit's defaults
    (8, 8, 10.0, "none", 1.0, False),  # the HWA-training preset of Rasch et al. 2023
    (7, 9, 12.0, "iterative", 1.0, False),
    (6, 6, 1.0, "iterative", 1.0, False),  # bound management halving, DAC ties on half steps
    (8, 8, 3.0, "iterative", 3.0, False),
    (8, 8, 10.0, "none", 1.0, True),  # per-column weight scaling
]


@pytest.mark.parametrize("n_in, n_out, bound, bm, x_scale, columnwise", CASES)
def test_forward_equals_aihwkit(n_in, n_out, bound, bm, x_scale, columnwise):
    rng = np.random.default_rng(n_in * 100 + n_out)
    W = (rng.normal(size=(64, 128)) * 0.1).astype(np.float32)
    b = (rng.normal(size=64) * 0.1).astype(np.float32)
    X = (rng.normal(size=(256, 128)) * x_scale).astype(np.float32)
    kwargs = dict(n_in=n_in, n_out=n_out, bound=bound, bm=bm, columnwise=columnwise)
    theirs = aihwkit_forward(W, b, X, **kwargs)
    ours = ours_forward(W, b, X, **kwargs)
    # One ADC step in output units, per example and output (times the largest reduction).
    w_max = np.abs(W).max(axis=1 if columnwise else None)
    step = (2 * bound / (2**n_out - 2)) * np.abs(X).max(axis=1, keepdims=True) * w_max
    d = np.abs(ours - theirs)
    k = np.clip(np.round(np.log2(np.maximum(d / step, 1e-12))), 0, 6)
    flips = agree_but_for_ties(ours, theirs, step * 2.0**k, max_fraction=1e-3)
    print(f"max |ours - aihwkit| = {d.max():.3g}; outputs a tie apart: {flips} of {d.size}")
