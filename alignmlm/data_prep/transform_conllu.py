"""Derive CoNLL-U task data (e.g. UPOS) for a synthetic language: words and their labels move
together under the word-order transforms; `trans` marks every word form with the twin prefix
(`§word`), which the fine-tuning tokenizer turns into the twins of the word's pieces.

    alignmlm transform-conllu --input data/en_ewt/pos/train.conllu \\
        --transform trans+inv --output runs/pos/en_trans_inv/train.conllu [--seed 1]

Use the same --transform and --seed as for pretraining (prepare_pair), so both are the same
language. Only word lines are kept (multi-word ranges and empty nodes are dropped). The output
is written beside --output and renamed over it at the end: an existing --output (replaced only
with --overwrite) is never left half-written.
"""

import argparse
import os
import sys
from pathlib import Path

import conllu

from alignmlm.data.conllu_reader import parse_conllu
from alignmlm.errors import InputError, describe_os_error, reported

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


def write_transformed(sentences: list, dst: Path, spec: str, seed: int) -> int:
    """Write the derived SENTENCES to DST (a temporary file renamed over it at the end)."""
    derive = WordSentenceTransform(parse_transforms(spec), seed)
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for sentence in sentences:
                f.write(transform_sentence(sentence, derive).serialize())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return len(sentences)


def transform_file(src: Path, dst: Path, spec: str, seed: int) -> int:
    dst.parent.mkdir(parents=True, exist_ok=True)
    return write_transformed(parse_conllu(src), dst, spec, seed)


def check_paths(args: argparse.Namespace) -> None:
    """--input and --output, checked before anything is read or written (one line each)."""
    parse_transforms(args.transform)
    if args.input.is_dir():
        raise InputError(f"--input {args.input} is a directory; give a CoNLL-U file")
    if not args.input.is_file():
        raise InputError(f"--input {args.input}: CoNLL-U file not found; check the path")
    if not os.access(args.input, os.R_OK):
        raise InputError(f"--input {args.input}: no permission to read it; fix its permissions")
    if args.output.is_dir():
        raise InputError(f"--output {args.output} is a directory; give the path of the file to write")
    if args.output.exists() and args.output.samefile(args.input):
        raise InputError(f"--output {args.output} is the --input file; write the derived data elsewhere")
    if args.output.exists() and not args.overwrite:
        raise InputError(f"--output {args.output} exists; pass --overwrite to replace it")
    for parent in args.output.parents:  # mkdir would blame the file with "File exists"
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"--output {args.output}: {parent} is a file, not a directory")
            break


@reported
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, required=True, help="CoNLL-U file of language 1")
    p.add_argument("--output", type=Path, required=True, help="CoNLL-U file to write")
    p.add_argument("--transform", required=True, help="e.g. trans+inv (as for prepare_pair)")
    p.add_argument("--seed", type=int, default=1, help="seed of perm (as for prepare_pair)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    args = p.parse_args(argv)
    check_paths(args)
    sentences = parse_conllu(args.input)
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        n = write_transformed(sentences, args.output, args.transform, args.seed)
    except OSError as err:
        raise InputError(f"--output {args.output}: cannot write it ({describe_os_error(err)})") from None
    print(f"{args.output}: {n} sentences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
