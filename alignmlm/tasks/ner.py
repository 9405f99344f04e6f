"""Named-entity recognition (BIO tags) for zero-shot transfer: fine-tune on one language, test
on the other (docs/design.md §2), with the POS machinery: a label on each word's first piece
(criterion token_classification, model roberta_tagger).

DATA holds `{split}.ner` files (`word<TAB>tag`, a blank line between sentences, as
data_prep.prepare_ner writes them; WikiANN and CoNLL-2003 files read too, see
alignmlm.data.ner_reader). Labels: --labels (default O and B-/I- of PER, ORG, LOC, MISC); labels
outside it are counted and ignored like POS's.

Validation reports token `accuracy` (the criterion's; finetune selects on it) and the
entity-level span F1 (`f1`, with `precision` and `recall`, in percent; seqeval's definition,
alignmlm.ner_metrics): each validation batch is tagged again by the model (argmax on each word's
first piece), its chunk counts (correct, predicted, gold) are summed over the split and F1 is
derived from the sums, so it is the split's micro-averaged span F1, not a mean over batches.
"""

from dataclasses import dataclass, field
from pathlib import Path

import torch
from fairseq import metrics
from fairseq.tasks import register_task
from omegaconf import MISSING

from ..data.labelled_dataset import IGNORE
from ..data.ner_reader import read_ner
from ..ner_metrics import f1_from_counts, span_counts
from .finetuning import FinetuningConfig, FinetuningTask

NER_LABELS = "O,B-PER,I-PER,B-ORG,I-ORG,B-LOC,I-LOC,B-MISC,I-MISC"
COUNTS = ("ner_correct", "ner_predicted", "ner_gold")


@dataclass
class NerConfig(FinetuningConfig):
    data: str = field(default=MISSING, metadata={"help": "directory of {split}.ner files"})
    labels: str = field(
        default=NER_LABELS,
        metadata={"help": "comma-separated BIO label set (default: O and B-/I- of PER, ORG, LOC, MISC)"},
    )


def _derived_f1(meters, key: str) -> float:
    correct, predicted, gold = (meters[name].sum for name in COUNTS)
    return round(100.0 * f1_from_counts(correct, predicted, gold)[key], 2)


@register_task("ner", dataclass=NerConfig)
class NerTask(FinetuningTask):
    cfg: NerConfig

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        path = Path(self.cfg.data) / f"{split}.ner"
        self.add_tagged_split(split, path, read_ner(path))

    def sentence_tags(self, target: torch.Tensor, predicted: torch.Tensor) -> tuple[list, list]:
        """Gold and predicted tags of one sentence's labelled positions (each word's first
        piece; words whose label is outside the label set are left out, as from accuracy)."""
        labelled = target != IGNORE
        gold = [self.labels[i] for i in target[labelled].tolist()]
        return gold, [self.labels[i] for i in predicted[labelled].tolist()]

    def valid_step(self, sample, model, criterion):
        loss, sample_size, logging_output = super().valid_step(sample, model, criterion)
        with torch.no_grad():
            predicted = model(**sample["net_input"]).argmax(-1)
        totals = [0, 0, 0]
        for target, guess in zip(sample["target"], predicted):
            for k, n in enumerate(span_counts(*self.sentence_tags(target, guess))):
                totals[k] += n
        logging_output.update(zip(COUNTS, totals))
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)
        if not any(COUNTS[2] in log for log in logging_outputs):
            return  # training batches: no span counts
        for name in COUNTS:
            metrics.log_scalar_sum(name, sum(log.get(name, 0) for log in logging_outputs))
        for key in ("precision", "recall", "f1"):
            metrics.log_derived(key, lambda meters, key=key: _derived_f1(meters, key))
