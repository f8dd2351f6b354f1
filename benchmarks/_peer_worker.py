"""The PyTorch side of `bench_peers.py`: one contender per process, timed on request.

Run by `bench_peers.py` with the Python of a venv that has the peers (it needs neither JAX
nor this project). It reads one JSON command per line on stdin and answers one JSON line:

- `{"cmd": "setup", "id": ..., "case": {...}}`: builds the contender (compiles nothing, runs
  it twice to warm up); answers `{"ok": true, "info": ...}` or `{"ok": false, "error": ...}`;
- `{"cmd": "time", "id": ..., "reps": k}`: `k` timed calls, answers `{"times": [...]}`;
- `{"cmd": "quit"}`.

Cases (`kind`): `train` (one AnalogLinear n x n, batch b, forward + backward + Adam),
`infer` (forward of a programmed layer read at 1 h), `snn` (the demo's 64-128-10 LIF
network, T steps, one Adam step). Contenders (`peer`): `torch` (plain `nn.Linear`),
`lightning` (AIHWKIT-Lightning `AnalogLinear`, `TorchInferenceRPUConfig`), `aihwkit_torch`
(aihwkit's `TorchInferenceRPUConfig`), `aihwkit_cpp` (aihwkit's `InferenceRPUConfig`, the C++
tile); `snn` adds snnTorch's `Leaky` to the last three. A case's `device` (default `cpu`)
puts the contender on that torch device (`cuda`: timed calls end with a synchronisation), and
on CUDA `lightning_triton` is Lightning with its Triton kernels (`AIHWKIT_USE_TRITON=1`).
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)
# Replies go to the real stdout; whatever the libraries print goes to stderr.
_REPLIES, sys.stdout = sys.stdout, sys.stderr

SETTINGS = dict(inp_bits=8, out_bits=8, out_bound=10.0, out_noise=0.04, w_noise=0.02)


def _aihwkit_config(cls_name: str, pcm_inference: bool):
    from aihwkit.inference.compensation.drift import GlobalDriftCompensation
    from aihwkit.inference.noise.pcm import PCMLikeNoiseModel
    from aihwkit.simulator import configs
    from aihwkit.simulator.parameters.enums import (
        BoundManagementType,
        NoiseManagementType,
        WeightNoiseType,
    )

    cfg = getattr(configs, cls_name)()
    f = cfg.forward
    f.inp_res = 1 / (2 ** SETTINGS["inp_bits"] - 2)
    f.out_res = 1 / (2 ** SETTINGS["out_bits"] - 2)
    f.out_bound, f.out_noise = SETTINGS["out_bound"], SETTINGS["out_noise"]
    f.w_noise, f.w_noise_type = SETTINGS["w_noise"], WeightNoiseType.ADDITIVE_CONSTANT
    f.noise_management = NoiseManagementType.ABS_MAX
    f.bound_management = BoundManagementType.NONE
    f.ir_drop = 0.0
    cfg.mapping.weight_scaling_omega = 1.0
    cfg.mapping.max_input_size = cfg.mapping.max_output_size = 512
    cfg.noise_model = PCMLikeNoiseModel(g_max=25.0)
    cfg.drift_compensation = GlobalDriftCompensation()
    if pcm_inference:
        f.w_noise, f.w_noise_type = 0.0, WeightNoiseType.NONE
    elif cls_name == "TorchInferenceRPUConfig":  # no output-referred weight noise there
        from aihwkit.simulator.parameters.enums import WeightModifierType

        f.w_noise, f.w_noise_type = 0.0, WeightNoiseType.NONE
        cfg.modifier.type = WeightModifierType.ADD_NORMAL
        cfg.modifier.std_dev = SETTINGS["w_noise"]
    return cfg


def _lightning_config():
    from aihwkit_lightning.simulator.configs import (
        TorchInferenceRPUConfig,
        WeightModifierType,
        WeightNoiseInjectionType,
    )

    cfg = TorchInferenceRPUConfig()
    cfg.forward.inp_res = 2 ** SETTINGS["inp_bits"] - 2
    cfg.forward.out_res = 2 ** SETTINGS["out_bits"] - 2
    cfg.forward.out_bound, cfg.forward.out_noise = SETTINGS["out_bound"], SETTINGS["out_noise"]
    cfg.modifier.type = WeightModifierType.ADD_NORMAL
    cfg.modifier.noise_type = WeightNoiseInjectionType.ADD_NORMAL
    cfg.modifier.std_dev = SETTINGS["w_noise"]
    cfg.pre_post.input_range.enable = True
    cfg.pre_post.input_range.dynamic = True  # abs-max per input vector, as our DAC
    cfg.mapping.max_input_size = 512
    return cfg


def _linear(peer: str, n_in: int, n_out: int, pcm_inference: bool = False):
    if peer == "torch":
        return torch.nn.Linear(n_in, n_out)
    if peer in ("lightning", "lightning_triton"):
        from aihwkit_lightning.nn import AnalogLinear

        return AnalogLinear(n_in, n_out, rpu_config=_lightning_config())
    from aihwkit.nn import AnalogLinear

    cls = "InferenceRPUConfig" if peer == "aihwkit_cpp" else "TorchInferenceRPUConfig"
    return AnalogLinear(n_in, n_out, rpu_config=_aihwkit_config(cls, pcm_inference))


def _optimizer(peer, params):
    if peer.startswith("aihwkit"):
        from aihwkit.optim import AnalogAdam

        return AnalogAdam(params, lr=1e-3)
    return torch.optim.Adam(params, lr=1e-3)


def build(case: dict):
    dev = torch.device(case.get("device", "cpu"))
    triton = case["peer"] == "lightning_triton"
    if triton and dev.type != "cuda":
        raise ValueError("lightning_triton runs on CUDA only")
    fn, info = _build(case, dev)

    # Lightning reads AIHWKIT_USE_TRITON on every forward, and one worker holds several
    # contenders, so each call sets it for its own contender.
    def call():
        if triton:
            os.environ["AIHWKIT_USE_TRITON"] = "1"
        else:
            os.environ.pop("AIHWKIT_USE_TRITON", None)
        out = fn()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return out

    if dev.type == "cuda":
        info = f"{info}, {torch.cuda.get_device_name(dev)}"
    return call, info


def _build(case: dict, dev: torch.device):
    kind, peer = case["kind"], case["peer"]
    if kind == "train":
        n, b = case["n"], case["batch"]
        layer = _linear(peer, n, n).to(dev)
        layer.train()
        opt = _optimizer(peer, layer.parameters())
        x, y = torch.randn(b, n, device=dev), torch.randint(0, n, (b,), device=dev)

        def step():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(layer(x), y)
            loss.backward()
            opt.step()
            return loss

        return step, f"torch {torch.__version__}"
    if kind == "infer":
        n, b = case["n"], case["batch"]
        layer = _linear(peer, n, n, pcm_inference=True).to(dev)
        layer.eval()
        if peer.startswith("aihwkit"):
            layer.program_analog_weights()
            layer.drift_analog_weights(3600.0)
        x = torch.randn(b, n, device=dev)

        def forward():
            with torch.no_grad():
                return layer(x)

        return forward, f"torch {torch.__version__}"
    if kind == "snn":
        import snntorch

        b, steps = case["batch"], case["steps"]
        l1, l2 = _linear(peer, 64, 128).to(dev), _linear(peer, 128, 10).to(dev)
        leaky = snntorch.Leaky(beta=0.9)
        opt = _optimizer(peer, list(l1.parameters()) + list(l2.parameters()))
        x = torch.rand(b, 64, device=dev)
        y = torch.randint(0, 10, (b,), device=dev)

        def step():
            opt.zero_grad()
            mem = leaky.init_leaky()
            out = 0
            for _ in range(steps):
                spk, mem = leaky(l1(torch.bernoulli(x)), mem)
                out = out + l2(spk)
            loss = torch.nn.functional.cross_entropy(out / steps, y)
            loss.backward()
            opt.step()
            return loss

        return step, f"snnTorch {snntorch.__version__}, torch {torch.__version__}"
    raise ValueError(f"unknown case kind {kind!r}")


def main():
    contenders = {}
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "quit":
            break
        try:
            if msg["cmd"] == "setup":
                fn, info = build(msg["case"])
                fn()
                fn()
                contenders[msg["id"]] = fn
                reply = {"ok": True, "info": info}
            else:
                fn = contenders[msg["id"]]
                times = []
                for _ in range(msg["reps"]):
                    start = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - start)
                reply = {"ok": True, "times": times}
        except Exception as e:  # reported to the orchestrator, which skips the contender
            reply = {"ok": False, "error": f"{type(e).__name__}: {str(e)[:200]}"}
        print(json.dumps(reply), file=_REPLIES, flush=True)


if __name__ == "__main__":
    main()
