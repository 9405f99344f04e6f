"""How long `alignmlm analyze` takes on a paper-size model (docs/benchmarks.md):

    .venv/bin/python -m benchmarks.bench_analysis [--sentences 1000] [--threads N]

A randomly initialised RoBERTa of the paper's size (8 layers x 512, 80k joint vocabulary: 40k
pieces and their twins, 512 positions) and a synthetic prepared pair of that vocabulary (40k
dictionary pairs, half held out; 1,000 parallel validation sentences of 20-60 pieces). Times
the analyses of the command on them: post-hoc Procrustes with held-out retrieval before and
after the map (NN and CSLS), and the layer-wise CKA and sentence retrieval; the UPOS probe needs
treebank data and is timed on the bundled data by the tests instead. Target: under 60 s in all.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

VOCAB, PAIRS = 40_000, 40_000
TARGET_SECONDS = 60.0


def paper_pair(root: Path, sentences: int) -> Path:
    """A prepared pair of the paper's vocabulary: manifest, dictionaries, bin/para/valid."""
    from fairseq.data import Dictionary
    from fairseq.data.indexed_dataset import MMapIndexedDatasetBuilder

    from alignmlm.pair import FORMAT_VERSION

    rng = np.random.default_rng(0)
    d = Dictionary()
    for prefix in ("", "§"):
        for i in range(VOCAB):
            d.add_symbol(f"{prefix}p{i}", n=1)
    (root / "bin" / "para").mkdir(parents=True)
    (root / "bin" / "en").mkdir()
    (root / "bin" / "xx").mkdir()
    (root / "dict").mkdir()
    d.save(str(root / "bin" / "dict.txt"))
    chosen = rng.permutation(VOCAB)[:PAIRS]
    lines = [f"p{i} §p{i}\n" for i in chosen]
    (root / "dict" / "all.txt").write_text("".join(lines))
    (root / "dict" / "train.txt").write_text("".join(lines[: PAIRS // 2]))
    (root / "dict" / "heldout.txt").write_text("".join(lines[PAIRS // 2 :]))
    for lang, offset in (("en", 0), ("xx", VOCAB)):
        rng_lang = np.random.default_rng(1)  # the same sentences on both sides, as twins
        prefix = root / "bin" / "para" / f"valid.en-xx.{lang}"
        builder = MMapIndexedDatasetBuilder(f"{prefix}.bin", dtype=np.int32)
        for _ in range(sentences):
            ids = rng_lang.integers(0, VOCAB, size=int(rng_lang.integers(20, 61))) + d.nspecial + offset
            builder.add_item(torch.from_numpy(np.append(ids, d.eos()).astype(np.int32)))
        builder.finalize(f"{prefix}.idx")
    manifest = {
        "settings": {"format_version": FORMAT_VERSION, "kind": "synthetic", "transform": "trans"},
        "complete": True,
        "languages": ["en", "xx"],
        "data": "bin",
        "spm_model": "spm.model",
        "dictionary_units": "pieces",
        "twin_offset": VOCAB,
    }
    (root / "pair.json").write_text(json.dumps(manifest))
    return root


def paper_model(dictionary):
    """fairseq's RoBERTa at the paper's size (roberta_align_paper), randomly initialised."""
    from fairseq.models.roberta.model import RobertaEncoder, RobertaModel, base_architecture

    from alignmlm.models.architectures import SIZES, set_size

    args = argparse.Namespace(max_positions=512)
    set_size(args, SIZES["align_paper"])
    base_architecture(args)
    model = RobertaModel(args, RobertaEncoder(args, dictionary))
    return model.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sentences", type=int, default=1000, help="parallel sentences (default 1000)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from fairseq.data import Dictionary

    from alignmlm.alignment_benchmark import AlignmentBenchmark
    from alignmlm.analysis import layer_similarity, procrustes_alignment
    from alignmlm.cli.analyze import parallel_sentences
    from alignmlm.models.embeddings import language_embeddings
    from alignmlm.pair import PreparedPair

    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        pair = PreparedPair.load(paper_pair(Path(tmp) / "pair", args.sentences))
        d = Dictionary.load(str(pair.fairseq_dictionary))
        d.add_symbol("<mask>")
        torch.manual_seed(0)
        model = paper_model(d)
        times["setup (data, model; not the command's)"] = time.perf_counter() - t

        t = time.perf_counter()
        bench = AlignmentBenchmark(pair, d)
        times["dictionary (alignment benchmark)"] = time.perf_counter() - t
        t = time.perf_counter()
        result = procrustes_alignment(bench, language_embeddings(model, 0), language_embeddings(model, 1))
        times["procrustes: retrieval before and after the map"] = time.perf_counter() - t
        t = time.perf_counter()
        side1, side2, _ = parallel_sentences(pair, d, args.sentences, 512)
        specials = {d.bos(), d.eos(), d.unk()}
        layers = layer_similarity(model, model, side1, side2, specials, d.pad())
        times["layers: states, CKA, sentence retrieval"] = time.perf_counter() - t

    analysis = sum(v for k, v in times.items() if not k.startswith("setup"))
    print(
        f"paper-size analysis: {len(layers) - 1} layers, {len(d)} tokens, {args.sentences} sentences, "
        f"{result['before']['heldout']['queries']} held-out queries, torch threads {torch.get_num_threads()}"
    )
    for name, seconds in times.items():
        print(f"  {name:<48} {seconds:7.1f} s")
    print(
        f"  {'analysis in all':<48} {analysis:7.1f} s  (target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if analysis < TARGET_SECONDS else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
