"""Benchmark of prepare-pair at Wikipedia-like sizes (issue 17): wall time, MB/s, peak resident
memory of the whole process tree (the command and its workers, summed, sampled every 0.2 s) and
each stage's share, for plain-text corpora of the given sizes.

    .venv/bin/python -m benchmarks.bench_prepare_scale [--sizes-mb 100,1000] [--workers 2]

The corpora are the bundled EN-EWT text repeated to size (each copy's lines numbered, so that no
two lines are equal), Trans+Inv, 8k pieces. Targets: 1 GB in <= 10 minutes on a 2-core machine
with <= 2 GB resident. Before (the in-memory pipeline with fairseq-preprocess, 2026-12-02):
100 MB in 244 s with 2.56 GB resident.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "en_ewt" / "pretrain.txt"


def make_corpus(path: Path, megabytes: int) -> None:
    lines = BUNDLED.read_text(encoding="utf-8").splitlines()
    target = megabytes * 1_000_000
    written, copy = 0, 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            block = "".join(f"{line} ({copy})\n" for line in lines)
            f.write(block)
            written += len(block.encode("utf-8"))
            copy += 1


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of PID and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def run_prepare(corpus: Path, out: Path, workers: int, vocab: int) -> tuple[float, int]:
    argv = [sys.executable, "-m", "alignmlm", "prepare-pair", "--corpus", str(corpus)]
    argv += [
        "--transform",
        "trans+inv",
        "--vocab-size",
        str(vocab),
        "--out",
        str(out),
        "--workers",
        str(workers),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_bytes(proc.pid))
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"prepare-pair failed:\n{proc.stderr.read()[-3000:]}")
    return seconds, peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes-mb", default="100,1000", help="corpus sizes in MB, comma-separated")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--tmp", type=Path, default=None, help="where corpora and pairs go (default: a temp dir)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        print(f"prepare-pair, plain text, trans+inv, {args.vocab_size} pieces, --workers {args.workers}")
        for mb in (int(x) for x in args.sizes_mb.split(",")):
            corpus = tmp / f"corpus_{mb}mb.txt"
            make_corpus(corpus, mb)
            size = corpus.stat().st_size
            seconds, peak = run_prepare(corpus, tmp / f"pair_{mb}mb", args.workers, args.vocab_size)
            stats = json.loads((tmp / f"pair_{mb}mb" / "pair.json").read_text())["stats"]
            stages = {k: v for k, v in stats["seconds"].items() if k != "total"}
            share = ", ".join(f"{k} {v:.0f} s ({v / seconds:.0%})" for k, v in stages.items())
            print(
                f"  {size / 1e6:,.0f} MB, {stats['sentences']['train'] + stats['sentences']['valid']:,} "
                f"sentences: {seconds:.0f} s, {size / 1e6 / seconds:.2f} MB/s, peak resident "
                f"{peak / 1e9:.2f} GB  [{share}]"
            )
            if mb >= 1000:
                print(
                    f"    targets for 1 GB: <= 600 s (ratio {seconds / 600 * 1000 / mb:.2f} scaled to 1 GB), "
                    f"<= 2 GB resident (ratio {peak / 2e9:.2f})"
                )
            corpus.unlink()


if __name__ == "__main__":
    main()
