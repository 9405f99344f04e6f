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

What is substituted depends on what the dictionary lists:
  pieces  (synthetic pairs: each entry a dictionary token and its twin): every masked token is a
          unit of its own (`translation_table`, `substitute_at`);
  words   (natural pairs: MUSE words, encoded with the pair's sentencepiece model): a unit is a
          whole word, a maximal run of pieces that starts with a '▁' piece (`WordTranslations`,
          `substitute_words`). A word is substituted only when every one of its pieces is masked,
          it is a dictionary word, and its translation has as many pieces as it has: the pieces
          are replaced one for one, so the sample keeps its length and every label and language
          id stays at its position (fairseq's MaskTokensDataset fixes lengths before this runs,
          and the batch sizes, language ids and positions are computed from them). A pair whose
          words differ in piece count is not used (the task logs how many pairs are usable). A
          piece is never substituted alone: a single-piece word that begins a longer word
          ('▁the' of '▁the' 'ir') is not that word. A run cut by the end of the sample may go on
          in the next block, so it is never taken for a word. With fairseq's per-token masking a
          word of k pieces is wholly masked with probability about mask_prob**k, so words of one
          piece are substituted far more often than longer ones. Masked pieces that are not part
          of such a word count as having no entry (`no_entry`), each on its own.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from fairseq.data import BaseWrapperDataset

from ..errors import InputError

WORD_START = "\u2581"  # sentencepiece's '▁': the piece that begins a word

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


class WordTranslations:
    """The whole-word translations of a word-level dictionary, in both directions: `words[w]`
    the translations (tuples of dictionary ids, as long as w) of the word w (a tuple of ids).
    `starts[t]` / `inside[t]`: whether dictionary token t begins a word ('▁...') or continues
    one (any other piece; specials and <mask> do neither)."""

    def __init__(self, pairs, dictionary):
        """PAIRS: (word ids, translation ids) of the dictionary; only pairs of equal length are
        kept (`stats` counts them)."""
        symbols = [dictionary[i] for i in range(len(dictionary))]
        ordinary = (np.arange(len(symbols)) >= dictionary.nspecial) & (np.array(symbols) != "<mask>")
        self.starts = ordinary & np.array([s.startswith(WORD_START) for s in symbols])
        self.inside = ordinary & ~self.starts
        both: dict[tuple, set] = {}
        self.stats = {"pairs": 0, "single_piece": 0, "multi_piece": 0, "unequal_pieces": 0}
        for word, translation in pairs:
            word, translation = tuple(map(int, word)), tuple(map(int, translation))
            self.stats["pairs"] += 1
            if len(word) != len(translation):
                self.stats["unequal_pieces"] += 1
                continue
            self.stats["single_piece" if len(word) == 1 else "multi_piece"] += 1
            both.setdefault(word, set()).add(translation)
            both.setdefault(translation, set()).add(word)
        self.words = {w: sorted(t) for w, t in both.items()}  # sorted: draws independent of file order

    def __len__(self) -> int:
        return len(self.words)

    def masked_words(self, tokens: np.ndarray, masked: np.ndarray) -> list[tuple[int, int, list]]:
        """(start, end, translations) of each dictionary word of TOKENS (the original ids) whose
        pieces are all MASKED; a run reaching the end of TOKENS is left out (it may go on)."""
        boundaries = np.flatnonzero(~self.inside[tokens])  # every position that ends a run before it
        found = []
        for start in np.flatnonzero(self.starts[tokens] & masked):
            k = np.searchsorted(boundaries, start, side="right")
            if k == len(boundaries):
                continue
            end = int(boundaries[k])
            translations = self.words.get(tuple(tokens[start:end].tolist()))
            if translations is not None and masked[start:end].all():
                found.append((int(start), end, translations))
        return found


def substitute_words(
    source: np.ndarray,
    target: np.ndarray,
    words: WordTranslations,
    mode: str,
    prob: float,
    pad: int,
    rng: np.random.Generator,
    no_entry: str = "mask",
):
    """`substitute_at` for a word-level dictionary (module docstring): a wholly masked dictionary
    word is, with probability PROB, replaced piece for piece by one of its translations (in the
    source in input mode, in the labels in target mode); every other masked piece has no entry.
    Returns new (source, target) and the substituted positions."""
    source, target = source.copy(), target.copy()
    masked = target != pad
    original = np.where(masked, target, source)
    spans = words.masked_words(original, masked)
    in_span = np.zeros(len(source), dtype=bool)
    for start, end, _ in spans:
        in_span[start:end] = True
    alone = np.flatnonzero(masked & ~in_span)
    branch = rng.random(len(spans) + len(alone)) < prob
    if no_entry == "unchanged" and mode == "input":  # the authors' collator: the token itself
        shown = alone[branch[len(spans) :]]
        source[shown] = target[shown]
    chosen = [span for span, b in zip(spans, branch[: len(spans)]) if b]
    picks = rng.random(len(chosen))
    substituted = [np.arange(0, dtype=np.int64)]
    for (start, end, translations), pick in zip(chosen, picks):
        translation = translations[int(pick * len(translations))]
        (source if mode == "input" else target)[start:end] = translation
        substituted.append(np.arange(start, end))
    return source, target, np.concatenate(substituted)


class DictSubstitutionDataset(BaseWrapperDataset):
    """The `field` ('source', 'target' or 'lang_ids') of masked samples after dictionary
    substitution; build one of each over the same masked datasets, with the same seed.
    'lang_ids' needs `lang_ids` (the per-token language ids before substitution) and
    `other_lang` (other_lang[i]: the id of language i's dictionary counterpart). A word-level
    dictionary comes as `words` (WordTranslations; then `table` and `counts` are unused)."""

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
        words: WordTranslations | None = None,
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
        self.no_entry, self.lang_ids, self.words = no_entry, lang_ids, words
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
        source, target = self.dataset[index].numpy(), self.target[index].numpy()
        if self.words is not None:
            source, target, substituted = substitute_words(
                source, target, self.words, self.mode, self.prob, self.pad, rng, self.no_entry
            )
        else:
            source, target, substituted = substitute_at(
                source, target, self.table, self.counts, self.mode, self.prob, self.pad, rng, self.no_entry
            )
        return torch.from_numpy(source), torch.from_numpy(target), torch.from_numpy(substituted)
