"""Natural language inference (sentence-pair classification) for zero-shot transfer: fine-tune
on one language, test on the other (docs/design.md §2).

DATA holds `{split}.jsonl` (what data_prep.prepare_nli writes: premise, hypothesis, label) or
`{split}.tsv` (MNLI / XNLI columns; see alignmlm.data.nli_reader); a split is any file name, so
one run can report several test sets (`--valid-subset valid,test_derived`). Words are the
whitespace-separated tokens of each sentence, tokenized like POS words (`--pair`; `§word` takes
the twins of its pieces). Input: `<s> premise </s> </s> hypothesis </s>` (RoBERTa's pairs).
An example whose label is outside `--labels` is counted in the log (a warning) and left out of
the loss and of the accuracy (accuracy is over the examples with a known label); a split where
more than half are outside it is an error (e.g. numeric labels 0/1/2, or `Entailment`).
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from fairseq.tasks import register_task
from omegaconf import MISSING

from ..data.labelled_dataset import IGNORE
from ..data.nli_reader import read_nli
from ..data.sentence_pairs import encode_pair
from ..errors import InputError
from .finetuning import FinetuningConfig, FinetuningTask

logger = logging.getLogger(__name__)


@dataclass
class NliConfig(FinetuningConfig):
    data: str = field(
        default=MISSING,
        metadata={"help": "directory of {split}.jsonl (premise, hypothesis, label) or {split}.tsv files"},
    )
    labels: str = field(
        default="entailment,neutral,contradiction",
        metadata={
            "help": "comma-separated label set; examples with other labels are counted and left "
            "out of loss and accuracy (more than half of a split: an error)"
        },
    )


@register_task("nli", dataclass=NliConfig)
class NliTask(FinetuningTask):
    cfg: NliConfig

    def split_path(self, split: str) -> Path:
        found = [Path(self.cfg.data) / f"{split}{ext}" for ext in (".jsonl", ".tsv")]
        found = [path for path in found if path.is_file()]
        if len(found) != 1:
            raise InputError(
                f"{Path(self.cfg.data) / split}.jsonl or .tsv: expected one NLI file for split "
                f"{split!r}, found {len(found)}"
            )
        return found[0]

    def sentence_ids(self, text: str) -> list:
        return [i for word in text.split() for i in self.word_ids(word)]

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        path = self.split_path(split)
        tokens, targets, unknown, cut, labels_seen = [], [], 0, 0, Counter()
        for ex in read_nli(path):
            t, was_cut = encode_pair(
                self.sentence_ids(ex.premise),
                self.sentence_ids(ex.hypothesis),
                self.dictionary.bos(),
                self.dictionary.eos(),
                self.cfg.max_positions,
            )
            target = self.label_index.get(ex.label, IGNORE)
            tokens.append(t)
            targets.append(torch.tensor(target))
            unknown, cut = unknown + (target == IGNORE), cut + was_cut
            labels_seen[ex.label] += 1
        logger.info(
            "%s: %d pairs; %d with labels outside the label set (ignored), %d cut by --max-positions",
            path,
            len(tokens),
            unknown,
            cut,
        )
        self.check_labels(path, labels_seen)  # mostly unknown labels: an error, not a 0-gradient run
        self.add_split(split, tokens, targets)
