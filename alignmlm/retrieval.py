"""Word retrieval between two embedding spaces, as the field scores alignment (MUSE's
conventions): nearest neighbour by cosine (`nn`) or by CSLS (Conneau et al. 2018, "Word
translation without parallel data"), and precision at k.

CSLS(x, y) = 2 cos(x, y) - r_T(x) - r_S(y), where r_T(x) is the mean cosine of query x to its
k nearest candidates and r_S(y) the mean cosine of candidate y to its k nearest words of the
source pool (MUSE: the whole source vocabulary). It penalises "hub" candidates that are close to
everything. Pure functions on tensors; scores are computed in fp32 in bounded chunks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

METHODS = ("nn", "csls")


def _chunks(n_rows: int, n_cols: int, chunk_bytes: int):
    step = max(1, chunk_bytes // (4 * max(1, n_cols)))
    return range(0, n_rows, step), step


@torch.no_grad()
def mean_top_k_cosine(
    rows: torch.Tensor, pool: torch.Tensor, k: int, chunk_bytes: int = 64 << 20
) -> torch.Tensor:
    """For every row, the mean cosine to its k most similar rows of `pool` (CSLS's r)."""
    rows, pool = F.normalize(rows.float(), dim=-1), F.normalize(pool.float(), dim=-1)
    k = min(k, pool.shape[0])
    out = torch.empty(rows.shape[0], device=rows.device)
    starts, step = _chunks(rows.shape[0], pool.shape[0], chunk_bytes)
    for start in starts:
        out[start : start + step] = (rows[start : start + step] @ pool.T).topk(k, dim=1).values.mean(1)
    return out


@torch.no_grad()
def retrieve(
    queries: torch.Tensor,
    candidates: torch.Tensor,
    k: int = 10,
    method: str = "nn",
    source_pool: torch.Tensor | None = None,
    csls_k: int = 10,
    chunk_bytes: int = 64 << 20,
    r_source: torch.Tensor | None = None,
) -> torch.Tensor:
    """Indices [Q, min(k, C)] of each query's best candidates, best first.

    queries [Q, D], candidates [C, D]: embeddings of the two languages (any scale: rows are
    L2-normalised here). method 'nn': by cosine; 'csls': by CSLS with `csls_k` neighbours, r_S
    measured against `source_pool` (default: the queries); pass `r_source` (that
    `mean_top_k_cosine(candidates, source_pool, csls_k)`) to reuse it across calls.
    """
    if method not in METHODS:
        raise ValueError(f"unknown retrieval method {method!r}; expected one of {METHODS}")
    if queries.shape[0] == 0 or candidates.shape[0] == 0:
        raise ValueError("retrieval needs at least one query and one candidate")
    # autocast off: under --amp the products would run in fp16
    with torch.autocast(queries.device.type, enabled=False):
        q = F.normalize(queries.float(), dim=-1)
        c = F.normalize(candidates.float(), dim=-1)
        k = min(k, c.shape[0])
        if method == "csls" and r_source is None:
            pool = q if source_pool is None else source_pool
            r_source = mean_top_k_cosine(c, pool, csls_k, chunk_bytes)  # r_S(y), per candidate
        out = torch.empty(q.shape[0], k, dtype=torch.long, device=q.device)
        starts, step = _chunks(q.shape[0], c.shape[0], chunk_bytes)
        for start in starts:
            scores = q[start : start + step] @ c.T
            if method == "csls":
                r_target = scores.topk(min(csls_k, c.shape[0]), dim=1).values.mean(1)  # r_T(x)
                scores = 2 * scores - r_target[:, None] - r_source[None, :]
            out[start : start + step] = scores.topk(k, dim=1).indices
    return out


@torch.no_grad()
def retrieve_nn_and_csls(
    queries: torch.Tensor,
    candidates: torch.Tensor,
    r_source: torch.Tensor,
    k: int = 10,
    csls_k: int = 10,
    chunk_bytes: int = 64 << 20,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`retrieve` by 'nn' and by 'csls' at once, from one product of each chunk of queries with
    the candidates (the costly part at a paper-size vocabulary): (nn indices, csls indices)."""
    with torch.autocast(queries.device.type, enabled=False):
        q = F.normalize(queries.float(), dim=-1)
        c = F.normalize(candidates.float(), dim=-1)
        k = min(k, c.shape[0])
        nn = torch.empty(q.shape[0], k, dtype=torch.long, device=q.device)
        csls = torch.empty_like(nn)
        starts, step = _chunks(q.shape[0], c.shape[0], chunk_bytes)
        for start in starts:
            scores = q[start : start + step] @ c.T
            nn[start : start + step] = scores.topk(k, dim=1).indices
            r_target = scores.topk(min(csls_k, c.shape[0]), dim=1).values.mean(1)
            scores = 2 * scores - r_target[:, None] - r_source[None, :]
            csls[start : start + step] = scores.topk(k, dim=1).indices
    return nn, csls


def precision_at_k(retrieved: torch.Tensor, gold: torch.Tensor, ks=(1, 5)) -> dict:
    """Share of queries (rows of `retrieved`, candidate indices best first) with a gold
    candidate among their first k, for each k: {k: fraction}.

    gold: LongTensor [G, 2] of (query index, candidate index); a query with several gold
    candidates is right when it retrieves any of them (MUSE). Every query should have one.
    """
    n_queries, depth = retrieved.shape
    if max(ks) > depth:
        raise ValueError(f"P@{max(ks)} needs at least {max(ks)} retrieved candidates, got {depth}")
    gold = gold.to(retrieved.device)
    width = int(max(retrieved.max().item(), gold[:, 1].max().item())) + 1
    query = torch.arange(n_queries, device=retrieved.device)[:, None]
    hits = torch.isin(query * width + retrieved, gold[:, 0] * width + gold[:, 1])
    return {k: hits[:, :k].any(dim=1).float().mean().item() for k in ks}
