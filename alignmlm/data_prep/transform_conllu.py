"""Derive CoNLL-U task data (e.g. UPOS) for a synthetic language: words and their labels move
together under the word-order transforms; `trans` marks every word form with the twin prefix
(`§word`), which the fine-tuning tokenizer turns into the twins of the word's pieces.

    alignmlm transform-conllu --input data/en_ewt/pos/train.conllu \\
        --transform trans+inv --output runs/pos/en_trans_inv/train.conllu [--seed 1]

Use the same --transform and --seed as for pretraining (prepare_pair), so both are the same
language. Only word lines are kept (multi-word ranges and empty nodes are dropped).
"""

import argparse
import sys
from pathlib import Path

import conllu

from alignmlm.data.conllu_reader import parse_conllu
from alignmlm.errors import reported

from .transforms import WordSentenceTransform, parse_transforms


def transform_sentence(sentence: conllu.TokenList, derive: WordSentenceTransform) -> conllu.TokenList:
    words = [t for t in sentence if isinstance(t["id"], int)]
    forms, tokens = derive([t["form"] for t in words], words)
    # syntax (head, deps) does not survive the reordering
    out = [
        dict(token, id=new_id, form=form, head=None, deps=None)
        for new_id, (form, token) in enumerate(zip(forms, tokens), 1)
    ]
    metadata = {k: v for k, v in sentence.metadata.items() if k != "text"}
    metadata["text"] = " ".join(t["form"] for t in out)
    return conllu.TokenList(out, metadata=metadata)


def transform_file(src: Path, dst: Path, spec: str, seed: int) -> int:
    derive = WordSentenceTransform(parse_transforms(spec), seed)
    sentences = parse_conllu(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "w", encoding="utf-8") as f:
        for sentence in sentences:
            f.write(transform_sentence(sentence, derive).serialize())
    return len(sentences)


@reported
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, required=True, help="CoNLL-U file of language 1")
    p.add_argument("--output", type=Path, required=True, help="CoNLL-U file to write")
    p.add_argument("--transform", required=True, help="e.g. trans+inv (as for prepare_pair)")
    p.add_argument("--seed", type=int, default=1, help="seed of perm (as for prepare_pair)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    args = p.parse_args(argv)
    if args.output.exists() and args.input.exists() and args.output.samefile(args.input):
        print(
            f"error: --output {args.output} is the --input file; write the derived data elsewhere",
            file=sys.stderr,
        )
        return 2
    if args.output.exists() and not args.overwrite:
        print(f"error: {args.output} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    try:
        n = transform_file(args.input, args.output, args.transform, args.seed)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.output}: {n} sentences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
