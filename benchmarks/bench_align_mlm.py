"""Benchmark of ALIGN-MLM (issue: ALIGN-MLM). Prints figures and ratios to targets.

    .venv/bin/python benchmarks/bench_align_mlm.py [--skip-paper] [--rounds 3]

1. Training throughput (tokens/s, fairseq's own `wps`) of ALIGN-MLM against MLM on the same
   model and data, runs interleaved (mlm, align, mlm, align, ...), median per objective:
   - tiny: roberta_tiny on the bundled Trans+Inv pair (all 2k training pairs per step);
   - paper size: roberta_align_paper (8x512) on synthetic data with a joint vocabulary of 80k
     (40k + 40k twins) and 20k training pairs, 512-token blocks, 8 blocks per batch.
   Target ratio >= 0.97. Whole runs vary by +-15% on a busy 2-core machine, so the alignment
   term's own forward + backward is also timed directly against the MLM step time.
2. Retrieval for alignment P@k (alignmlm.retrieval.retrieve, top 5) on an 80k x 512 matrix,
   16k queries against 40k candidates, by NN and by CSLS-10: time against the bare
   `queries @ candidates.T` matmul it needs (target <= 2x for NN; CSLS needs a second pass over
   candidates x source pool) and peak extra memory (target <= 512 MB), each measured in a fresh
   process (best of 2; memory: resident set sampled every ms).
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alignmlm.fairseq_log import read_records  # noqa: E402


OBJECTIVE_ARGS = {
    "mlm": ["--task", "multilingual_mlm", "--criterion", "masked_lm"],
    "align_mlm": ["--task", "align_mlm", "--criterion", "align_mlm", "--align-weight", "10"],
    "xlm": ["--task", "xlm", "--criterion", "masked_lm", "--tlm-fraction", "0.25"],
    "dict_mlm": ["--task", "dict_mlm", "--criterion", "masked_lm", "--dict-mlm-prob", "0.5"],
}
# the same model size, with language embeddings for XLM
ARCH_FOR = {"xlm": lambda arch: arch.replace("roberta_", "roberta_lang_", 1)}


def train_wps(data: Path, save_dir: Path, objective: str, arch: str, updates: int,
              extra: list) -> float:
    task = OBJECTIVE_ARGS[objective]
    log = save_dir / f"{objective}.log"
    subprocess.run([sys.executable, "-m", "fairseq_cli.train", str(data), "--user-dir",
                    str(REPO / "user_dir"), *task, "--arch", ARCH_FOR.get(objective, str)(arch), "--optimizer", "adam",
                    "--lr", "1e-4", "--max-update", str(updates), "--log-interval", "1",
                    "--log-format", "json", "--log-file", str(log), "--no-save",
                    "--disable-validation", "--num-workers", "0", "--seed", "1", *extra],
                   cwd=REPO, check=True, capture_output=True)
    wps = [float(r["wps"]) for r in read_records(log, "train_inner")]
    log.unlink()
    return statistics.median(wps[1:])  # the first update includes warm-up


def compare(label: str, data: Path, tmp: Path, arch: str, updates: int, rounds: int,
            extra: list, term: tuple, tokens_per_batch: int, align_extra: list = ()) -> None:
    results = {"mlm": [], "align_mlm": []}
    for _ in range(rounds):
        for objective in results:
            args = extra + (list(align_extra) if objective == "align_mlm" else [])
            results[objective].append(train_wps(data, tmp, objective, arch, updates, args))
    mlm, align = (statistics.median(results[k]) for k in ("mlm", "align_mlm"))
    vocab, dim, pairs = term
    term_ms = alignment_term_ms(vocab, dim, pairs)
    step_ms = 1000 * tokens_per_batch / mlm
    print(f"{label}: alignment term {term_ms:.1f} ms per batch against an MLM step of "
          f"{step_ms:.0f} ms: ratio {step_ms / (step_ms + term_ms):.3f} by direct timing")
    print(f"{label}: MLM {mlm:,.0f} tok/s, ALIGN-MLM {align:,.0f} tok/s, ratio {align / mlm:.3f} "
          f"(target >= 0.97; runs: mlm {[round(x) for x in results['mlm']]}, "
          f"align {[round(x) for x in results['align_mlm']]})", flush=True)


def alignment_term_ms(vocab: int, dim: int, pairs: int, repeats: int = 10,
                      device: str = "cpu", dtype=None) -> float:
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


def tiny_data(tmp: Path) -> Path:
    out = REPO / "runs" / "quickstart" / "data"
    if not (out / "pair.json").is_file():
        out = tmp / "pair"
        subprocess.run([sys.executable, "-m", "alignmlm.data_prep.prepare_pair", "--corpus",
                        str(REPO / "data" / "en_ewt" / "pretrain.txt"), "--transform",
                        "trans+inv", "--out", str(out), "--workers", "2"],
                       cwd=REPO, check=True, capture_output=True)
    return out / "bin"


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
        out = subprocess.run([sys.executable, "-c", P1_SCRIPT, mode], cwd=REPO, check=True,
                             capture_output=True, text=True, env={"PYTHONPATH": str(REPO)})
        return [float(x) for x in out.stdout.split()]
    bare_s, bare_mb = measure("bare")
    for method in ("nn", "csls"):
        p1_s, p1_mb = measure(method)
        print(f"retrieval ({method}, top 5), 80k x 512, 16k queries vs 40k candidates: {p1_s:.2f} s, "
              f"peak extra {p1_mb:.0f} MB; bare matmul {bare_s:.2f} s ({bare_mb:.0f} MB): time ratio "
              f"{p1_s / bare_s:.2f}{' (target <= 2)' if method == 'nn' else ''}, memory "
              f"{p1_mb / 512:.2f} of the 512 MB target")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size")
    p.add_argument("--skip-paper", action="store_true", help="skip the paper-size model")
    p.add_argument("--only-retrieval", action="store_true", help="only the retrieval timing")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.only_retrieval:
            return bench_retrieval()
        compare("tiny (roberta_tiny, 128-token blocks, 4096 tok/batch, 2k pairs)",
                tiny_data(tmp), tmp, "roberta_tiny", 60, args.rounds,
                ["--tokens-per-sample", "128", "--max-tokens", "4096"], (8003, 64, 2000), 4096)
        if not args.skip_paper:
            data = paper_data(tmp)
            compare("paper size (8x512, vocab 80k, 20k pairs, 512-token blocks, 4096 tok/batch)",
                    data, tmp, "roberta_align_paper", 5, args.rounds,
                    ["--tokens-per-sample", "512", "--max-tokens", "4096"], (80004, 512, 20000),
                    4096, ["--align-dict", str(tmp / "paper" / "pairs.txt")])
    bench_retrieval()


if __name__ == "__main__":
    main()
