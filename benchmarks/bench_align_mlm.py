"""Benchmark of ALIGN-MLM (issue: ALIGN-MLM). Prints figures and ratios to targets.

    .venv/bin/python -m benchmarks.bench_align_mlm [--skip-paper] [--rounds 3] [--only-retrieval]

(from the repository root). Training runs are `alignmlm train`: the shared recipe
(configs/pretrain.yaml + configs/objective/OBJECTIVE.yaml, +run=cpu), changed only where a
throughput run must be (see train_command).

1. Training throughput (tokens/s, fairseq's own `wps`) of ALIGN-MLM against MLM on the same
   model and data, runs interleaved (mlm, align, mlm, align, ...), median per objective:
   - tiny: configs/pretrain.yaml's model and batch on the
     quickstart's Trans+Inv pair (or one prepared here from the bundled corpus);
   - paper size: +size=paper (roberta_align_paper, 8x512, 512-token blocks) on synthetic data
     with a joint vocabulary of 80k (40k + 40k twins) and 20k training pairs, 8 blocks per batch.
   Target ratio >= 0.97. Whole runs vary by +-15% on a busy 2-core machine, so the alignment
   term's own forward + backward is also timed directly against the MLM step time.
2. Retrieval for alignment P@k (alignmlm.retrieval.retrieve, top 5) on an 80k x 512 matrix,
   16k queries against 40k candidates, by NN and by CSLS-10: time against the bare
   `queries @ candidates.T` matmul it needs (target <= 2x for NN; CSLS needs a second pass over
   candidates x source pool) and peak extra memory (target <= 512 MB), each measured in a fresh
   process (best of 2; memory: resident set sampled every ms).
"""

import argparse
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from alignmlm.fairseq_log import read_records
from alignmlm.pair import PairError, PreparedPair

REPO = Path(__file__).resolve().parents[1]

# What a throughput run changes in the shared recipe: fairseq's `wps` logged at every update,
# no checkpoints, no validation and no tensorboard (they would be timed too). Everything else,
# objective settings included, is the configs'. Their lr schedule (warm-up, linear decay)
# replaces the constant lr these benchmarks used to set: the learning rate does not change
# tokens/s, so it is not overridden.
MEASURE = ["checkpoint.no_save=true", "dataset.disable_validation=true", "common.tensorboard_logdir=null"]
# CPU figures: train on the CPU (configs/run/cpu.yaml) even where a GPU is visible, as the
# alignment term is timed on the CPU too.
CPU = ["--run", "cpu"]


def train_command(objective: str, data: Path, save_dir: Path, updates: int, flags=(), overrides=()) -> list:
    """`alignmlm train` for a throughput run of `updates` updates; `flags` are its own
    (--size, --max-tokens, ...), `overrides` hydra ones (e.g. task.bilingual_dict=PATH)."""
    return [
        sys.executable,
        "-m",
        "alignmlm",
        "train",
        "--objective",
        objective,
        "--data",
        str(data),
        "--save-dir",
        str(save_dir),
        "--max-update",
        str(updates),
        "--log-interval",
        "1",
        *flags,
        "--",
        *MEASURE,
        *overrides,
    ]


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run, quiet, but with the command's last lines when it fails."""
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, **kwargs)
    if proc.returncode:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise SystemExit(f"error: {' '.join(command)} failed ({proc.returncode}):\n{tail}")
    return proc


def train_records(objective: str, data: Path, save_dir: Path, updates: int, flags=(), overrides=()) -> tuple:
    """(train_inner records, the run's output) of one throughput run in a fresh save_dir."""
    shutil.rmtree(save_dir, ignore_errors=True)
    proc = run(train_command(objective, data, save_dir, updates, flags, overrides))
    records = read_records(save_dir / "train.log", "train_inner")
    shutil.rmtree(save_dir)
    return records, proc.stdout + proc.stderr


def train_wps(data: Path, tmp: Path, objective: str, updates: int, flags=(), overrides=()) -> float:
    records, _ = train_records(objective, data, tmp / objective, updates, [*CPU, *flags], overrides)
    wps = [float(r["wps"]) for r in records]
    return statistics.median(wps[1:])  # the first update includes warm-up


def run_config(objective: str, data: Path, flags=(), overrides=()):
    """The composed config (alignmlm.pretraining_config.compose) of train_command's run with
    these flags and overrides (its updates and logging aside): what the figures' labels and the
    step time are read from."""
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.INFO))  # fairseq's and hydra's messages meanwhile
    try:
        from alignmlm.cli import train
        from alignmlm.pretraining_config import compose

        args = train.build_parser().parse_args(
            ["--objective", objective, "--data", str(data), "--save-dir", "unused", *flags]
        )
        hydra = train.hydra_overrides(args, [*MEASURE, *overrides])
        return compose(objective, [o for o in hydra if not o.startswith("+objective=")])
    finally:
        logging.disable(previous)


def describe(cfg) -> str:
    """'roberta_tiny, 128-token blocks, 4096 tok/batch' of a composed config."""
    return f"{cfg.model._name}, {cfg.task.tokens_per_sample}-token blocks, {cfg.dataset.max_tokens} tok/batch"


def alignment_term_shape(cfg, pairs: Path) -> tuple:
    """(embedding rows, dim, pairs) of the alignment term of a run: the data's dictionary (with
    <mask>), the model size's dim, the bilingual dictionary's pairs."""
    from fairseq.data import Dictionary

    from alignmlm.models.architectures import SIZES, size_name

    vocab = len(Dictionary.load(str(Path(cfg.task.data) / "dict.txt"))) + 1
    count = sum(1 for line in pairs.read_text(encoding="utf-8").splitlines() if line.strip())
    return vocab, SIZES[size_name(cfg.model._name)].dim, count


def compare(
    label: str,
    data: Path,
    tmp: Path,
    updates: int,
    rounds: int,
    flags: list,
    pairs: Path,
    align_overrides: list = (),
) -> None:
    cfg = run_config("align_mlm", data, [*CPU, *flags], align_overrides)
    vocab, dim, npairs = alignment_term_shape(cfg, pairs)
    label = f"{label} ({describe(cfg)}, vocab {vocab:,}, {npairs:,} pairs)"
    results = {"mlm": [], "align_mlm": []}
    for _ in range(rounds):
        for objective in results:
            overrides = list(align_overrides) if objective == "align_mlm" else []
            results[objective].append(train_wps(data, tmp, objective, updates, flags, overrides))
    mlm, align = (statistics.median(results[k]) for k in ("mlm", "align_mlm"))
    term_ms = alignment_term_ms(vocab, dim, npairs)
    step_ms = 1000 * cfg.dataset.max_tokens / mlm
    print(
        f"{label}: alignment term {term_ms:.1f} ms per batch against an MLM step of "
        f"{step_ms:.0f} ms: ratio {step_ms / (step_ms + term_ms):.3f} by direct timing"
    )
    print(
        f"{label}: MLM {mlm:,.0f} tok/s, ALIGN-MLM {align:,.0f} tok/s, ratio {align / mlm:.3f} "
        f"(target >= 0.97; runs: mlm {[round(x) for x in results['mlm']]}, "
        f"align {[round(x) for x in results['align_mlm']]})",
        flush=True,
    )


def alignment_term_ms(
    vocab: int, dim: int, pairs: int, repeats: int = 10, device: str = "cpu", dtype=None
) -> float:
    """Forward + backward of the alignment term alone, in-process: the fixed cost ALIGN-MLM
    adds to every batch, free of the run-to-run noise of whole training runs."""
    import time

    import torch

    from alignmlm.alignment import bag_means, pair_loss

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    embeddings = (torch.randn(vocab, dim, device=device) * 0.02).to(dtype).requires_grad_()
    source = torch.randperm(vocab // 2, device=device)[:pairs].unsqueeze(1)
    target = source + vocab // 2
    for i in range(repeats + 2):
        if i == 2:
            sync()
            start = time.perf_counter()
        pair_loss(bag_means(embeddings, source), bag_means(embeddings, target)).backward()
        embeddings.grad = None
    sync()
    return (time.perf_counter() - start) / repeats * 1000


def tiny_data(tmp: Path) -> PreparedPair:
    """The quickstart's prepared pair if there, else one prepared here from the bundled corpus."""
    try:
        return PreparedPair.load(REPO / "runs" / "quickstart" / "data")
    except PairError:
        out = tmp / "pair"
        run(
            [
                sys.executable,
                "-m",
                "alignmlm",
                "prepare-pair",
                "--corpus",
                str(REPO / "data" / "en_ewt" / "pretrain.txt"),
                "--transform",
                "trans+inv",
                "--out",
                str(out),
                "--workers",
                "2",
            ]
        )
        return PreparedPair.load(out)


def paper_data(tmp: Path, vocab: int = 40_000, pairs: int = 20_000, tokens: int = 300_000) -> Path:
    """Synthetic binarized pair at paper scale: Zipf-distributed ids, twins at i + V."""
    import numpy as np
    import torch
    from fairseq.data import Dictionary
    from fairseq.data.indexed_dataset import MMapIndexedDatasetBuilder

    root = tmp / "paper" / "bin"
    rng = np.random.default_rng(0)
    d = Dictionary()
    for prefix in ("", "§"):
        for i in range(vocab):
            d.add_symbol(f"{prefix}p{i}", n=1)
    (root / "en").mkdir(parents=True)
    (root / "xx").mkdir()
    d.save(str(root / "dict.txt"))
    probs = 1.0 / np.arange(1, vocab + 1)
    probs /= probs.sum()
    for lang, offset in (("en", 0), ("xx", vocab)):
        d.save(str(root / lang / "dict.txt"))
        builder = MMapIndexedDatasetBuilder(str(root / lang / "train.bin"), dtype=np.int32)
        for _ in range(tokens // 30):
            ids = rng.choice(vocab, size=29, p=probs) + d.nspecial + offset
            builder.add_item(torch.from_numpy(np.append(ids, d.eos()).astype(np.int32)))
        builder.finalize(str(root / lang / "train.idx"))
    with open(tmp / "paper" / "pairs.txt", "w") as f:
        f.writelines(f"p{i} §p{i}\n" for i in rng.choice(vocab, size=pairs, replace=False))
    return root


P1_SCRIPT = """
import sys, threading, time, torch
from alignmlm.retrieval import retrieve
torch.manual_seed(0)
E = torch.randn(80000, 512)
sources = torch.randperm(40000)[:16000]
candidates = torch.arange(40000, 80000)
page = 4096
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
peak, running = [rss()], [True]
def sample():  # resident memory every millisecond while the call runs
    while running[0]:
        peak.append(rss()); time.sleep(0.001)
run = (lambda: E[sources] @ E[candidates].T) if sys.argv[1] == "bare" else (
    lambda: retrieve(E[sources], E[candidates], k=5, method=sys.argv[1], source_pool=E[:40000]))
times = []
for _ in range(2):
    before = rss()
    peak[:] = [before]
    running[0] = True
    sampler = threading.Thread(target=sample); sampler.start()
    start = time.perf_counter(); out = run(); times.append(time.perf_counter() - start)
    del out
    running[0] = False; sampler.join()
print(min(times), (max(peak) - before) / 2**20)
"""


def bench_retrieval() -> None:
    def measure(mode):
        return [float(x) for x in run([sys.executable, "-c", P1_SCRIPT, mode]).stdout.split()]

    bare_s, bare_mb = measure("bare")
    for method in ("nn", "csls"):
        p1_s, p1_mb = measure(method)
        print(
            f"retrieval ({method}, top 5), 80k x 512, 16k queries vs 40k candidates: {p1_s:.2f} s, "
            f"peak extra {p1_mb:.0f} MB; bare matmul {bare_s:.2f} s ({bare_mb:.0f} MB): time ratio "
            f"{p1_s / bare_s:.2f}{' (target <= 2)' if method == 'nn' else ''}, memory "
            f"{p1_mb / 512:.2f} of the 512 MB target"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size")
    p.add_argument("--skip-paper", action="store_true", help="skip the paper-size model")
    p.add_argument("--only-retrieval", action="store_true", help="only the retrieval timing")
    args = p.parse_args()
    if args.only_retrieval:
        return bench_retrieval()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pair = tiny_data(tmp)
        compare("tiny", pair.root, tmp, 60, args.rounds, [], pair.bilingual_dictionary("train"))
        if not args.skip_paper:
            # synthetic data, no prepared pair: ALIGN-MLM is given its bilingual dictionary; the
            # paper's model and blocks, in batches of 8 blocks (its GPU batch is 16)
            data, pairs = paper_data(tmp), tmp / "paper" / "pairs.txt"
            compare(
                "paper size",
                data,
                tmp,
                5,
                args.rounds,
                ["--size", "paper", "--max-tokens", "4096"],
                pairs,
                [f"task.bilingual_dict={pairs}"],
            )
    bench_retrieval()


if __name__ == "__main__":
    main()
