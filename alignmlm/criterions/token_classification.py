"""Cross-entropy over the labelled pieces (each word's first piece) and tagging accuracy."""

import math

import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion

from ..data.labelled_dataset import IGNORE


@register_criterion("token_classification")
class TokenClassificationLoss(FairseqCriterion):
    def forward(self, model, sample, reduce=True):
        logits = model(**sample["net_input"])
        target = sample["target"]
        labelled = target != IGNORE
        logits, target = logits[labelled].float(), target[labelled]
        loss = F.cross_entropy(logits, target, reduction="sum")
        sample_size = int(labelled.sum())
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
            "ncorrect": int((logits.argmax(-1) == target).sum()),
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        """loss per labelled word (base 2); accuracy in percent of labelled words."""
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        if not sample_size:
            return
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        correct = sum(log.get("ncorrect", 0) for log in logging_outputs)
        metrics.log_scalar("loss", loss / sample_size / math.log(2), sample_size, round=3)
        metrics.log_scalar("accuracy", 100.0 * correct / sample_size, sample_size, round=2)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
