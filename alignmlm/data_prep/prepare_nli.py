"""NLI data for zero-shot transfer on a synthetic pair: the original splits and their
derived-language versions side by side, as the `nli` task reads them.

    alignmlm prepare-nli --train TRAIN --valid VALID --test TEST \\
        --transform trans+inv --out runs/nli/en_trans_inv [--seed 1] [--language en]

Reads MNLI / SNLI / XNLI TSV or JSONL (told apart by header or keys, see
alignmlm.data.nli_reader) and writes OUT/{train,valid,test}.jsonl (premise, hypothesis, label)
and OUT/{train,valid,test}_derived.jsonl: the words (whitespace-separated, a sentence-final
". ! ?" detached as in prepare_pair) of premise and hypothesis transformed separately, like the
pretraining data: use the same --transform and --seed as prepare_pair. Both versions hold the
same words. Examples without a gold label ("-" or empty, as in SNLI) are dropped and counted;
--language keeps only the rows of that language in files with a `language` column (XNLI-1.0).

The real sets (these addresses cannot be reached from the machines this toolkit is developed
on; download elsewhere and copy the files over):

  # MNLI (GLUE): train 393k, dev_matched / dev_mismatched 10k each
  wget https://dl.fbaipublicfiles.com/glue/data/MNLI.zip && unzip MNLI.zip
  alignmlm prepare-nli --train MNLI/train.tsv --valid MNLI/dev_matched.tsv \\
      --test MNLI/dev_mismatched.tsv --transform trans+inv --out runs/nli/mnli_trans_inv

  # XNLI, English (the paper's set): MNLI train from XNLI-MT, XNLI-1.0's dev and test
  wget https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip https://dl.fbaipublicfiles.com/XNLI/XNLI-MT-1.0.zip
  unzip XNLI-1.0.zip && unzip XNLI-MT-1.0.zip
  alignmlm prepare-nli --train XNLI-MT-1.0/multinli/multinli.train.en.tsv \\
      --valid XNLI-1.0/xnli.dev.tsv --test XNLI-1.0/xnli.test.tsv --language en \\
      --transform trans+inv --out runs/nli/xnli_en_trans_inv

Then, with fairseq-train --task nli:
  B_Z: --train-subset train          --valid-subset valid,test_derived   (zero-shot)
  B_S: --train-subset train_derived  --valid-subset valid_derived,test_derived
and Δ = B_Z − B_S on test_derived accuracy.
"""

import json
import sys
from pathlib import Path

from alignmlm.data.nli_reader import read_nli
from alignmlm.errors import reported

from .task_data import argument_parser, write_splits
from .transforms import WordSentenceTransform, parse_transforms, split_final_punctuation

NO_GOLD_LABEL = ("-", "")


def words(text: str) -> list:
    return split_final_punctuation(text).split()


def convert(source: Path, out: Path, derived: Path, derive: WordSentenceTransform, language: str) -> dict:
    """Write one split in both languages; returns counts of what was kept and dropped."""
    counts = {"kept": 0, "no_gold_label": 0, "other_language": 0}
    with open(out, "w", encoding="utf-8") as f, open(derived, "w", encoding="utf-8") as g:
        for ex in read_nli(source):
            if ex.language is not None and language and ex.language != language:
                counts["other_language"] += 1
                continue
            if ex.label.strip() in NO_GOLD_LABEL:
                counts["no_gold_label"] += 1
                continue
            premise, hypothesis = words(ex.premise), words(ex.hypothesis)
            for file, p, h in ((f, premise, hypothesis), (g, derive(premise)[0], derive(hypothesis)[0])):
                file.write(
                    json.dumps(
                        {"premise": " ".join(p), "hypothesis": " ".join(h), "label": ex.label.strip()},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
            counts["kept"] += 1
    return counts


def write(args) -> None:
    derive = WordSentenceTransform(parse_transforms(args.transform), args.seed)
    for split in ("train", "valid", "test"):
        counts = convert(
            getattr(args, split),
            args.out / f"{split}.jsonl",
            args.out / f"{split}_derived.jsonl",
            derive,
            args.language,
        )
        print(
            f"{split}: {counts['kept']} pairs (original and {args.transform}); dropped "
            f"{counts['no_gold_label']} without a gold label, {counts['other_language']} "
            "of other languages"
        )


@reported
def main(argv=None) -> int:
    p = argument_parser(__doc__)
    for split in ("train", "valid", "test"):
        p.add_argument(
            f"--{split}",
            type=Path,
            required=True,
            help=f"{split} examples: .tsv or .jsonl (MNLI, SNLI, XNLI or ours)",
        )
    p.add_argument(
        "--language",
        default="en",
        help="keep rows of this language where the file has a `language` column (XNLI-1.0); '' keeps all",
    )
    return write_splits(p.parse_args(argv), write)


if __name__ == "__main__":
    sys.exit(main())
