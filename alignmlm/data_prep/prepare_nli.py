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

Labels must be entailment, neutral or contradiction (XNLI-MT's `contradictory` is read as
contradiction); any other label stops the conversion with its file and line, because the nli
task would leave those examples out of training. Numeric labels (Hugging Face's converted
MNLI / XNLI / SNLI: 0 entailment, 1 neutral, 2 contradiction, -1 no gold label) are read only
with --numeric-labels entailment,neutral,contradiction, which names the label of 0, 1 and 2.
Case variants (`Entailment`) are read only with --lowercase-labels. A split left with no
pairs is refused. OUT records what made it in task_data.json (transform, seed, options, the
inputs' content hashes, the files).

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

from alignmlm.data.nli_reader import LABEL_ALIASES, NLI_LABELS, NliExample, read_nli
from alignmlm.errors import InputError, reported

from .task_data import argument_parser, write_splits
from .transforms import WordSentenceTransform, parse_transforms, split_final_punctuation

NO_GOLD_LABEL = ("-", "")
SPLITS = ("train", "valid", "test")
FILES = [f"{split}{suffix}.jsonl" for split in SPLITS for suffix in ("", "_derived")]
HF_ORDER = ",".join(NLI_LABELS)  # Hugging Face's MNLI / XNLI / SNLI: 0, 1, 2


def words(text: str) -> list:
    return split_final_punctuation(text).split()


def parse_numeric_labels(text: str | None) -> tuple | None:
    """--numeric-labels 'entailment,neutral,contradiction' -> the label of 0, 1, 2."""
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(","))
    if sorted(names) != sorted(NLI_LABELS):
        raise InputError(
            f"--numeric-labels {text!r}: expected the three labels {', '.join(NLI_LABELS)} in the "
            f"order of the numbers 0, 1, 2, e.g. {HF_ORDER} (Hugging Face's MNLI, XNLI, SNLI)"
        )
    return names


def gold_label(ex: NliExample, where: str, numeric: tuple | None, lowercase: bool) -> str | None:
    """The example's label in NLI_LABELS, None without a gold label; an InputError naming WHERE
    (file:line) and the fix for any other label."""
    label = ex.label.strip()
    if label in NO_GOLD_LABEL:
        return None
    is_number = label.lstrip("-").isdigit()
    if numeric is not None and is_number:
        number = int(label)
        if number == -1:  # Hugging Face's "no gold label"
            return None
        if not 0 <= number < len(numeric):
            raise InputError(
                f"{where}: label {label!r}: --numeric-labels names the labels of 0..{len(numeric) - 1} only"
            )
        return numeric[number]
    if lowercase:
        label = LABEL_ALIASES.get(label.lower(), label.lower())
    if label in NLI_LABELS:
        return label
    if is_number:
        raise InputError(
            f"{where}: numeric label {label!r}: say which label each number stands for, e.g. "
            f"--numeric-labels {HF_ORDER} for Hugging Face's MNLI, XNLI and SNLI (0 entailment, "
            "1 neutral, 2 contradiction; -1 is no gold label)"
        )
    if LABEL_ALIASES.get(label.lower(), label.lower()) in NLI_LABELS:
        raise InputError(
            f"{where}: label {label!r}: the labels are lower case ({', '.join(NLI_LABELS)}); "
            "pass --lowercase-labels to read case variants as them"
        )
    raise InputError(
        f"{where}: label {label!r} is not an NLI label: expected {', '.join(NLI_LABELS)} "
        "('-' or empty: no gold label, dropped)"
    )


def convert(
    source: Path,
    out: Path,
    derived: Path,
    derive: WordSentenceTransform,
    language: str,
    numeric: tuple | None = None,
    lowercase: bool = False,
) -> dict:
    """Write one split in both languages; returns counts of what was kept and dropped."""
    counts = {"kept": 0, "no_gold_label": 0, "other_language": 0}
    with open(out, "w", encoding="utf-8") as f, open(derived, "w", encoding="utf-8") as g:
        for ex in read_nli(source):
            if ex.language is not None and language and ex.language != language:
                counts["other_language"] += 1
                continue
            label = gold_label(ex, f"{source}:{ex.line}", numeric, lowercase)
            if label is None:
                counts["no_gold_label"] += 1
                continue
            premise, hypothesis = words(ex.premise), words(ex.hypothesis)
            for file, p, h in ((f, premise, hypothesis), (g, derive(premise)[0], derive(hypothesis)[0])):
                file.write(
                    json.dumps(
                        {"premise": " ".join(p), "hypothesis": " ".join(h), "label": label},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
            counts["kept"] += 1
    return counts


def write(args, out: Path) -> None:
    derive = WordSentenceTransform(parse_transforms(args.transform), args.seed)
    numeric = parse_numeric_labels(args.numeric_labels)
    for split in SPLITS:
        source = getattr(args, split)
        counts = convert(
            source,
            out / f"{split}.jsonl",
            out / f"{split}_derived.jsonl",
            derive,
            args.language,
            numeric,
            args.lowercase_labels,
        )
        if counts["kept"] == 0:
            raise InputError(
                f"--{split} {source}: no pairs left for the {split} split ({counts['no_gold_label']} "
                f"without a gold label, {counts['other_language']} of other languages than "
                f"--language {args.language!r}); give a file with labelled pairs"
                + (" or another --language" if counts["other_language"] else "")
            )
        print(
            f"{split}: {counts['kept']} pairs (original and {args.transform}); dropped "
            f"{counts['no_gold_label']} without a gold label, {counts['other_language']} "
            "of other languages"
        )


@reported
def main(argv=None) -> int:
    p = argument_parser(__doc__)
    for split in SPLITS:
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
    p.add_argument(
        "--numeric-labels",
        metavar="LABEL0,LABEL1,LABEL2",
        help="read numeric labels: the label of 0, 1 and 2 (-1: no gold label), e.g. "
        f"{HF_ORDER} for Hugging Face's MNLI, XNLI and SNLI; without it numeric labels are refused",
    )
    p.add_argument(
        "--lowercase-labels",
        action="store_true",
        help="read labels in any case (Entailment as entailment); without it they are refused",
    )
    args = p.parse_args(argv)
    parse_numeric_labels(args.numeric_labels)  # before anything is read
    return write_splits(
        args,
        write,
        command="prepare-nli",
        inputs={split: (f"--{split}", getattr(args, split)) for split in SPLITS},
        files=FILES,
        options={
            "language": args.language,
            "numeric_labels": args.numeric_labels,
            "lowercase_labels": args.lowercase_labels,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
