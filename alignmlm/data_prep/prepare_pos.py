"""POS data for zero-shot transfer: CoNLL-U splits of the pair's first language and of its second
language side by side, as the `pos_tagging` task reads them. The second language is synthetic
(--transform: the first language's splits transformed) or natural (--target-conllu-dir: a
treebank of the pair's second language); give exactly one.

    alignmlm prepare-pos --conllu-dir data/en_ewt/pos --transform trans+inv \\
        --out runs/pos/en_trans_inv [--seed 1]
    alignmlm prepare-pos --conllu-dir data/en_ewt/pos --transform trans+syn \\
        --syn-treebank data/tr_boun/train.conllu --out runs/pos/en_trans_syn
    alignmlm prepare-pos --conllu-dir data/en_ewt/pos --target-conllu-dir data/tr_boun/pos \\
        --lang1 en --lang2 tr --out runs/pos/en_tr

Writes OUT/{train,valid,test}.conllu (--conllu-dir's train, dev and test.conllu, as they are)
and OUT/{train,valid,test}_derived.conllu: the second language. Synthetic: transformed like the
pretraining data (use the same --transform and --seed as prepare_pair; `--transform trans+syn
--syn-treebank TARGET.conllu [--syn-heads nouns,verbs]` reorders the trees, which --conllu-dir
then needs, see transform_conllu). Natural: --target-conllu-dir's train, dev and test.conllu, as
they are (no transform; "derived" names the pair's second language, which fine-tuning gives
language id 1); --lang1 / --lang2 name the two treebanks' languages, checked against the pair's
(its --lang1 and --lang2, in that order) when fine-tuning. Then, with fairseq-train --task
pos_tagging:
  B_Z: --train-subset train          --valid-subset valid,test_derived   (zero-shot)
  B_S: --train-subset train_derived  --valid-subset valid_derived,test_derived
and Δ = B_Z − B_S on test_derived accuracy.

Refused before anything is written, naming file and line: a split without sentences, a word
whose UPOS tag is not one of the 17 UPOS tags (e.g. lower-case `noun`, or `_`), in either
language. A tag that one language's split lacks is fine (a note names the tags of language 2's
test split that language 1's train split never has: B_Z cannot learn them). OUT records what
made it in task_data.json (kind, transform, seed or the languages, the inputs' content hashes,
the UPOS tags of every split with their counts, the files).
"""

import shutil
import sys
from collections import Counter
from pathlib import Path

from alignmlm.data.conllu_reader import check_upos, parse_conllu, word_sentences
from alignmlm.errors import InputError, reported

from .task_data import argument_parser, write_splits
from .transform_conllu import add_syn_arguments, syn_from_args, write_transformed

SPLITS = {"train": "train", "valid": "dev", "test": "test"}  # written split -> input file name
DERIVED = "_derived"  # the second language's files (what finetuning.FinetuningConfig reads so)
FILES = [f"{split}{suffix}.conllu" for split in SPLITS for suffix in ("", DERIVED)]
FLAGS = {"": "--conllu-dir", DERIVED: "--target-conllu-dir"}  # a written file's suffix -> its input


def source_files(conllu_dir: Path, flag: str = FLAGS[""], suffix: str = "") -> dict:
    """split + SUFFIX -> (FLAG, its input file), as write_splits records them."""
    if conllu_dir.is_file():
        raise InputError(
            f"{flag} {conllu_dir} is a file; give the directory holding train.conllu, "
            "dev.conllu and test.conllu"
        )
    return {f"{split}{suffix}": (flag, conllu_dir / f"{name}.conllu") for split, name in SPLITS.items()}


def read_checked(source: Path, split: str) -> list:
    """The sentences of one input file, refused (file and line) when it has none or a word
    outside the 17 UPOS tags."""
    sentences = word_sentences(parse_conllu(source))
    if not sentences:
        raise InputError(
            f"{source}: no sentences (the {split} split would be empty); give a CoNLL-U file "
            "with at least one sentence"
        )
    check_upos(source)
    return sentences


def write(args, out: Path) -> dict | None:
    if args.target_conllu_dir is not None:
        return write_natural(args, out)
    sources = {}
    for split, source_name in SPLITS.items():  # every split is checked before any is written
        source = args.conllu_dir / f"{source_name}.conllu"
        sources[split] = (source, read_checked(source, split))
    for split, (source, sentences) in sources.items():
        shutil.copyfile(source, out / f"{split}.conllu")
        n = write_transformed(
            sentences, out / f"{split}{DERIVED}.conllu", args.transform, args.seed, args.syn, source
        )
        print(f"{split}: {n} sentences (original and {args.transform})")
    return None


def write_natural(args, out: Path) -> dict:
    """Both treebanks' files as they are; returns the UPOS tags of every split (for the record)."""
    inputs = {
        **source_files(args.conllu_dir),
        **source_files(args.target_conllu_dir, FLAGS[DERIVED], DERIVED),
    }
    sentences = {name: read_checked(source, name) for name, (_, source) in inputs.items()}  # all first
    for name, (_, source) in inputs.items():
        shutil.copyfile(source, out / f"{name}.conllu")
    names = args.languages or ["language 1", "language 2"]
    for split in SPLITS:
        print(f"{split}: {len(sentences[split])} sentences ({names[0]}), "
              f"{len(sentences[split + DERIVED])} ({names[1]})")  # fmt: skip
    tags = {
        name: Counter(t["upos"] for s in sents for t in s if isinstance(t["id"], int))
        for name, sents in sentences.items()
    }
    unseen = sorted(set(tags[f"test{DERIVED}"]) - set(tags["train"]))
    if unseen:  # allowed (treebanks differ), but worth knowing when reading B_Z
        print(
            f"note: UPOS tags of the {names[1]} test split that the {names[0]} train split never "
            f"has: {', '.join(unseen)} (B_Z cannot learn them)"
        )
    return {"tags": {name: dict(sorted(c.items())) for name, c in tags.items()}}


def languages_from_args(args) -> list | None:
    """[--lang1, --lang2] of a natural second language (None when neither is given)."""
    given = [lang for lang in (args.lang1, args.lang2) if lang is not None]
    if given and args.target_conllu_dir is None:
        raise InputError(
            "--lang1 / --lang2 name the treebanks of a natural pair: they go with "
            "--target-conllu-dir (a synthetic language's name comes from its --transform)"
        )
    if len(given) == 1:
        raise InputError(
            "give both --lang1 and --lang2 (the languages of --conllu-dir and --target-conllu-dir)"
        )
    if given and args.lang1 == args.lang2:
        raise InputError(f"--lang1 and --lang2 are both {args.lang1!r}: a pair has two languages")
    return given or None


@reported
def main(argv=None) -> int:
    p = argument_parser(__doc__, transform_required=False)
    p.add_argument(
        "--conllu-dir",
        type=Path,
        required=True,
        help="directory with train.conllu, dev.conllu and test.conllu of language 1",
    )
    p.add_argument(
        "--target-conllu-dir",
        type=Path,
        help="instead of --transform, for a natural pair: the same three files of language 2 "
        "(a treebank of the pair's second language, with the 17 UPOS tags)",
    )
    p.add_argument("--lang1", help="with --target-conllu-dir: the language of --conllu-dir (e.g. en)")
    p.add_argument("--lang2", help="with --target-conllu-dir: the language of --target-conllu-dir (e.g. tr)")
    add_syn_arguments(p)
    args = p.parse_args(argv)
    if (args.transform is None) == (args.target_conllu_dir is None):
        raise InputError(
            "give exactly one of --transform (a synthetic second language, derived from "
            "--conllu-dir) and --target-conllu-dir (a natural one: a treebank of the pair's "
            "second language)"
        )
    args.languages = languages_from_args(args)
    inputs = source_files(args.conllu_dir)
    options = None
    if args.target_conllu_dir is not None:
        if args.syn_treebank is not None:
            raise InputError(
                f"--syn-treebank {args.syn_treebank} goes with --transform ...+syn; a natural "
                "second language (--target-conllu-dir) is not reordered"
            )
        inputs.update(source_files(args.target_conllu_dir, FLAGS[DERIVED], DERIVED))
    else:
        args.syn = syn_from_args(args.transform, args.syn_treebank, args.syn_heads)
        if args.syn is not None:  # the target treebank is an input: its hash goes into the record
            inputs["syn_treebank"] = ("--syn-treebank", args.syn_treebank)
            options = {"syn_heads": ",".join(args.syn.heads)}
    return write_splits(
        args,
        write,
        command="prepare-pos",
        inputs=inputs,
        files=FILES,
        options=options,
        languages=args.languages,
    )


if __name__ == "__main__":
    sys.exit(main())
