"""Benchmark of data_prep (issue: Foundation). Prints figures and ratios to targets.

    .venv/bin/python -m benchmarks.bench_data_prep [--corpus data/en_ewt/pretrain.txt] [--repeats 5]

(from the repository root).

1. The transform step on one core: sentences/s of deriving Trans+Inv (and Trans+Perm) piece
   text from encoded English (target >= 50,000/s).
2. The whole pipeline (prepare_pair, --workers 2) on the corpus: wall time (target < 60 s on
   a 2-core machine) and fairseq-preprocess's share of it.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alignmlm.data_prep.corpus import read_sentences
from alignmlm.data_prep.sentencepiece_model import train_sentencepiece, vocabulary
from alignmlm.data_prep.transforms import PieceSentenceTransform, split_final_punctuation
from alignmlm.pair import PreparedPair

REPO = Path(__file__).resolve().parents[1]


def bench_transform(corpus: Path, tmp: Path, repeats: int) -> None:
    sentences = [split_final_punctuation(s) for s in read_sentences(corpus)]
    sp = train_sentencepiece(sentences, tmp / "spm", 4000, str(corpus))
    encoded = sp.encode(sentences)
    pieces = vocabulary(sp)
    print(f"transform step, one core, {len(encoded)} sentences x {repeats} passes:")
    for spec in (("trans", "inv"), ("trans", "perm"), ("inv",)):
        derive = PieceSentenceTransform(pieces, spec, seed=1)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for ids in encoded:
                derive.derive_text(ids)
            best = min(best, time.perf_counter() - start)
        rate = len(encoded) / best
        print(
            f"  {'+'.join(spec):<11} {rate:>10,.0f} sentences/s   "
            f"(target 50,000/s: ratio {rate / 50_000:.2f})"
        )


def bench_pipeline(corpus: Path, tmp: Path) -> None:
    out = tmp / "pair"
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "alignmlm.data_prep.prepare_pair",
            "--corpus",
            str(corpus),
            "--transform",
            "trans+inv",
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    seconds = PreparedPair.load(out).manifest["stats"]["seconds"]
    print(f"whole pipeline (trans+inv, --workers 2): {wall:.1f} s wall (target 60 s: ratio {wall / 60:.2f})")
    for step, value in seconds.items():
        if step != "total":
            print(f"  {step:<20} {value:6.2f} s  ({100 * value / wall:4.1f}% of wall)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=REPO / "data" / "en_ewt" / "pretrain.txt")
    p.add_argument("--repeats", type=int, default=5, help="passes over the corpus (best taken)")
    args = p.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core for part 1
    with tempfile.TemporaryDirectory() as tmp:
        bench_transform(args.corpus, Path(tmp), args.repeats)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(range(os.cpu_count())))
        bench_pipeline(args.corpus, Path(tmp))


if __name__ == "__main__":
    main()
