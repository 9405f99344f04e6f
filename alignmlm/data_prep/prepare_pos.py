"""POS data for zero-shot transfer on a synthetic pair: the original CoNLL-U splits and their
derived-language versions side by side, as the `pos_tagging` task reads them.

    alignmlm prepare-pos --conllu-dir data/en_ewt/pos --transform trans+inv \\
        --out runs/pos/en_trans_inv [--seed 1]

Writes OUT/{train,valid,test}.conllu (original; valid = the input's dev.conllu) and
OUT/{train,valid,test}_derived.conllu (transformed like the pretraining data: use the same
--transform and --seed as prepare_pair). Then, with fairseq-train --task pos_tagging:
  B_Z: --train-subset train          --valid-subset valid,test_derived   (zero-shot)
  B_S: --train-subset train_derived  --valid-subset valid_derived,test_derived
and Δ = B_Z − B_S on test_derived accuracy.
"""

import shutil
import sys
from pathlib import Path

from alignmlm.errors import reported

from .task_data import argument_parser, write_splits
from .transform_conllu import transform_file

SPLITS = {"train": "train", "valid": "dev", "test": "test"}


def write(args) -> None:
    for split, source_name in SPLITS.items():
        source = args.conllu_dir / f"{source_name}.conllu"
        if not source.is_file():
            raise FileNotFoundError(f"{source}: CoNLL-U file not found")
        shutil.copyfile(source, args.out / f"{split}.conllu")
        n = transform_file(source, args.out / f"{split}_derived.conllu", args.transform, args.seed)
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
    return write_splits(p.parse_args(argv), write)


if __name__ == "__main__":
    sys.exit(main())
