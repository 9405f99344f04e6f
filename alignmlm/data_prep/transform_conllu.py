"""Derive CoNLL-U task data (e.g. UPOS) for a synthetic language: words and their labels move
together under the word-order transforms; `trans` marks every word form with the twin prefix
(`§word`), which the fine-tuning tokenizer turns into the twins of the word's pieces.

    alignmlm transform-conllu --input data/en_ewt/pos/train.conllu \\
        --transform trans+inv --output runs/pos/en_trans_inv/train.conllu [--seed 1]
    alignmlm transform-conllu --input en_ewt-ud-train.conllu --transform trans+syn \\
        --syn-treebank tr_boun-ud-train.conllu [--syn-heads nouns,verbs] --output OUT.conllu

`syn` (syn_order.py) reorders each dependency tree to the word order learned from
--syn-treebank (a UD treebank of the target language) for the dependents of the --syn-heads
(nouns, verbs or both); the input needs HEAD and DEPREL. With inv or perm too, syn comes first
and they reorder its result. Under syn, HEAD is kept and renumbered to the new ids (each word's
head is the same word as before); under inv / perm alone HEAD is dropped as before. DEPS is
always dropped.

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

from .syn_order import SynOrder, parse_heads
from .transforms import WordSentenceTransform, parse_transforms


def transform_sentence(
    sentence: conllu.TokenList,
    derive: WordSentenceTransform,
    syn: SynOrder | None = None,
    index: int = 0,
    source: Path | None = None,
) -> conllu.TokenList:
    words = [t for t in sentence if isinstance(t["id"], int)]
    if syn is None:
        forms, tokens = derive([t["form"] for t in words], words)
        # syntax (head, deps) does not survive inv / perm
        out = [
            dict(token, id=new_id, form=form, head=None, deps=None)
            for new_id, (form, token) in enumerate(zip(forms, tokens), 1)
        ]
    else:  # syn first, then inv / perm; HEAD renumbered to the new ids
        words = [words[i] for i in syn.sentence_order(sentence, index, source)]
        forms, tokens = derive([t["form"] for t in words], words)
        new_id = {token["id"]: k for k, token in enumerate(tokens, 1)}
        out = [
            dict(token, id=k, form=form, head=new_id.get(token["head"], 0), deps=None)
            for k, (form, token) in enumerate(zip(forms, tokens), 1)
        ]
    metadata = {k: v for k, v in sentence.metadata.items() if k != "text"}
    metadata["text"] = " ".join(t["form"] for t in out)
    return conllu.TokenList(out, metadata=metadata)


def syn_from_args(spec: str, treebank: Path | None, heads: str) -> SynOrder | None:
    """The SynOrder that --transform SPEC asks for (None without syn); flags checked first."""
    names = parse_transforms(spec)
    heads_ = parse_heads(heads)
    if "syn" not in names:
        if treebank is not None:
            raise InputError(f"--syn-treebank {treebank} is given but --transform {spec!r} has no syn")
        return None
    if treebank is None:
        raise InputError(
            f"--transform {spec!r} has syn: give --syn-treebank, a UD treebank (CoNLL-U) of the target "
            "language whose word order syn copies"
        )
    if not Path(treebank).is_file():
        raise InputError(f"--syn-treebank {treebank}: CoNLL-U file not found; check the path")
    return SynOrder.from_treebank(Path(treebank), heads_)


def write_transformed(
    sentences: list,
    dst: Path,
    spec: str,
    seed: int,
    syn: SynOrder | None = None,
    source: Path | None = None,
) -> int:
    """Write the derived SENTENCES to DST (a temporary file renamed over it at the end); SYN
    (required when SPEC has syn) reorders the trees first, SOURCE names the input in errors."""
    names = parse_transforms(spec)
    if ("syn" in names) != (syn is not None):
        raise InputError(f"--transform {spec!r}: syn needs --syn-treebank, and --syn-treebank needs syn")
    derive = WordSentenceTransform(names, seed, trees=True, split_sentences=False)  # one sentence each
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for index, sentence in enumerate(sentences):
                f.write(transform_sentence(sentence, derive, syn, index, source).serialize())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return len(sentences)


def transform_file(src: Path, dst: Path, spec: str, seed: int) -> int:
    dst.parent.mkdir(parents=True, exist_ok=True)
    return write_transformed(parse_conllu(src), dst, spec, seed)  # (no syn: see main)


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


def add_syn_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--syn-treebank",
        type=Path,
        default=None,
        help="with --transform ...+syn: a UD treebank (CoNLL-U) of the target language whose word "
        "order syn copies",
    )
    p.add_argument(
        "--syn-heads",
        default="nouns,verbs",
        help="with syn: whose dependents are reordered: nouns, verbs or nouns,verbs (default)",
    )


@reported
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, required=True, help="CoNLL-U file of language 1")
    p.add_argument("--output", type=Path, required=True, help="CoNLL-U file to write")
    p.add_argument("--transform", required=True, help="e.g. trans+inv (as for prepare_pair)")
    p.add_argument("--seed", type=int, default=1, help="seed of perm (as for prepare_pair)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    add_syn_arguments(p)
    args = p.parse_args(argv)
    check_paths(args)
    syn = syn_from_args(args.transform, args.syn_treebank, args.syn_heads)
    sentences = parse_conllu(args.input)
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        n = write_transformed(sentences, args.output, args.transform, args.seed, syn, args.input)
    except OSError as err:
        raise InputError(f"--output {args.output}: cannot write it ({describe_os_error(err)})") from None
    print(f"{args.output}: {n} sentences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
