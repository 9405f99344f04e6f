"""How similar two languages' sentence representations are: linear CKA (Kornblith et al. 2019,
"Similarity of neural network representations revisited"), mean pooling of hidden states, and
sentence retrieval P@1 on parallel sentences.

CKA compares the geometry of two sets of matched rows without needing a map between them (it is
unchanged by rotations and isotropic scaling of either side, and D1 may differ from D2); sentence
retrieval asks the stricter question whether translations are each other's nearest neighbours
in one shared space. Pure functions on tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA between x [N, D1] and y [N, D2], matched rows (row i of both describes the
    same sentence): ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) after centring every column.
    1 when the two are the same up to rotation, isotropic scaling and translation; near 0 for
    unrelated data. Computed in float64: every entry of the products sums N terms, and the
    ratio of squared norms amplifies fp32 rounding.

    The feature-space form above equals the HSIC form with linear kernels, at D x D cost
    instead of N x N.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            "linear_cka needs x [N, D1] and y [N, D2] with the same N, got "
            f"{list(x.shape)} and {list(y.shape)}"
        )
    if x.shape[0] < 2:
        raise ValueError(f"linear_cka needs at least 2 rows (it centres columns), got {x.shape[0]}")
    x = x.double()
    y = y.to(x.device, torch.float64)
    x = x - x.mean(dim=0, keepdim=True)
    y = y - y.mean(dim=0, keepdim=True)
    denominator = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    if denominator == 0:
        raise ValueError("linear_cka is undefined when x or y is constant over the rows")
    return (torch.linalg.matrix_norm(y.T @ x) ** 2 / denominator).item()


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """fp32 [B, D]: the mean of hidden [B, T, D] over the positions where mask [B, T] is True
    (padding left out, so a sentence's vector does not depend on how long its batch's longest
    sentence was). A row without any True position gives zeros."""
    if hidden.ndim != 3 or mask.shape != hidden.shape[:2]:
        raise ValueError(
            "mean_pool needs hidden [B, T, D] and mask [B, T], got "
            f"{list(hidden.shape)} and {list(mask.shape)}"
        )
    # autocast off: under --amp the sum would run in fp16
    with torch.autocast(hidden.device.type, enabled=False):
        mask = mask.to(hidden.device, torch.bool).unsqueeze(-1)
        total = (hidden.float() * mask).sum(dim=1)
        return total / mask.sum(dim=1).clamp(min=1)


@torch.no_grad()
def sentence_retrieval_p1(x: torch.Tensor, y: torch.Tensor, chunk_bytes: int = 64 << 20) -> float:
    """Percentage (0-100) of rows i of x [N, D] whose nearest row of y [N, D] by cosine is row
    i (x and y: parallel sentences). On a tie the lowest index wins (argmax), so duplicated
    rows of y do not count as hits by luck. Scores are fp32, computed in chunks of rows."""
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(
            "sentence_retrieval_p1 needs x and y of the same shape [N, D], got "
            f"{list(x.shape)} and {list(y.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError("sentence_retrieval_p1 needs at least one sentence")
    n = x.shape[0]
    with torch.autocast(x.device.type, enabled=False):
        q = F.normalize(x.float(), dim=-1)
        c = F.normalize(y.to(x.device).float(), dim=-1)
        step = max(1, chunk_bytes // (4 * n))
        hits = 0
        for start in range(0, n, step):
            best = (q[start : start + step] @ c.T).argmax(dim=1)
            hits += (best == torch.arange(start, start + best.shape[0], device=q.device)).sum().item()
    return 100.0 * hits / n
