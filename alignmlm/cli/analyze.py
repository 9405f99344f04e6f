"""Representation analysis of a checkpoint, in the two context papers' terms (docs/analysis.md).

    alignmlm analyze --checkpoint runs/align/checkpoint_last.pt --output analysis.json \\
        [--pos runs/pos/trans_inv] [--target-checkpoint runs/mlm_tr/checkpoint_last.pt]

Writes JSON (and, beside it, OUTPUT.png: the per-layer figures):
  procrustes   held-out word retrieval (P@1/P@5, NN and CSLS-10) of the input embeddings as they
               are (`before`, as evaluate-alignment) and after an orthogonal map fit on the
               training pairs of the pair's dictionary (`after`): alignment a rotation away
  layers       per layer (0: embeddings), on the pair's parallel validation sentences (bin/para/:
               the original and derived sentences of a synthetic pair, --parallel text of a
               natural one): linear CKA of mean-pooled states, sentence retrieval P@1 both ways
  probe        with --pos (prepare-pos data of the pair): per layer, a linear UPOS probe fit on
               language 1's training words, accuracy on language 1's and language 2's test words
With --target-checkpoint, language 2's embeddings and states come from that model (trained on the
same prepared pair's data, e.g. MLM on each language alone, `-- task.langs=tr`): Conneau et al.'s
two monolingual models, aligned (or not) up to a rotation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from alignmlm.cli.evaluate_alignment import check_dictionary, check_output
from alignmlm.errors import InputError, reported
from alignmlm.pair import PARALLEL_SUBDIR, PairError, PreparedPair
from alignmlm.safe_files import file_sha256, write_text_atomic


def load_model(checkpoint: Path, pair: PreparedPair):
    """(model, task) of CHECKPOINT, checked to be trained on PAIR's vocabulary."""
    from alignmlm.checkpoint import load_checkpoint

    if not checkpoint.is_file():
        raise SystemExit(f"error: {checkpoint}: checkpoint not found")
    model, task = load_checkpoint(checkpoint, data=pair.bin_dir)
    check_dictionary(task.dictionary, pair, checkpoint)
    return model, task


def parallel_sentences(pair: PreparedPair, dictionary, limit: int, max_tokens: int) -> tuple:
    """(side 1, side 2, left out): the first LIMIT sentence pairs of PAIR's parallel validation
    text (bin/para/) that fit in MAX_TOKENS, language 1's side first, each a token tensor
    `<s> pieces </s>` as pretraining sees a sentence; left out: pairs with a longer side."""
    import torch
    from fairseq.data import data_utils

    l1, l2 = pair.languages
    prefix = pair.bin_dir / PARALLEL_SUBDIR / f"valid.{l1}-{l2}"
    sides = [data_utils.load_indexed_dataset(f"{prefix}.{lang}", dictionary) for lang in (l1, l2)]
    if any(side is None for side in sides):
        raise InputError(
            f"{prefix}.{{{l1},{l2}}}: no parallel validation text; a natural pair needs "
            "`alignmlm prepare-pair ... --parallel TEXT1 TEXT2` for the layer-wise analysis"
        )
    bos = torch.tensor([dictionary.bos()])
    first, second, too_long = [], [], 0
    for i in range(len(sides[0])):
        if len(first) == limit:
            break
        a, b = (torch.cat([bos, side[i]]) for side in sides)
        if max(len(a), len(b)) > max_tokens:
            too_long += 1
            continue
        first.append(a)
        second.append(b)
    return first, second, too_long


def probe_data(pos: Path, pair: PreparedPair, dictionary, limit: int, max_tokens: int) -> dict:
    """{'train', 'test1', 'test2'}: tagged tokens of POS's train.conllu (language 1),
    test.conllu and test_derived.conllu (language 2), at most LIMIT sentences each."""
    import sentencepiece as spm

    from alignmlm.analysis import tagged_tokens
    from alignmlm.data.conllu_reader import UPOS_TAGS, tagged_words
    from alignmlm.data.twins import word_pieces
    from alignmlm.data_prep.task_data import check_matches_pair

    problem = check_matches_pair(pos, pair)  # refuses data of another transform or languages
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    sp = spm.SentencePieceProcessor(model_file=str(pair.spm_model))

    def encode(text):
        return sp.encode(text, out_type=str)

    twins = pair.twin_offset > 0

    def word_ids(word):
        return [
            dictionary.index(p) for p in (word_pieces(word, encode, pair.anchors) if twins else encode(word))
        ]

    label_index = {tag: i for i, tag in enumerate(UPOS_TAGS)}
    data = {}
    for name, split in (("train", "train"), ("test1", "test"), ("test2", "test_derived")):
        path = pos / f"{split}.conllu"
        if not path.is_file():
            raise InputError(f"--pos {pos}: {path.name} not found (prepare-pos writes it)")
        sentences = tagged_words(path)[:limit]
        data[name] = tagged_tokens(
            sentences, word_ids, label_index, dictionary.bos(), dictionary.eos(), max_tokens
        )
    return data


def analyze(args) -> dict:
    from alignmlm import analysis
    from alignmlm.alignment_benchmark import AlignmentBenchmark
    from alignmlm.models.embeddings import language_embeddings

    try:
        pair = PreparedPair.load(args.pair) if args.pair else None
    except PairError as err:
        raise SystemExit(f"error: --pair {err}") from None
    if pair is None:
        from alignmlm.checkpoint import checkpoint_config

        trained_on = Path(checkpoint_config(args.checkpoint)["task"]["data"])
        try:
            pair = PreparedPair.load(trained_on)
        except PairError:
            raise SystemExit(
                f"error: {args.checkpoint} was trained on {trained_on}, not a prepared pair found from here; pass --pair"
            ) from None
    model, task = load_model(args.checkpoint, pair)
    target = model if args.target_checkpoint is None else load_model(args.target_checkpoint, pair)[0]
    dictionary = task.dictionary
    bench = AlignmentBenchmark(pair, dictionary)
    result = {
        "checkpoint": str(args.checkpoint),
        "checkpoint_sha256": file_sha256(args.checkpoint),
        "target_checkpoint": str(args.target_checkpoint) if args.target_checkpoint else None,
        "pair": str(pair.root),
        "pair_fingerprint": pair.fingerprint(),
        "procrustes": analysis.procrustes_alignment(
            bench, language_embeddings(model, 0), language_embeddings(target, 1)
        ),
    }
    max_tokens = int(task.cfg.tokens_per_sample)  # the model's positions
    side1, side2, too_long = parallel_sentences(pair, dictionary, args.sentences, max_tokens)
    specials = {dictionary.bos(), dictionary.eos(), dictionary.unk()}
    result["layers"] = {
        "sentences": len(side1),
        "left_out_longer_than_the_model": too_long,
        "per_layer": analysis.layer_similarity(model, target, side1, side2, specials, dictionary.pad()),
    }
    if args.pos is not None:
        data = probe_data(args.pos, pair, dictionary, args.probe_sentences, max_tokens)
        result["probe"] = {
            "task": "upos",
            "pos": str(args.pos),
            "words": {name: int(len(split[2])) for name, split in data.items()},
            "words_cut_by_the_model_length": {name: split[3] for name, split in data.items()},
            "per_layer": analysis.probe_transfer(
                model, target, data["train"], data["test1"], data["test2"], dictionary.pad()
            ),
        }
    return result


def plot_layers(path: Path, analyses: dict) -> None:
    """One panel per per-layer figure (CKA, sentence retrieval, probe transfer), one line per
    entry of ANALYSES ({label: analyze's result}, e.g. one per objective)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("layers", "cka", "linear CKA"),
        ("layers", "retrieval_p1_1to2", "sentence retrieval P@1 1→2 (%)"),
    ]
    if all("probe" in a for a in analyses.values()):
        panels.append(("probe", "accuracy_2", "UPOS probe on language 2 (%)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (group, key, title) in zip(axes[0], panels):
        for label, result in analyses.items():
            rows = result[group]["per_layer"]
            ax.plot([r["layer"] for r in rows], [r[key] for r in rows], marker="o", label=label)
        ax.set_xlabel("layer (0: embeddings)")
        ax.set_title(title, fontsize=10)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="a checkpoint of this plugin")
    p.add_argument(
        "--target-checkpoint",
        type=Path,
        help="take language 2's embeddings and states from this checkpoint (same pair's data): "
        "two separately trained models; default: --checkpoint's own",
    )
    p.add_argument(
        "--pair", type=Path, help="prepared pair directory (default: the one --checkpoint was trained on)"
    )
    p.add_argument("--pos", type=Path, help="prepare-pos data of the pair: adds the UPOS probe per layer")
    p.add_argument(
        "--sentences", type=int, default=1000, help="parallel validation sentences for the layer-wise figures"
    )
    p.add_argument(
        "--probe-sentences", type=int, default=1000, help="sentences of each POS split the probe reads"
    )
    p.add_argument("--output", type=Path, required=True, help="the JSON; the plot goes beside it (.png)")
    return p


@reported
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    check_output(args.output)
    for flag, value in (("--sentences", args.sentences), ("--probe-sentences", args.probe_sentences)):
        if value < 2:
            raise SystemExit(f"error: {flag} must be at least 2, got {value}")
    result = analyze(args)
    text = json.dumps(result, indent=2)
    write_text_atomic(args.output, text + "\n")
    plot_layers(args.output.with_suffix(".png"), {args.checkpoint.parent.name or "model": result})
    print(text)
    print(f"analysis: {args.output}, plot: {args.output.with_suffix('.png')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
