"""DICT-MLM's dictionary substitution at masked positions, vectorised per sample.

Two readings (docs/design.md §3), chosen by `mode`:
  input   (the ALIGN-MLM authors' DICT-MLM-50): a masked token that has a dictionary entry is,
          with probability p, *shown* as its translation; the label stays the original token;
  target  (Chaudhary et al. 2020): at a masked position the model must predict, with
          probability p, a translation of the token instead of the token itself.
A masked token with NO dictionary entry is left to fairseq's 80/10/10 (`no_entry="mask"`), or,
as the authors' collator does (`no_entry="unchanged"`, input mode only), shown unchanged when it
draws the substitution branch (probability p): at p = 0.5 such tokens end 55 % unchanged,
40 % <mask>, 5 % random. Tokens with an entry are treated alike either way.
With language ids (the `lang_ids` field), a token shown as its translation carries the other
language's id. Draws are seeded by (seed, epoch, index), like fairseq's MaskTokensDataset, so a
resumed run sees exactly the same samples.
"""

from functools import lru_cache

import numpy as np
import torch
from fairseq.data import BaseWrapperDataset

from ..errors import InputError

MODES = ("input", "target")
NO_ENTRY = ("mask", "unchanged")
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


def substitute_at(
    source: np.ndarray,
    target: np.ndarray,
    table: np.ndarray,
    counts: np.ndarray,
    mode: str,
    prob: float,
    pad: int,
    rng: np.random.Generator,
    no_entry: str = "mask",
):
    """One sample: new (source, target), plus the positions whose token was substituted (input mode: shown as a
    translation; target mode: labelled with one)."""
    source, target = source.copy(), target.copy()
    masked = np.flatnonzero(target != pad)
    original = target[masked]
    has_entry = counts[original] > 0
    branch = rng.random(len(masked)) < prob
    eligible = masked[has_entry & branch]
    if no_entry == "unchanged" and mode == "input":  # the authors' collator: the token itself
        shown = masked[~has_entry & branch]
        source[shown] = target[shown]
    if len(eligible):
        tokens = target[eligible]
        pick = (rng.random(len(eligible)) * counts[tokens]).astype(np.int64)
        translations = table[tokens, pick]
        if mode == "input":
            source[eligible] = translations
        else:
            target[eligible] = translations
    return source, target, eligible


class DictSubstitutionDataset(BaseWrapperDataset):
    """The `field` ('source', 'target' or 'lang_ids') of masked samples after dictionary
    substitution; build one of each over the same masked datasets, with the same seed.
    'lang_ids' needs `lang_ids` (the per-token language ids before substitution) and
    `other_lang` (other_lang[i]: the id of language i's dictionary counterpart)."""

    FIELDS = ("source", "target", "lang_ids")

    def __init__(
        self,
        source,
        target,
        table,
        counts,
        mode: str,
        prob: float,
        pad: int,
        seed: int,
        field: str,
        no_entry: str = "mask",
        lang_ids=None,
        other_lang=None,
    ):
        super().__init__(source)
        if mode not in MODES:
            raise InputError(f"--dict-mlm-mode must be one of {MODES}, got {mode!r}")
        if no_entry not in NO_ENTRY:
            raise InputError(f"--dict-mlm-no-entry must be one of {NO_ENTRY}, got {no_entry!r}")
        if no_entry == "unchanged" and mode != "input":
            raise InputError(
                "--dict-mlm-no-entry unchanged reproduces the authors' input-mode collator; "
                "it has no meaning with --dict-mlm-mode target"
            )
        if field not in self.FIELDS or (field == "lang_ids" and (lang_ids is None or other_lang is None)):
            raise ValueError(f"field must be one of {self.FIELDS} ('lang_ids' with lang_ids and other_lang)")
        if not 0.0 <= prob <= 1.0:  # NaN included; the task checks it first (alignmlm/config_checks.py)
            raise InputError(
                f"task.dict_mlm_prob (--dict-mlm-prob) must be a probability in [0, 1], got {prob}"
            )
        self.target = target
        self.table, self.counts = table, counts
        self.mode, self.prob, self.pad, self.seed, self.field = mode, prob, pad, seed, field
        self.no_entry, self.lang_ids = no_entry, lang_ids
        self.other_lang = None if other_lang is None else torch.as_tensor(other_lang, dtype=torch.long)
        self.epoch = 0

    def set_epoch(self, epoch, **unused):
        super().set_epoch(epoch)
        self.target.set_epoch(epoch)
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False  # draws depend on the epoch

    def __getitem__(self, index):
        source, target, substituted = self._sample(self.seed, self.epoch, index)
        if self.field == "source":
            return source
        if self.field == "target":
            return target
        ids = self.lang_ids[index].clone()
        if self.mode == "input":  # a token shown as its translation is in the other language
            ids[substituted] = self.other_lang[ids[substituted]]
        return ids

    @lru_cache(maxsize=8)  # noqa: B019 (three views of one draw; the datasets live as long as the task)
    def _sample(self, seed, epoch, index):
        rng = np.random.default_rng((seed, epoch, index, SUBSTITUTION_STREAM))
        source, target, substituted = substitute_at(
            self.dataset[index].numpy(),
            self.target[index].numpy(),
            self.table,
            self.counts,
            self.mode,
            self.prob,
            self.pad,
            rng,
            self.no_entry,
        )
        return torch.from_numpy(source), torch.from_numpy(target), torch.from_numpy(substituted)
