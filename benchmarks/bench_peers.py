"""crossbar-jax against plain JAX, plain PyTorch, aihwkit and AIHWKIT-Lightning, side by side.

Every contender runs the same work with the same settings, one at a time, alternated in
rounds (the order rotates each round); each round times `--reps` calls of each contender
after a warm-up, and the table gives the median over rounds of each round's median, and the
ratios as the median over rounds of each round's ratio (so a slow minute of a shared machine
moves numerator and denominator together). Nothing is asserted.

Work (the settings of the speed issue; every peer optional):

- `train N`: one analog linear layer N x N, batch 128, 8-bit DAC with abs-max scaling, 8-bit
  ADC bound 10, output noise 0.04, additive weight noise 0.02, global drift compensation;
  forward + backward + Adam on a softmax cross-entropy over the N outputs. Ours is
  `crossbar.TrainStep` (what `crossbar.train` runs): a chip sampled per step, ideal devices,
  or `devices.PCM()` read at a time drawn from 1 s to 1 year for `train N pcm`.
- `infer N`: a PCM chip read at 1 h (ours and aihwkit: programming noise, drift, read noise,
  drift compensation; Lightning: its forward noise), batch 256, output noise 0.04. Ours is
  `crossbar.Predict(chip)` (the chip under `vmap`, one key per example).
- `snn`: the demo's 64-128-10 LIF network, rate-coded, T = 8, batch 64, one Adam step
  (ours: a fresh PCM chip per step; snnTorch's `Leaky` with the peers' layers).

Contenders: ours (`crossbar`), plain JAX (`x @ W.T + b`, the same loss and optax Adam),
and, through `_peer_worker.py` in the Python of a venv that has them: plain PyTorch,
AIHWKIT-Lightning 2.1 (`--torch-python`, a venv with torch 2.13 and
`pip install aihwkit-lightning snntorch`, plus `pip install --no-deps aihwkit==1.1.0 scipy
tqdm requests protobuf scikit-learn` for aihwkit's pure-PyTorch tile), and aihwkit 1.1's C++
tile (`--aihwkit-python`, a venv with `pip install torch==2.10.0`, then `pip install --no-deps
aihwkit==1.1.0 scipy tqdm requests protobuf scikit-learn snntorch`). PyTorch runs on 2
threads. Every process gets the same allocator settings (`crossbar.allocator`: freed
memory kept for reuse, which `import crossbar` sets for itself).

Settings that cannot be matched exactly are printed: aihwkit's pure-PyTorch tile has no
output-referred weight noise (its weight noise is the per-batch `modifier`, as Lightning's),
Lightning has no device model (its inference forward is its training forward, noise on).

    python benchmarks/bench_peers.py --torch-python /path/A/bin/python \\
        --aihwkit-python /path/B/bin/python [--rounds 9] [--reps 5] [--only train,infer,snn]
        [--torch-device cuda]

On a GPU, `--torch-device cuda` runs the PyTorch contenders there (each timed call ends with
`torch.cuda.synchronize`) and adds Lightning's Triton kernels (`lightning_triton`); JAX runs
on its default device; aihwkit's C++ tile stays on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

import crossbar
import devices
from crossbar import allocator

HERE = Path(__file__).resolve().parent
YEAR = 3.15e7


# ------------------------------------------------------------------ JAX contenders


def _tile(device, train_time=(1.0, 1.0), w_noise=0.02):
    return crossbar.Tile(
        device=device,
        dac=crossbar.DAC(bits=8),
        adc=crossbar.ADC(bits=8, bound=10.0),
        out_noise=0.04,
        w_noise=w_noise,
        train_time=train_time,
        drift_compensation="global",
    )


def _adam():
    return optax.adam(1e-3)


def _step_keys(count=512):
    """One key per step, sliced beforehand: slicing a key array on the host costs 0.5 ms a
    call, which is the harness's and not the step's (`crossbar.train` folds its keys in the
    jitted step)."""
    return list(jr.split(jr.PRNGKey(3), count))


def ours_train(n, batch, pcm=False):
    device = devices.PCM() if pcm else devices.Ideal()
    tile = _tile(device, (1.0, YEAR) if pcm else (1.0, 1.0))
    model = crossbar.AnalogLinear(n, n, tile=tile, key=jr.PRNGKey(0))
    return _ours_step(model, jr.normal(jr.PRNGKey(1), (batch, n)), n)


def _ours_step(model, x, n_classes):
    """`crossbar.TrainStep`: what `crossbar.train` runs (a fresh chip per step)."""
    y = jr.randint(jr.PRNGKey(2), (x.shape[0],), 0, n_classes)
    step = crossbar.TrainStep(model, optimizer=_adam())
    keys = _step_keys()
    box = [0]

    def run():
        box[0] = (box[0] + 1) % len(keys)
        return step(x, y, key=keys[box[0]])[0]

    return run


def jax_train(n, batch):
    k1, k2 = jr.split(jr.PRNGKey(0))
    lim = 1 / np.sqrt(n)
    params = (
        jr.uniform(k1, (n, n), minval=-lim, maxval=lim),
        jr.uniform(k2, (n,), minval=-lim, maxval=lim),
    )
    x = jr.normal(jr.PRNGKey(1), (batch, n))
    y = jr.randint(jr.PRNGKey(2), (batch,), 0, n)
    return _jax_step(params, lambda p, x: x @ p[0].T + p[1], x, y)


def _jax_step(params, apply, x, y, keyed=False):
    """A plain `jax.jit` Adam step on the same loss (softmax cross-entropy)."""
    opt = _adam()
    with jax.numpy_dtype_promotion("standard"):
        state = opt.init(eqx.filter(params, eqx.is_inexact_array))

    @eqx.filter_jit
    def step(params, state, key):
        def loss(p):
            if keyed:
                logits = jax.vmap(lambda x, k: apply(p, x, k))(x, jr.split(key, x.shape[0]))
            else:
                logits = apply(p, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        value, grads = eqx.filter_value_and_grad(loss)(params)
        with jax.numpy_dtype_promotion("standard"):
            updates, state = opt.update(grads, state, eqx.filter(params, eqx.is_inexact_array))
        return eqx.apply_updates(params, updates), state, value

    keys = _step_keys()
    box = [params, state, 0]

    def run():
        box[2] = (box[2] + 1) % len(keys)
        box[0], box[1], value = step(box[0], box[1], keys[box[2]])
        return value

    return run


def ours_infer(n, batch):
    tile = _tile(devices.PCM(), w_noise=0.0)
    layer = crossbar.AnalogLinear(n, n, tile=tile, key=jr.PRNGKey(0))
    chip = jax.jit(crossbar.at_time)(crossbar.program(layer, jr.PRNGKey(1)), 3600.0, jr.PRNGKey(2))
    x = jr.normal(jr.PRNGKey(3), (batch, n))
    predict = crossbar.Predict(chip)  # the chip under vmap, one key per example
    key = jr.PRNGKey(4)
    return lambda: predict(x, key=key)


def jax_infer(n, batch):
    w, b = jr.normal(jr.PRNGKey(0), (n, n)) / np.sqrt(n), jnp.zeros(n)
    x = jr.normal(jr.PRNGKey(3), (batch, n))
    f = jax.jit(lambda w, b, x: x @ w.T + b)
    return lambda: f(w, b, x)


def _digits(batch):
    data = crossbar.data.digits()
    return jnp.asarray(data.x_train[:batch]), jnp.asarray(data.y_train[:batch])


def ours_snn(batch, steps):
    k1, k2 = jr.split(jr.PRNGKey(0))
    tile = _tile(devices.PCM(), (1.0, YEAR), w_noise=0.0)
    net = crossbar.SpikingNetwork(
        [
            crossbar.AnalogLinear(64, 128, tile=tile, key=k1),
            crossbar.LIF(beta=0.9),
            crossbar.AnalogLinear(128, 10, tile=tile, key=k2),
        ],
        encoder=crossbar.Encoder("rate", steps),
    )
    x, _ = _digits(batch)
    return _ours_step(net, x, 10)


class PlainSNN(eqx.Module):
    """The same network with `eqx.nn.Linear` layers, our rate encoder and our LIF."""

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


def jax_snn(batch, steps):
    k1, k2 = jr.split(jr.PRNGKey(0))
    net = PlainSNN(
        eqx.nn.Linear(64, 128, key=k1),
        crossbar.LIF(beta=0.9),
        eqx.nn.Linear(128, 10, key=k2),
        steps,
    )
    x, y = _digits(batch)
    return _jax_step(net, lambda m, x, k: m(x, key=k), x, y, keyed=True)


# ------------------------------------------------------------------ PyTorch contenders


class Worker:
    """A `_peer_worker.py` process in another Python; its contenders are timed on request."""

    def __init__(self, python: str):
        # OpenMP threads that spin after their work would steal the next contender's cores
        env = dict(
            os.environ, **allocator.ENVIRONMENT, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="PASSIVE"
        )
        self.proc = subprocess.Popen(
            [python, str(HERE / "_peer_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.count = 0

    def ask(self, msg: dict) -> dict:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            return {"ok": False, "error": "the worker exited"}
        return json.loads(line)

    def contender(self, case: dict):
        self.count += 1
        cid = self.count
        reply = self.ask({"cmd": "setup", "id": cid, "case": case})
        if not reply["ok"]:
            return None, reply["error"]

        def timed(reps):
            reply = self.ask({"cmd": "time", "id": cid, "reps": reps})
            return reply["times"] if reply["ok"] else None

        return timed, reply["info"]

    def close(self):
        try:
            self.ask({"cmd": "quit"})
        except (BrokenPipeError, OSError):
            pass
        self.proc.wait(timeout=30)


def _jax_timed(fn):
    def timed(reps):
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(time.perf_counter() - start)
        return times

    return timed


# ------------------------------------------------------------------ the table


def cases(only: set[str]):
    out = []
    if "train" in only:
        for n in (512, 2048):
            out.append((f"train {n}", {"kind": "train", "n": n, "batch": 128}))
            out.append((f"train {n} pcm", {"kind": "train", "n": n, "batch": 128, "pcm": True}))
    if "infer" in only:
        for n in (512, 2048, 4096):
            out.append((f"infer {n}", {"kind": "infer", "n": n, "batch": 256}))
    if "snn" in only:
        out.append(("snn", {"kind": "snn", "batch": 64, "steps": 8}))
    return out


def jax_contenders(case: dict) -> dict:
    kind = case["kind"]
    if kind == "train":
        ours = ours_train(case["n"], case["batch"], case.get("pcm", False))
        return (
            {"ours": ours}
            if case.get("pcm")
            else {"ours": ours, "jax": jax_train(case["n"], case["batch"])}
        )
    if kind == "infer":
        return {
            "ours": ours_infer(case["n"], case["batch"]),
            "jax": jax_infer(case["n"], case["batch"]),
        }
    return {
        "ours": ours_snn(case["batch"], case["steps"]),
        "jax": jax_snn(case["batch"], case["steps"]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--torch-python", help="a Python with torch 2.13, aihwkit-lightning, snntorch"
    )
    parser.add_argument("--aihwkit-python", help="a Python with torch 2.10 and aihwkit 1.1")
    parser.add_argument(
        "--torch-device",
        default="cpu",
        choices=("cpu", "cuda"),
        help="where the --torch-python contenders run (cuda adds Lightning's Triton kernels)",
    )
    parser.add_argument("--only", default="train,infer,snn")
    parser.add_argument("--json", help="also write the medians to this file")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.reps < 1:
        parser.error("--rounds and --reps must be >= 1")
    only = set(args.only.split(","))
    if not only <= {"train", "infer", "snn"}:
        parser.error(f"--only takes train, infer, snn; got {args.only!r}")

    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}; jax {jax.__version__} on {jax.devices()[0].device_kind}; "
        f"allocator keeps freed memory: {allocator.tune()}; {time.strftime('%Y-%m-%d %H:%M')}"
    )
    workers = {}
    for name, python in (("torch", args.torch_python), ("aihwkit", args.aihwkit_python)):
        if python:
            workers[name] = Worker(python)
    if "torch" not in workers:
        print(
            "  PyTorch, Lightning, aihwkit's torch tile, snnTorch: not compared (pass "
            "--torch-python; see the docstring for the venv)"
        )
    if "aihwkit" not in workers:
        print("  aihwkit's C++ tile: not compared (pass --aihwkit-python; see the docstring)")

    table = []  # (case name, {contender: timed})
    for name, case in cases(only):
        contenders = {k: _jax_timed(f) for k, f in jax_contenders(case).items()}
        peers = []
        if case["kind"] in ("train", "infer") and not case.get("pcm"):
            peers = [
                ("torch", "torch"),
                ("lightning", "torch"),
                ("aihwkit_torch", "torch"),
                ("aihwkit_cpp", "aihwkit"),
            ]
            if args.torch_device == "cuda":
                peers.insert(2, ("lightning_triton", "torch"))
        elif case["kind"] == "snn":
            peers = [("lightning", "torch"), ("aihwkit_torch", "torch"), ("aihwkit_cpp", "aihwkit")]
        for peer, where in peers:
            if where not in workers:
                continue
            on = args.torch_device if where == "torch" else "cpu"
            timed, info = workers[where].contender(dict(case, peer=peer, device=on))
            if timed is None:
                print(f"  {name}: {peer} does not run here ({info})")
            else:
                contenders[peer] = timed
        for timed in contenders.values():  # warm-up (compilation) outside the rounds
            timed(2)
        table.append((name, contenders))

    results = {name: {k: [] for k in contenders} for name, contenders in table}
    for r in range(args.rounds):
        for name, contenders in table:
            order = list(contenders)
            order = order[r % len(order) :] + order[: r % len(order)]
            for k in order:
                times = contenders[k](args.reps + 1)[1:]  # the first call warms the caches
                if times:
                    results[name][k].append(float(np.median(times)))
    print(f"  after the rounds: load {os.getloadavg()[0]:.2f}")
    for w in workers.values():
        w.close()

    names = ["ours", "jax", "torch", "lightning", "aihwkit_torch", "aihwkit_cpp"]
    if args.torch_device == "cuda":
        names.insert(4, "lightning_triton")
    print(
        f"\nmedians of {args.rounds} alternated rounds of {args.reps} calls, ms "
        "(ratios: median over rounds of each round's ratio)"
    )
    header = (
        "| work | "
        + " | ".join(names)
        + " | ours / jax | fastest peer / ours | aihwkit C++ / ours |"
    )
    print(header)
    print("|" + " --- |" * (len(names) + 4))
    summary = {}
    base = {}
    for name, _ in table:
        res = results[name]
        if "jax" in res:
            base[name.replace(" pcm", "")] = res
        med = {k: float(np.median(v)) * 1e3 for k, v in res.items() if v}
        ref = base.get(name.replace(" pcm", ""), res)
        ours = np.asarray(res["ours"])

        def ratio(other):
            o = np.asarray(other)
            m = min(len(o), len(ours))
            return float(np.median(ours[:m] / o[:m])) if m else float("nan")

        vs_jax = ratio(ref["jax"]) if "jax" in ref else float("nan")
        peer_names = [k for k in names[3:] if ref.get(k)]
        fastest = min(peer_names, key=lambda k: np.median(ref[k]), default=None)
        vs_peer = 1.0 / ratio(ref[fastest]) if fastest else float("nan")
        vs_cpp = 1.0 / ratio(ref["aihwkit_cpp"]) if ref.get("aihwkit_cpp") else float("nan")
        cells = [f"{med[k]:.2f}" if k in med else "" for k in names]
        if name.endswith("pcm"):
            cells[1:] = ["" for _ in cells[1:]]
        print(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {vs_jax:.2f} | "
            + (f"{vs_peer:.2f} ({fastest})" if fastest else "")
            + f" | {vs_cpp:.2f} |"
        )
        summary[name] = {
            "ms": med,
            "ours_over_jax": vs_jax,
            "fastest_peer": fastest,
            "peer_over_ours": vs_peer,
            "aihwkit_cpp_over_ours": vs_cpp,
        }
    print(
        "\nnotes: the PCM rows compare our step with a fresh PCM chip against the peers' "
        "ideal-device step of the row above (the peers have no per-step device model); "
        "aihwkit's torch tile takes its weight noise as a per-batch modifier."
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
