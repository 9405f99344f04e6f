"""NER data for zero-shot transfer on a synthetic pair: the original splits and their
derived-language versions side by side, as the `ner` task reads them.

    alignmlm prepare-ner --train TRAIN --valid VALID --test TEST \\
        --transform trans+inv --out runs/ner/en_trans_inv [--seed 1]

Reads WikiANN / PAN-X (`en:word<TAB>TAG`) or CoNLL-2003 column files (alignmlm.data.ner_reader;
BIO / IOB2 tags, IOB1 read as conlleval does) and writes OUT/{train,valid,test}.ner (`word<TAB>tag`
per line, a blank line between sentences; tags written in IOB2) and
OUT/{train,valid,test}_derived.ner: the words reordered like the pretraining data (use the same
--transform and --seed as prepare_pair), `§word` under trans, and the tags re-derived so that
every entity reads B- then I- in the new order (alignmlm.data.bio.reorder_tags: under inv
`New/B-LOC York/I-LOC is/O big/O` becomes `big/O is/O York/B-LOC New/I-LOC`; under perm an
entity whose words are no longer adjacent becomes one entity per run of adjacent words).

Syn (dependency-tree word order) needs trees, which NER files do not have: it is refused
(alignmlm.data.bio.reorder_tags would re-derive the tags under any word order given trees).

Refused before anything is written, naming file and line: a word line without a tag, a tag that
is not O / B-X / I-X, a split without sentences. OUT records what made it in task_data.json.

WikiANN (the paper's NER set; these addresses cannot be reached from the machines this toolkit
is developed on: download elsewhere and copy the files over). The XTREME split of WikiANN
(Rahimi et al. 2019), as `lang:word<TAB>TAG` files:

  # from https://huggingface.co/datasets/unimelb-nlp/wikiann (English: train 20k, dev / test 10k)
  python -c "
  from datasets import load_dataset
  d = load_dataset('unimelb-nlp/wikiann', 'en'); names = d['train'].features['ner_tags'].feature.names
  for split, name in (('train', 'train'), ('validation', 'dev'), ('test', 'test')):
      with open(f'wikiann_en_{name}.txt', 'w') as f:
          for ex in d[split]:
              f.writelines(f'en:{w}\\t{names[t]}\\n' for w, t in zip(ex['tokens'], ex['ner_tags']))
              f.write('\\n')"
  alignmlm prepare-ner --train wikiann_en_train.txt --valid wikiann_en_dev.txt \\
      --test wikiann_en_test.txt --transform trans+inv --out runs/ner/en_trans_inv

  # or XTREME's PAN-X download (AmazonDrive panx_dataset.tar, see github.com/google-research/xtreme):
  tar xf panx_dataset.tar && tar xzf panx_dataset/en.tar.gz   # files train, dev, test
  alignmlm prepare-ner --train train --valid dev --test test --transform trans+inv --out ...

Then `alignmlm finetune --task ner --data OUT ...` (B_Z, B_S, Δ on token accuracy; the logs
hold the entity span F1 of every validated split as `{split}_f1`).
"""

import sys
from pathlib import Path

from alignmlm.data.bio import normalize, reorder_tags
from alignmlm.data.ner_reader import read_ner, write_ner
from alignmlm.errors import InputError, reported

from .task_data import argument_parser, write_splits
from .transforms import (
    WordSentenceTransform,
    compose_order,
    is_final_punctuation,
    parse_transforms,
    refuse_syn,
)

SPLITS = ("train", "valid", "test")
FILES = [f"{split}{suffix}.ner" for split in SPLITS for suffix in ("", "_derived")]


def derive_sentence(words: list, tags: list, derive: WordSentenceTransform) -> tuple[list, list]:
    """The derived words (reordered, `§` under trans) and their re-derived BIO tags."""
    keep_last = bool(words) and is_final_punctuation(words[-1])
    order = compose_order(len(words), keep_last, derive.order_fns)
    new_words, _ = derive(words)  # the same order: both come from compose_order
    return new_words, reorder_tags(tags, order)


def write(args, out: Path) -> None:
    derive = WordSentenceTransform(parse_transforms(args.transform), args.seed, split_sentences=False)
    read = {}
    for split in SPLITS:  # every split is checked before any is written
        source = getattr(args, split)
        sentences = read_ner(source)
        if not sentences:
            raise InputError(
                f"--{split} {source}: no sentences (the {split} split would be empty); give a NER "
                "file with at least one tagged sentence"
            )
        read[split] = sentences
    for split, sentences in read.items():
        write_ner([(w, normalize(t)) for w, t in sentences], out / f"{split}.ner")
        write_ner([derive_sentence(w, t, derive) for w, t in sentences], out / f"{split}_derived.ner")
        print(f"{split}: {len(sentences)} sentences (original and {args.transform})")


@reported
def main(argv=None) -> int:
    p = argument_parser(__doc__)
    for split in SPLITS:
        p.add_argument(
            f"--{split}", type=Path, required=True, help=f"{split} sentences: WikiANN / PAN-X or CoNLL-2003"
        )
    args = p.parse_args(argv)
    refuse_syn(parse_transforms(args.transform), "NER data (WikiANN, CoNLL-2003)")  # before any read
    return write_splits(
        args,
        write,
        command="prepare-ner",
        inputs={split: (f"--{split}", getattr(args, split)) for split in SPLITS},
        files=FILES,
    )


if __name__ == "__main__":
    sys.exit(main())
