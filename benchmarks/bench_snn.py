"""One training step of the demo's SNN on crossbars, against plain JAX and snnTorch + aihwkit.

The 64-128-10 LIF network of `make demo` (rate-coded digits, T = 8, batch 64):

- ours: one hardware-aware step (a fresh PCM chip per step: programming, drift to a drawn
  time, read noise, drift compensation; 8-bit DAC and ADC, output noise), jitted;
- the same SNN with plain dense layers (`eqx.nn.Linear`), same LIF and Adam, jitted:
  ratio ours / plain (target <= 1.5);
- when snnTorch and aihwkit are importable: the same network from snnTorch `Leaky` and aihwkit
  `AnalogLinear` (`InferenceRPUConfig`, or its pure-PyTorch `TorchInferenceRPUConfig` where
  the C++ tile does not run) with PCM noise, the same step: ratio theirs / ours (we aim at
  >= 10).

Ratios measured side by side in one run; nothing is asserted.

    python benchmarks/bench_snn.py [--batch 64] [--steps 8] [--repeats 10]
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from _timing import best_of

import crossbar
from crossbar._demo import build_snn


class PlainSNN(eqx.Module):
    l1: eqx.nn.Linear
    lif: crossbar.LIF
    l2: eqx.nn.Linear
    steps: int = eqx.field(static=True)

    def __call__(self, x, *, key):
        seq = crossbar.rate_encode(x, self.steps, key=key)

        def step(u, x_t):
            s, u = self.lif(self.l1(x_t), u)
            return u, self.l2(s)

        return jax.lax.scan(step, jnp.zeros(self.l1.out_features), seq)[1].mean(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    b, steps = args.batch, args.steps
    data = crossbar.data.digits()
    x, y = jnp.asarray(data.x_train[:b]), jnp.asarray(data.y_train[:b])
    opt = optax.adam(2e-3)

    model = build_snn({"steps": steps}, 64, 10, key=jr.PRNGKey(0))
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    step = crossbar._train._train_step
    t_ours = best_of(lambda: step(model, state, x, y, jr.PRNGKey(1), opt, True, None), args.repeats)

    k1, k2 = jr.split(jr.PRNGKey(2))
    plain = PlainSNN(
        eqx.nn.Linear(64, 128, key=k1),
        crossbar.LIF(beta=0.9),
        eqx.nn.Linear(128, 10, key=k2),
        steps,
    )
    p_state = opt.init(eqx.filter(plain, eqx.is_inexact_array))

    @eqx.filter_jit
    def plain_step(model, state, x, y, key):
        def loss_fn(m):
            logits = jax.vmap(lambda x, k: m(x, key=k))(x, jr.split(key, x.shape[0]))
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        grads = eqx.filter_grad(loss_fn)(model)
        updates, state = opt.update(grads, state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), state

    t_plain = best_of(lambda: plain_step(plain, p_state, x, y, jr.PRNGKey(3)), args.repeats)
    print(
        f"jax {jax.__version__} on {jax.devices()[0].device_kind}: 64-128-10 LIF SNN, T={steps}, "
        f"batch {b}, one Adam step"
    )
    print(f"  ours, hardware-aware (fresh PCM chip per step)  {t_ours * 1e3:8.2f} ms")
    print(f"  plain dense SNN in JAX                          {t_plain * 1e3:8.2f} ms")
    print(f"  ours / plain = {t_ours / t_plain:5.2f}   (target <= 1.5)")
    t_digital = best_of(
        lambda: step(model, state, x, y, jr.PRNGKey(1), opt, False, None), args.repeats
    )
    print(
        f"  ours, plain training (crossbar.as_digital)      {t_digital * 1e3:8.2f} ms"
        f"   (/ plain = {t_digital / t_plain:.2f})"
    )

    try:
        import snntorch
        import torch
        from aihwkit.inference.noise.pcm import PCMLikeNoiseModel
        from aihwkit.nn import AnalogLinear
        from aihwkit.optim import AnalogAdam
        from aihwkit.simulator import configs
    except ImportError as e:
        print(f"  snnTorch + aihwkit: not compared ({e})")
        return

    def rpu(cls):
        cfg = cls()
        cfg.forward.inp_res, cfg.forward.out_res = 1 / 254, 1 / 254
        cfg.forward.out_bound, cfg.forward.out_noise = 10.0, 0.04
        cfg.noise_model = PCMLikeNoiseModel(g_max=25.0)
        cfg.mapping.weight_scaling_omega = 1.0
        return cfg

    for cls in (configs.InferenceRPUConfig, configs.TorchInferenceRPUConfig):
        try:
            cfg = rpu(cls)
            l1, l2 = AnalogLinear(64, 128, rpu_config=cfg), AnalogLinear(128, 10, rpu_config=cfg)
            leaky = snntorch.Leaky(beta=0.9)
            params = list(l1.parameters()) + list(l2.parameters())
            optim = AnalogAdam(params, lr=2e-3)
            xt, yt = torch.from_numpy(np.asarray(x)), torch.from_numpy(np.asarray(y)).long()

            def torch_step():
                optim.zero_grad()
                mem = leaky.init_leaky()
                out = 0
                for _ in range(steps):
                    spk, mem = leaky(l1(torch.bernoulli(xt)), mem)
                    out = out + l2(spk)
                loss = torch.nn.functional.cross_entropy(out / steps, yt)
                loss.backward()
                optim.step()
                return loss

            torch_step()
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                torch_step()
                times.append(time.perf_counter() - start)
            t_theirs = float(np.min(times))
            print(
                f"  snnTorch {snntorch.__version__} + aihwkit {cls.__name__} (torch "
                f"{torch.__version__}, {torch.get_num_threads()} threads)  {t_theirs * 1e3:8.2f} ms"
            )
            print(f"  theirs / ours = {t_theirs / t_ours:5.2f}   (we aim at >= 10)")
            return
        except Exception as e:  # the C++ tile is built for one torch version
            print(
                f"  aihwkit {cls.__name__}: does not run here ({type(e).__name__}: {str(e)[:60]})"
            )


if __name__ == "__main__":
    main()
