"""Correlation of alignment with the transfer gap across cells, with a bootstrap interval.

The paper (Tang et al. 2022) reports Spearman's rho between alignment P@1 and
Delta = B_Z - B_S (zero-shot minus supervised score) over its objective x transformation cells:
positive means that better-aligned models have smaller transfer gaps. Each cell may hold several
seeds; every seed gives one (alignment, Delta) pair from the same pretrained model.

Point estimate: the correlation of the cells' means. Interval: a two-level percentile bootstrap
(cells drawn with replacement, then within each drawn cell its seeds drawn with replacement),
so it reflects both the spread of the cells and the noise of the seeds. With one seed per cell
it is the ordinary bootstrap over cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

METHODS = ("spearman", "pearson")


@dataclass(frozen=True)
class Correlation:
    method: str
    value: float  # over the cell means
    p_value: float  # scipy's, over the cell means (no account of the seeds)
    low: float  # bootstrap 95 % interval (nan when it cannot be estimated)
    high: float
    cells: int
    seeds: int  # runs in all
    resamples: int  # bootstrap resamples where the correlation was defined

    def describe(self) -> str:
        interval = (
            "interval undefined" if np.isnan(self.low) else f"95% CI [{self.low:+.3f}, {self.high:+.3f}]"
        )
        name = "Spearman ρ" if self.method == "spearman" else "Pearson r"
        return (
            f"{name} = {self.value:+.3f} ({interval}, p = {self.p_value:.3f}; "
            f"{self.cells} cells, {self.seeds} runs)"
        )


def _rowwise(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """The correlation of each row of x with the same row of y ([B, N] -> [B]); nan where a row
    is constant."""
    if method == "spearman":
        x, y = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((x * x).sum(1) * (y * y).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (x * y).sum(1) / denominator, np.nan)


def correlate(
    cells: Sequence[Sequence[tuple[float, float]]],
    method: str = "spearman",
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Correlation:
    """Correlation of x with y over cells, each cell a list of (x, y) per seed."""
    if method not in METHODS:
        raise ValueError(f"unknown correlation {method!r}; expected one of {METHODS}")
    cells = [np.asarray(c, dtype=float).reshape(-1, 2) for c in cells]
    if any(len(c) == 0 for c in cells):
        raise ValueError("every cell needs at least one (alignment, delta) pair")
    if len(cells) < 3:
        raise ValueError(f"a correlation needs at least 3 cells, got {len(cells)}")
    means = np.stack([c.mean(axis=0) for c in cells])
    if method == "spearman":
        value, p_value = stats.spearmanr(means[:, 0], means[:, 1])
    else:
        value, p_value = stats.pearsonr(means[:, 0], means[:, 1])

    rng = np.random.default_rng(seed)
    n = len(cells)
    picks = rng.integers(0, n, size=(resamples, n))
    boot = np.empty((resamples, n, 2))
    for j, cell in enumerate(cells):  # seeds of every cell drawn once per resample and slot
        draws = rng.integers(0, len(cell), size=(resamples, n, len(cell)))
        boot[picks == j] = cell[draws[picks == j]].mean(axis=1)
    values = _rowwise(boot[..., 0], boot[..., 1], method)
    values = values[~np.isnan(values)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail]) if len(values) >= 100 else (np.nan, np.nan)
    return Correlation(
        method,
        float(value),
        float(p_value),
        float(low),
        float(high),
        n,
        int(sum(len(c) for c in cells)),
        int(len(values)),
    )
