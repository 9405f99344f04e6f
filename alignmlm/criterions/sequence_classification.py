"""Cross-entropy and accuracy for one label per sequence (NLI): token_classification's loss
over the sequences with a known label; those with a label outside the task's set (target
IGNORE) are left out of loss and accuracy. Logs `loss` (per labelled sequence, base 2) and
`accuracy` (percent of labelled sequences)."""

from fairseq.criterions import register_criterion

from .token_classification import TokenClassificationLoss


@register_criterion("sequence_classification")
class SequenceClassificationLoss(TokenClassificationLoss):
    pass  # logits (batch, labels) and targets (batch,): the token loss applies as it is
