"""A character-level transformer language model trained on disttorch's own documentation.

    python examples/char_lm.py                      # ~60 s on one core, then samples text
    python examples/char_lm.py --steps 50           # a quick look

The text is the project's documentation (its Markdown files and the docstrings of the
``disttorch`` package): nothing to download. A causal transformer encoder (token and position
embeddings, 2 layers, d_model 64) learns to predict the next character; the held-out 10% of
the text measures it in bits per character (about 4.5 for uniform guessing over the
characters used, about 4.1 knowing only their frequencies). Then it writes text.
"""
import argparse
import ast
import glob
import math
import os

import numpy as np

import disttorch as torch
from disttorch import nn
from disttorch.utils.progress import MetricsLog, ProgressBar, plot_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_BITS_PER_CHAR = 3.2


def load_text():
    """The project's documentation as one string: its Markdown files and the docstrings of
    its modules, classes and functions."""
    markdown = glob.glob(os.path.join(ROOT, "*.md")) + glob.glob(os.path.join(ROOT, "*", "*.md"))
    parts = [open(p, encoding="utf-8").read() for p in sorted(markdown)]
    for path in sorted(glob.glob(os.path.join(ROOT, "disttorch", "**", "*.py"), recursive=True)):
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in [tree, *ast.walk(tree)]:
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 80:
                    parts.append(doc)
    return "\n\n".join(parts)


class CharTransformer(nn.Module):
    """Token + position embeddings, a causal ``TransformerEncoder`` and a linear read-out.

    Args:
        vocab (int): number of distinct characters.
        context (int): the longest sequence the model sees.
        d_model (int): the width of the model.
        nhead (int): attention heads.
        layers (int): encoder layers.
    """

    def __init__(self, vocab, context, d_model=64, nhead=4, layers=2):
        super().__init__()
        self.context = context
        self.token = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=4 * d_model,
                                           dropout=0.1, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens):
        length = tokens.shape[1]
        x = self.token(tokens) + self.position(torch.arange(length))
        mask = nn.Transformer.generate_square_subsequent_mask(length)
        return self.head(self.norm(self.encoder(x, mask=mask, is_causal=True)))


def batches(data, batch_size, context, rng):
    """Random windows of ``context + 1`` characters: inputs and next-character targets."""
    starts = rng.integers(0, len(data) - context - 1, batch_size)
    windows = np.stack([data[s:s + context + 1] for s in starts])
    return torch.from_numpy(windows[:, :-1]), torch.from_numpy(windows[:, 1:])


def bits_per_char(model, data, context, batch_size=64):
    """Mean next-character cross-entropy in bits over consecutive windows of ``data``."""
    model.eval()
    n = (len(data) - 1) // context
    windows = data[:n * context + 1]
    inputs = windows[:-1].reshape(n, context)
    targets = windows[1:].reshape(n, context)
    total = 0.0
    with torch.no_grad():
        for i in range(0, n, batch_size):
            logits = model(torch.from_numpy(inputs[i:i + batch_size]))
            target = torch.from_numpy(targets[i:i + batch_size]).reshape(-1)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target,
                                               reduction="sum")
            total += loss.item()
    model.train()
    return total / (n * context) / math.log(2)


def sample(model, prompt, chars, stoi, length, temperature=0.8):
    """Continue ``prompt`` by ``length`` characters drawn from the model."""
    model.eval()
    tokens = [stoi[c] for c in prompt if c in stoi]
    with torch.no_grad():
        for _ in range(length):
            context = torch.tensor([tokens[-model.context:]])
            logits = model(context)[0, -1] / temperature
            probs = torch.softmax(logits, dim=-1)
            tokens.append(torch.multinomial(probs, 1).item())
    model.train()
    return "".join(chars[t] for t in tokens)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--eval-every", type=int, default=300)
    p.add_argument("--sample-length", type=int, default=300)
    p.add_argument("--run-dir", default="runs/char_lm")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (this model's matrices are small: more threads mostly wait)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    text = load_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(len(data) * 0.9)
    train, valid = data[:split], data[split:]
    print(f"{len(text):,} characters of documentation, {len(chars)} distinct "
          f"(uniform guessing: {math.log2(len(chars)):.2f} bits/char)")

    model = CharTransformer(len(chars), args.context)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr,
                                                    total_steps=args.steps, pct_start=0.1)
    rng = np.random.default_rng(0)
    metrics_path = os.path.join(args.run_dir, "metrics.jsonl")
    log = MetricsLog(metrics_path, mode="w")
    step = 0
    while step < args.steps:
        span = range(min(args.eval_every, args.steps - step))
        bar = ProgressBar(span, desc=f"steps {step}-{step + len(span)}")
        for _ in bar:
            x, y = batches(train, args.batch_size, args.context, rng)
            logits = model(x)
            loss = nn.functional.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            bar.log(samples=args.batch_size, loss=loss.item())
            step += 1
        valid_bits = bits_per_char(model, valid, args.context)
        summary = bar.summary()
        log.write(step=step, loss=summary["loss"], valid_loss=valid_bits * math.log(2),
                  valid_bits_per_char=valid_bits, samples_per_s=summary["samples_per_s"])
        print(f"step {step}: train loss {summary['loss']:.3f}  valid {valid_bits:.3f} bits/char  "
              f"{summary['samples_per_s']:.0f} sequences/s", flush=True)
    log.close()
    try:
        curves = plot_metrics(metrics_path, os.path.join(args.run_dir, "curves.png"), x="step")
        print(f"curves: {curves}")
    except ImportError as exc:
        print(f"no curves plotted: {exc}")
    print("sample:\n" + sample(model, "disttorch ", chars, stoi, args.sample_length))
    reached = "reached" if valid_bits <= TARGET_BITS_PER_CHAR else "NOT reached"
    print(f"final validation {valid_bits:.3f} bits/char (target {TARGET_BITS_PER_CHAR}: {reached})")


if __name__ == "__main__":
    main()
