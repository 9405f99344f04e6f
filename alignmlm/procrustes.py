"""Orthogonal Procrustes: the rotation that best maps one embedding space onto another, given
matched rows (a seed dictionary), as MUSE's supervised baseline does. A rotation keeps every
distance and angle inside the source space, so what it cannot fix is how differently the two
spaces are shaped: P@1 after the map measures how isomorphic they are, not how well a model was
trained to put translations in the same place.

Pure functions on tensors; the SVD runs in float64 (it is small: D x D), results come back fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def normalize_rows(x: torch.Tensor, center: bool = False) -> torch.Tensor:
    """fp32 copy of `x` [N, D] with unit-length rows; CENTER: then subtract the column mean and
    normalise again (MUSE's "renorm,center,renorm"). Call it on both sides before
    `orthogonal_map`: otherwise frequent words with long vectors dominate the fit, and a
    shared offset (the mean) is something no rotation can remove."""
    x = F.normalize(x.float(), dim=-1)
    if center:
        x = F.normalize(x - x.mean(dim=0, keepdim=True), dim=-1)
    return x


@torch.no_grad()
def orthogonal_map(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The orthogonal W [D, D] that minimises ||source @ W - target||_F, for matched rows of
    `source` and `target` [N, D] (row i of one translates row i of the other).

    Closed form: with U S V^T the SVD of source^T target, W = U V^T. Rows are used as given;
    callers usually pass them through `normalize_rows` first. Computed in float64 (the SVD of a
    badly conditioned fp32 product loses the rotation's last digits), returned as fp32 on the
    inputs' device.
    """
    if source.ndim != 2 or source.shape != target.shape:
        raise ValueError(
            "orthogonal_map needs source and target of the same shape [N, D], got "
            f"{list(source.shape)} and {list(target.shape)}"
        )
    if source.shape[0] == 0:
        raise ValueError(f"orthogonal_map needs at least one pair of rows, got shape {list(source.shape)}")
    # float64 is never cast down by autocast, so --amp cannot change this
    m = source.double().T @ target.to(source.device, torch.float64)
    u, _, vh = torch.linalg.svd(m)
    return (u @ vh).float()


def orthogonality_error(w: torch.Tensor) -> float:
    """Largest absolute entry of W^T W - I: 0 for an exact rotation or reflection (a check that
    a map, learnt or computed, still preserves angles)."""
    w = w.double()
    return (w.T @ w - torch.eye(w.shape[1], dtype=w.dtype, device=w.device)).abs().max().item()
