"""Recurrent and transformer training steps, disttorch vs torch in one run, alternating.

    python benchmarks/bench_rnn_transformer.py [--rounds 5] [--repeat 3] [--cpu-time]

``--cpu-time`` measures the CPU time of the calling thread instead of the wall clock: both
frameworks run on that one thread, so on a shared, busy machine it is the steadier number.

Workloads (float32, one BLAS/OpenMP thread for both frameworks, the same initial weights):

* LSTM: input 64, hidden 128, sequence 32, batch 32; forward, MSE loss, backward, SGD step.
* Transformer LM: vocabulary 96, d_model 128, 4 heads, feedforward 512, 2 encoder layers
  (batch-first, causal mask, dropout 0.1 in training mode), sequence 64, batch 32; token and
  position embeddings, cross-entropy over the next token, backward, AdamW step.
"""
import argparse
import os
import statistics
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import disttorch  # noqa: E402
from benchmarks._common import alternate, print_table  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    sys.exit("torch is needed for the comparison: pip install torch==2.13.0")

torch.set_num_threads(1)


def _copy_state(source, target):
    target.load_state_dict({k: disttorch.tensor(v.detach().numpy())
                            for k, v in source.state_dict().items()})


def lstm_workload(seq=32, batch=32, input_size=64, hidden=128):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((seq, batch, input_size)).astype(np.float32)
    target = rng.standard_normal((seq, batch, hidden)).astype(np.float32)
    torch.manual_seed(0)
    models = {torch: torch.nn.LSTM(input_size, hidden), disttorch: disttorch.nn.LSTM(input_size,
                                                                                      hidden)}
    _copy_state(models[torch], models[disttorch])

    def make(lib):
        model = models[lib]
        optimizer = lib.optim.SGD(model.parameters(), lr=0.01)
        inputs, targets = lib.tensor(x), lib.tensor(target)

        def step():
            optimizer.zero_grad()
            out, _ = model(inputs)
            lib.nn.functional.mse_loss(out, targets).backward()
            optimizer.step()
        return step
    return make(disttorch), make(torch)


def _language_model(lib, vocab, d_model, nhead, layers, seq, ff):
    class TransformerLM(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.token = lib.nn.Parameter(lib.randn(vocab, d_model) * 0.02)
            self.position = lib.nn.Parameter(lib.randn(seq, d_model) * 0.02)
            layer = lib.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=ff,
                                                   dropout=0.1, batch_first=True)
            self.encoder = lib.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.head = lib.nn.Linear(d_model, vocab)
            self.register_buffer("mask", lib.nn.Transformer.generate_square_subsequent_mask(seq))

        def forward(self, tokens):
            x = self.token[tokens] + self.position
            return self.head(self.encoder(x, mask=self.mask, is_causal=True))
    return TransformerLM()


def transformer_workload(vocab=96, d_model=128, nhead=4, layers=2, seq=64, batch=32, ff=512):
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, vocab, (batch, seq + 1))
    torch.manual_seed(0)
    models = {lib: _language_model(lib, vocab, d_model, nhead, layers, seq, ff)
              for lib in (torch, disttorch)}
    _copy_state(models[torch], models[disttorch])

    def make(lib):
        model = models[lib]
        model.train()
        optimizer = lib.optim.AdamW(model.parameters(), lr=1e-3)
        inputs = lib.tensor(tokens[:, :-1])
        targets = lib.tensor(tokens[:, 1:].reshape(-1))

        def step():
            optimizer.zero_grad()
            logits = model(inputs)
            lib.nn.functional.cross_entropy(logits.reshape(-1, vocab), targets).backward()
            optimizer.step()
        return step
    return make(disttorch), make(torch)


def _alternate_cpu_time(workloads, rounds, repeat):
    """``_common.alternate`` with the calling thread's CPU clock."""
    samples = {name: [] for name in workloads}
    for _ in range(rounds):
        for name, fn in workloads.items():
            times = []
            for _ in range(repeat):
                start = time.thread_time()
                fn()
                times.append(time.thread_time() - start)
            samples[name].append(statistics.median(times))
    return {name: statistics.median(v) for name, v in samples.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the calling thread's CPU clock (steadier when shared)")
    args = parser.parse_args()
    rows = []
    for label, workload in [("LSTM h128 seq32 b32 fwd+bwd+SGD", lstm_workload),
                            ("Transformer LM d128 seq64 b32 step", transformer_workload)]:
        ours, theirs = workload()
        for fn in (ours, theirs):
            fn()
        workloads = {"disttorch": ours, "torch": theirs}
        if args.cpu_time:
            times = _alternate_cpu_time(workloads, args.rounds, args.repeat)
        else:
            times = alternate(workloads, args.rounds, args.repeat)
        rows.append((label, times["disttorch"], times["torch"]))
    clock = "thread CPU time" if args.cpu_time else "wall clock"
    print_table(f"Recurrent and transformer training steps (float32, 1 thread, median {clock})",
                rows)


if __name__ == "__main__":
    main()
