"""Benchmark of data_prep (issue: Foundation). Prints figures and ratios to targets.

    .venv/bin/python -m benchmarks.bench_data_prep [--corpus data/en_ewt/pretrain.txt] [--repeats 5]

(from the repository root).

1. The transform step on one core: sentences/s of deriving Trans+Inv (and Trans+Perm) piece
   text from encoded English (target >= 50,000/s).
2. Syn on the pretraining path, one core (issue 14): sentences/s of the syn order of each tree
   of --conllu-corpus (the bundled EN-EWT, Turkish BOUN order) alone, and with deriving
   Trans+Syn piece text from it (target >= 20,000/s).
3. The whole pipeline (prepare_pair, --workers 2) on the corpus: wall time (target < 60 s on
   a 2-core machine) and fairseq-preprocess's share of it; and on the CoNLL-U corpus with
   trans+syn.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alignmlm.data.conllu_reader import corpus_sentences
from alignmlm.data_prep.corpus import read_sentences
from alignmlm.data_prep.prepare_pair import word_units
from alignmlm.data_prep.sentencepiece_model import train_sentencepiece, vocabulary
from alignmlm.data_prep.syn_order import SynOrder
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


def bench_syn(corpus: Path, treebank: Path, tmp: Path, repeats: int) -> None:
    sentences, trees = corpus_sentences(corpus, trees=True)
    sp = train_sentencepiece(sentences, tmp / "spm_syn", 4000, str(corpus))
    pieces = vocabulary(sp)
    derive = PieceSentenceTransform(pieces, ("trans", "syn"), seed=1, split_sentences=False, trees=True)
    encoded = sp.encode(sentences)
    units = word_units(sp, derive, sentences, encoded, {})
    syn = SynOrder.from_treebank(treebank)
    print(
        f"syn, one core, {len(trees)} trees of {corpus.name}, order of {treebank.name}, x {repeats} passes:"
    )
    best_order = best_all = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        orders = [syn.order(heads, upos, rels) for _, _, heads, upos, rels in trees]
        best_order = min(best_order, time.perf_counter() - start)
        start = time.perf_counter()
        for ids, (_, _, heads, upos, rels), unit in zip(encoded, trees, units):
            derive.derive_text(ids, syn.order(heads, upos, rels), unit)
        best_all = min(best_all, time.perf_counter() - start)
    assert all(o is not None for o in orders)
    for what, best in (("syn order", best_order), ("trans+syn text", best_all)):
        rate = len(trees) / best
        print(f"  {what:<15} {rate:>10,.0f} sentences/s   (target 20,000/s: ratio {rate / 20_000:.2f})")


def bench_pipeline(corpus: Path, tmp: Path, *extra, spec: str = "trans+inv") -> None:
    out = tmp / f"pair_{spec}"
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "alignmlm.data_prep.prepare_pair",
            "--corpus",
            str(corpus),
            "--transform",
            spec,
            "--out",
            str(out),
            "--workers",
            "2",
            *map(str, extra),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    seconds = PreparedPair.load(out).manifest["stats"]["seconds"]
    print(
        f"whole pipeline ({corpus.name}, {spec}, --workers 2): {wall:.1f} s wall (target 60 s: ratio "
        f"{wall / 60:.2f})"
    )
    for step, value in seconds.items():
        if step != "total":
            print(f"  {step:<20} {value:6.2f} s  ({100 * value / wall:4.1f}% of wall)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=REPO / "data" / "en_ewt" / "pretrain.txt")
    p.add_argument("--repeats", type=int, default=5, help="passes over the corpus (best taken)")
    p.add_argument("--conllu-corpus", type=Path, default=REPO / "data" / "en_ewt" / "pretrain.conllu")
    p.add_argument("--syn-treebank", type=Path, default=REPO / "data" / "tr_boun" / "train.conllu")
    args = p.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core for part 1
    with tempfile.TemporaryDirectory() as tmp:
        bench_transform(args.corpus, Path(tmp), args.repeats)
        bench_syn(args.conllu_corpus, args.syn_treebank, Path(tmp), args.repeats)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(range(os.cpu_count())))
        bench_pipeline(args.corpus, Path(tmp))
        bench_pipeline(args.conllu_corpus, Path(tmp), "--syn-treebank", args.syn_treebank, spec="trans+syn")


if __name__ == "__main__":
    main()
