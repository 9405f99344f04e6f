"""Entity-level span F1 of NER, with seqeval's default definition (conlleval's): chunks as
alignmlm.data.bio.chunks reads them, a predicted chunk counts when type, start and end all equal
a gold chunk's; precision, recall and F1 micro-averaged over all sentences (seqeval's
`f1_score(y_true, y_pred)` with its default mode and average='micro')."""

from __future__ import annotations

from collections.abc import Sequence

from .data.bio import chunks


def span_counts(gold: Sequence[str], predicted: Sequence[str]) -> tuple[int, int, int]:
    """(correct, predicted, gold) chunk counts of one sentence; they add up over sentences."""
    g, p = chunks(gold), chunks(predicted)
    return len(g & p), len(p), len(g)


def f1_from_counts(correct: int, predicted: int, gold: int) -> dict:
    """precision, recall and F1 in [0, 1] (0 where undefined, as seqeval with zero_division=0)."""
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def span_f1(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """Micro-averaged span precision / recall / F1 of sentences' tag sequences."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    totals = [0, 0, 0]
    for g, p in zip(gold, predicted):
        if len(g) != len(p):
            raise ValueError(f"a sentence of {len(g)} gold tags has {len(p)} predicted")
        for k, n in enumerate(span_counts(g, p)):
            totals[k] += n
    return f1_from_counts(*totals)
