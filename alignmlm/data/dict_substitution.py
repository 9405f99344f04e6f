"""DICT-MLM's dictionary substitution at masked positions, vectorised per sample.

Two readings (docs/design.md §3), chosen by `mode`:
  input   (the ALIGN-MLM authors' DICT-MLM-50): a masked token that has a dictionary entry is,
          with probability p, *shown* as its translation; the label stays the original token;
  target  (Chaudhary et al. 2020): at a masked position the model must predict, with
          probability p, a translation of the token instead of the token itself.
Draws are seeded by (seed, epoch, index), like fairseq's MaskTokensDataset, so a resumed run
sees exactly the same samples.
"""
from functools import lru_cache

import numpy as np
import torch
from fairseq.data import BaseWrapperDataset
from ..errors import InputError

MODES = ("input", "target")
SUBSTITUTION_STREAM = 7  # keeps these draws apart from other (seed, epoch, index) streams


def translation_table(pairs: torch.Tensor, vocab_size: int):
    """(table [V, K], counts [V]) from single-piece pairs [N, 2], in both directions: row t
    lists the translations of token t (padded with -1), counts[t] how many there are."""
    both = torch.cat([pairs, pairs.flip(1)]).unique(dim=0).numpy()
    counts = np.bincount(both[:, 0], minlength=vocab_size)
    table = np.full((vocab_size, max(1, counts.max())), -1, dtype=np.int64)
    order = np.argsort(both[:, 0], kind="stable")
    sources, targets = both[order, 0], both[order, 1]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    table[sources, np.arange(len(sources)) - starts[sources]] = targets
    return table, counts


def substitute(source: np.ndarray, target: np.ndarray, table: np.ndarray, counts: np.ndarray,
               mode: str, prob: float, pad: int, rng: np.random.Generator):
    """One sample: returns new (source, target). Masked positions are where target != pad."""
    source, target = source.copy(), target.copy()
    masked = np.flatnonzero(target != pad)
    original = target[masked]
    eligible = masked[(counts[original] > 0) & (rng.random(len(masked)) < prob)]
    if len(eligible):
        tokens = target[eligible]
        pick = (rng.random(len(eligible)) * counts[tokens]).astype(np.int64)
        translations = table[tokens, pick]
        if mode == "input":
            source[eligible] = translations
        else:
            target[eligible] = translations
    return source, target


class DictSubstitutionDataset(BaseWrapperDataset):
    """The `field` ('source' or 'target') of masked samples after dictionary substitution;
    build one of each over the same masked datasets, with the same seed."""

    def __init__(self, source, target, table, counts, mode: str, prob: float, pad: int,
                 seed: int, field: str):
        super().__init__(source)
        if mode not in MODES:
            raise InputError(f"--dict-mlm-mode must be one of {MODES}, got {mode!r}")
        if not 0.0 <= prob <= 1.0:  # NaN included; the task checks it first (alignmlm/config_checks.py)
            raise InputError(f"task.dict_mlm_prob (--dict-mlm-prob) must be a probability in [0, 1], got {prob}")
        self.target = target
        self.table, self.counts = table, counts
        self.mode, self.prob, self.pad, self.seed, self.field = mode, prob, pad, seed, field
        self.epoch = 0

    def set_epoch(self, epoch, **unused):
        super().set_epoch(epoch)
        self.target.set_epoch(epoch)
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False  # draws depend on the epoch

    def __getitem__(self, index):
        return self._sample(self.seed, self.epoch, index)[0 if self.field == "source" else 1]

    @lru_cache(maxsize=8)
    def _sample(self, seed, epoch, index):
        rng = np.random.default_rng((seed, epoch, index, SUBSTITUTION_STREAM))
        source, target = substitute(self.dataset[index].numpy(), self.target[index].numpy(),
                                    self.table, self.counts, self.mode, self.prob, self.pad, rng)
        return torch.from_numpy(source), torch.from_numpy(target)
