"""The math of ALIGN-MLM (docs/design.md §2) as pure functions: the alignment loss, word bags as mean
embeddings, and loss-weight schedules. Used by the criterion, the tasks and evaluation (whose
retrieval metrics are in alignmlm.retrieval)."""

from __future__ import annotations

import bisect

import torch
import torch.nn.functional as F

ALIGN_LOSS_KINDS = ("cosine", "l2", "contrastive")


def pair_loss(
    source: torch.Tensor,
    target: torch.Tensor,
    kind: str = "cosine",
    temperature: float = 0.1,
    source_word: torch.Tensor | None = None,
    target_word: torch.Tensor | None = None,
) -> torch.Tensor:
    """Loss to minimise between matched rows of two [N, D] tensors, computed in fp32.

    cosine:      minus the mean cosine similarity (the paper's final form);
    l2:          the mean Euclidean distance (an early version of the authors' code);
    contrastive: `contrastive_loss` (InfoNCE with in-batch negatives; TEMPERATURE and the word
                 ids are its arguments).
    """
    if kind not in ALIGN_LOSS_KINDS:
        raise ValueError(f"unknown alignment loss {kind!r}; expected one of {ALIGN_LOSS_KINDS}")
    # autocast off: under --amp it would run the products below in fp16 (seen on an H100)
    with torch.autocast(source.device.type, enabled=False):
        source, target = source.float(), target.float()
        if kind == "cosine":  # written out: ~40% faster than F.cosine_similarity on CPU
            norms = torch.linalg.vector_norm(source, dim=-1) * torch.linalg.vector_norm(target, dim=-1)
            return -(torch.linalg.vecdot(source, target) / norms.clamp(min=1e-8)).mean()
        if kind == "contrastive":
            return contrastive_loss(source, target, temperature, source_word, target_word)
        return (source - target).norm(dim=-1).mean()


def contrastive_loss(
    source: torch.Tensor,
    target: torch.Tensor,
    temperature: float,
    source_word: torch.Tensor | None = None,
    target_word: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE over matched rows of two [N, D] tensors: row i of `source` must pick row
    i of `target` among all N by cosine / TEMPERATURE, and the other way round (the mean of both
    cross-entropies, in nats). Pulling pairs together alone lets every embedding drift to one
    point (the cosine loss can reach 1 for all pairs at once); the negatives keep the space
    spread out, which is what retrieval (P@1) needs.

    A dictionary lists several translations of a word: SOURCE_WORD / TARGET_WORD (LongTensor [N],
    equal ids = the same word) keep row j out of row i's negatives when pair j shares i's source
    or target word (its target is also a right answer). None: every row a different word."""
    n = source.shape[0]
    logits = F.normalize(source, dim=-1) @ F.normalize(target, dim=-1).T / temperature
    same = torch.zeros(n, n, dtype=torch.bool, device=source.device)
    for words in (source_word, target_word):
        if words is not None:
            same |= words.unsqueeze(0) == words.unsqueeze(1)
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    labels = torch.arange(n, device=source.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def word_ids(bags: torch.Tensor) -> torch.Tensor:
    """LongTensor [N]: equal ids for equal rows of `bags` (the same word has the same pieces)."""
    return torch.unique(bags, dim=0, return_inverse=True)[1]


def alignment_loss(embeddings: torch.Tensor, pairs: torch.Tensor, kind: str = "cosine") -> torch.Tensor:
    """`pair_loss` over the embedding rows named by `pairs`, a LongTensor [N, 2] of token ids.
    Only those rows receive gradient."""
    return pair_loss(embeddings[pairs[:, 0]], embeddings[pairs[:, 1]], kind)


def bag_means(embeddings: torch.Tensor, bags: torch.Tensor) -> torch.Tensor:
    """fp32 mean embedding of each row of `bags`, a LongTensor [N, L] of token ids padded with
    -1 (a word split into several pieces is represented by the mean of its pieces)."""
    # F.embedding, not embeddings[ids]: its backward is much faster on CPU
    if bags.shape[1] == 1:  # the common case: every word is one piece
        return F.embedding(bags[:, 0], embeddings).float()
    mask = (bags >= 0).unsqueeze(-1)
    rows = F.embedding(bags.clamp(min=0), embeddings).float() * mask
    return rows.sum(dim=1) / mask.sum(dim=1).clamp(min=1)


class WeightSchedule:
    """A loss weight as a constant ("5") or a piecewise-linear schedule over updates
    ("0:0,2000:10": 0 at update 0, rising linearly to 10 at update 2000, then constant),
    as in XLM's lambda schedules."""

    def __init__(self, spec: str | float):
        text = str(spec).strip()
        try:
            if ":" not in text:
                self.points = [(0, float(text))]
            else:
                self.points = [
                    (int(step), float(value)) for step, value in (item.split(":") for item in text.split(","))
                ]
        except ValueError:
            raise ValueError(
                f"invalid weight schedule {spec!r}: expected a number (10) or "
                "UPDATE:VALUE pairs (0:0,2000:10)"
            ) from None
        steps = [step for step, _ in self.points]
        if steps != sorted(steps) or len(set(steps)) != len(steps) or steps[0] < 0:
            raise ValueError(f"invalid weight schedule {spec!r}: updates must increase from >= 0")
        self.steps = steps

    def __call__(self, update: int) -> float:
        k = bisect.bisect_right(self.steps, update)
        if k == 0:
            return self.points[0][1]
        if k == len(self.points):
            return self.points[-1][1]
        (s0, v0), (s1, v1) = self.points[k - 1], self.points[k]
        return v0 + (v1 - v0) * (update - s0) / (s1 - s0)
