"""One training step of the demo's SNN on crossbars, against plain JAX and snnTorch + peers.

The 64-128-10 LIF network of `make demo` (rate-coded digits, T = 8, batch 64): ours, one
hardware-aware step (`crossbar.TrainStep`: a fresh PCM chip per step, 8-bit DAC and ADC,
output noise); the same network with `eqx.nn.Linear` layers in plain JAX (target: ours <= 2x);
snnTorch's `Leaky` with AIHWKIT-Lightning's and aihwkit's layers (target: >= 5x faster than
each). The `snn` row of `bench_peers.py`, alternated rounds and medians; nothing asserted.

    python benchmarks/bench_snn.py [--torch-python PY] [--aihwkit-python PY] [--rounds 9]
"""

import sys

import bench_peers

if __name__ == "__main__":
    bench_peers.main(["--only", "snn", *sys.argv[1:]])
