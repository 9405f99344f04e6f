"""POS data for zero-shot transfer on a synthetic pair: the original CoNLL-U splits and their
derived-language versions side by side, as the `pos_tagging` task reads them.

    alignmlm prepare-pos --conllu-dir data/en_ewt/pos --transform trans+inv \\
        --out runs/pos/en_trans_inv [--seed 1]
    alignmlm prepare-pos --conllu-dir data/en_ewt/pos --transform trans+syn \\
        --syn-treebank data/tr_boun/train.conllu --out runs/pos/en_trans_syn

Writes OUT/{train,valid,test}.conllu (original; valid = the input's dev.conllu) and
OUT/{train,valid,test}_derived.conllu (transformed like the pretraining data: use the same
--transform and --seed as prepare_pair; `--transform trans+syn --syn-treebank TARGET.conllu
[--syn-heads nouns,verbs]` reorders the trees, which --conllu-dir then needs, see
transform_conllu). Then, with fairseq-train --task pos_tagging:
  B_Z: --train-subset train          --valid-subset valid,test_derived   (zero-shot)
  B_S: --train-subset train_derived  --valid-subset valid_derived,test_derived
and Δ = B_Z − B_S on test_derived accuracy.

Refused before anything is written, naming file and line: a split without sentences, a word
whose UPOS tag is not one of the 17 UPOS tags (e.g. lower-case `noun`, or `_`). OUT records
what made it in task_data.json (transform, seed, the inputs' content hashes, the files).
"""

import shutil
import sys
from pathlib import Path

from alignmlm.data.conllu_reader import check_upos, parse_conllu, word_sentences
from alignmlm.errors import InputError, reported

from .task_data import argument_parser, write_splits
from .transform_conllu import add_syn_arguments, syn_from_args, write_transformed

SPLITS = {"train": "train", "valid": "dev", "test": "test"}  # written split -> input file name
FILES = [f"{split}{suffix}.conllu" for split in SPLITS for suffix in ("", "_derived")]


def source_files(conllu_dir: Path) -> dict:
    """split -> ("--conllu-dir", its input file), as write_splits records them."""
    if conllu_dir.is_file():
        raise InputError(
            f"--conllu-dir {conllu_dir} is a file; give the directory holding train.conllu, "
            "dev.conllu and test.conllu"
        )
    return {split: ("--conllu-dir", conllu_dir / f"{name}.conllu") for split, name in SPLITS.items()}


def write(args, out: Path) -> None:
    sources = {}
    for split, source_name in SPLITS.items():  # every split is checked before any is written
        source = args.conllu_dir / f"{source_name}.conllu"
        sentences = word_sentences(parse_conllu(source))
        if not sentences:
            raise InputError(
                f"{source}: no sentences (the {split} split would be empty); give a CoNLL-U file "
                "with at least one sentence"
            )
        check_upos(source)
        sources[split] = (source, sentences)
    for split, (source, sentences) in sources.items():
        shutil.copyfile(source, out / f"{split}.conllu")
        n = write_transformed(
            sentences, out / f"{split}_derived.conllu", args.transform, args.seed, args.syn, source
        )
        print(f"{split}: {n} sentences (original and {args.transform})")


@reported
def main(argv=None) -> int:
    p = argument_parser(__doc__)
    p.add_argument(
        "--conllu-dir",
        type=Path,
        required=True,
        help="directory with train.conllu, dev.conllu and test.conllu",
    )
    add_syn_arguments(p)
    args = p.parse_args(argv)
    inputs = source_files(args.conllu_dir)
    args.syn = syn_from_args(args.transform, args.syn_treebank, args.syn_heads)
    options = None
    if args.syn is not None:  # the target treebank is an input: its hash goes into the record
        inputs["syn_treebank"] = ("--syn-treebank", args.syn_treebank)
        options = {"syn_heads": ",".join(args.syn.heads)}
    return write_splits(args, write, command="prepare-pos", inputs=inputs, files=FILES, options=options)


if __name__ == "__main__":
    sys.exit(main())
