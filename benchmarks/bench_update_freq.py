"""Benchmark of ALIGN-MLM's alignment term per update under --update-freq (issue 17): what the
term costs an update of K accumulated batches when it is computed at every batch (before) and
once per update with its gradient replayed on each batch (now: criterions/align_mlm.py's
ReplayedGradient), at the paper's scale (80k x 512 embeddings, 20k single-piece pairs).

    .venv/bin/python -m benchmarks.bench_update_freq [--freqs 1,4,8] [--device cpu|cuda]

Both are timed in-process on the term alone (forward + backward into the embedding's .grad),
so the figures are free of whole-run noise; the MLM part of a batch is the same either way.
"""

import argparse
import time

import torch

from alignmlm.alignment import bag_means, pair_loss
from alignmlm.criterions.align_mlm import ReplayedGradient


def setup(vocab: int, dim: int, pairs: int, device: str):
    embeddings = (torch.randn(vocab, dim, device=device) * 0.02).requires_grad_()
    source = torch.randperm(vocab // 2, device=device)[:pairs].unsqueeze(1)
    return embeddings, source, source + vocab // 2


def per_batch(embeddings, source, target, freq: int) -> None:
    """Before: the term at every batch of the update."""
    for _ in range(freq):
        pair_loss(bag_means(embeddings, source), bag_means(embeddings, target)).backward()


def once_per_update(embeddings, source, target, freq: int) -> None:
    """Now: the term and its gradient once, replayed on every batch."""
    leaf = embeddings.detach().requires_grad_()
    align = pair_loss(bag_means(leaf, source), bag_means(leaf, target))
    (grad,) = torch.autograd.grad(align, [leaf])
    for _ in range(freq):
        ReplayedGradient.apply(align.detach(), embeddings, grad).backward()


def time_ms(fn, args, repeats: int, device: str) -> float:
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for i in range(repeats + 1):
        if i == 1:
            sync()
            start = time.perf_counter()
        fn(*args)
        args[0].grad = None
    sync()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--freqs", default="1,4,8", help="batches per update, comma-separated")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    embeddings, source, target = setup(80_000, 512, 20_000, args.device)
    print(
        f"alignment term per update, 80k x 512 embeddings, 20k pairs, {args.device}, torch threads {torch.get_num_threads()}:"
    )
    for freq in (int(f) for f in args.freqs.split(",")):
        before = time_ms(per_batch, [embeddings, source, target, freq], args.repeats, args.device)
        now = time_ms(once_per_update, [embeddings, source, target, freq], args.repeats, args.device)
        print(
            f"  --update-freq {freq}: every batch {before:8.1f} ms   once per update {now:8.1f} ms   ratio {now / before:.2f}"
        )


if __name__ == "__main__":
    main()
