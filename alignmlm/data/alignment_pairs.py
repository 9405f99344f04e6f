"""Bilingual-dictionary pairs as token ids, ready for the alignment loss and P@1."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..alignment import word_ids
from ..errors import InputError

logger = logging.getLogger(__name__)


@dataclass
class PairBags:
    """Pairs of token bags: row k of `source` / `target` holds the piece ids of the k-th pair's
    words, padded with -1 (one column when every word is a single piece)."""

    source: torch.Tensor
    target: torch.Tensor
    stats: dict = field(default_factory=dict)
    # word identity of each row (equal ids: the same word), for the contrastive loss's negatives
    source_word: torch.Tensor | None = None
    target_word: torch.Tensor | None = None

    def __post_init__(self):
        if self.source_word is None:
            self.source_word = word_ids(self.source)
        if self.target_word is None:
            self.target_word = word_ids(self.target)

    def __len__(self) -> int:
        return self.source.shape[0]

    def subset(self, index: torch.Tensor) -> PairBags:
        return PairBags(
            self.source[index], self.target[index], self.stats, self.source_word[index], self.target_word[index]
        )

    def to(self, device) -> PairBags:
        return PairBags(
            self.source.to(device),
            self.target.to(device),
            self.stats,
            self.source_word.to(device),
            self.target_word.to(device),
        )

    def single_piece_pairs(self) -> torch.Tensor:
        """LongTensor [M, 2] of the pairs whose words are both single pieces (for P@1)."""
        keep = ((self.source >= 0).sum(1) == 1) & ((self.target >= 0).sum(1) == 1)
        return torch.stack([self.source[keep, 0], self.target[keep, 0]], dim=1)


def word_tokenizer(dictionary, units: str, spm_model=None) -> Callable[[str], list]:
    """token_ids(word) for `build_pair_bags`: with units 'pieces' the string is a dictionary
    token; with 'words' it is encoded by the sentencepiece model `spm_model` first."""
    if units == "pieces":
        return lambda token: [dictionary.index(token)]
    if spm_model is None or not Path(spm_model).is_file():
        raise InputError(f"dictionary units 'words' need a sentencepiece model (--spm-model); "
                         f"not found: {spm_model}")
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    return lambda word: [dictionary.index(p) for p in sp.encode(word, out_type=str)]


def pad_bags(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [-1] * (width - len(r)) for r in rows], dtype=torch.long)


def build_pair_bags(word_pairs: Sequence[tuple[str, str]], token_ids: Callable[[str], list],
                    unk: int, multi_piece: str = "mean", name: str = "dictionary",
                    examples: int = 5) -> PairBags:
    """Map word pairs to token-id bags.

    token_ids(word) -> ids of the word's pieces; a word with an `unk` piece is out of
    vocabulary. multi_piece: 'mean' keeps words of several pieces (the loss uses the mean of
    their embeddings), 'skip' drops those pairs. Counts are logged and kept in `.stats`.
    Zero usable pairs is an error, never a silent zero loss.
    """
    if multi_piece not in ("mean", "skip"):
        raise InputError(f"multi_piece must be 'mean' or 'skip', got {multi_piece!r}")
    sources, targets, oov_examples = [], [], []
    stats = {"pairs": len(word_pairs), "single_piece": 0, "multi_piece": 0,
             "skipped_multi_piece": 0, "oov": 0}
    for word, translation in word_pairs:
        src, tgt = token_ids(word), token_ids(translation)
        if not src or not tgt or unk in src or unk in tgt:
            stats["oov"] += 1
            if len(oov_examples) < examples:
                oov_examples.append(f"{word} {translation}")
            continue
        if len(src) == 1 and len(tgt) == 1:
            stats["single_piece"] += 1
        elif multi_piece == "skip":
            stats["skipped_multi_piece"] += 1
            continue
        else:
            stats["multi_piece"] += 1
        sources.append(src)
        targets.append(tgt)
    stats["oov_examples"] = oov_examples
    logger.info("%s: %d pairs; used: %d single-piece, %d multi-piece (mean of pieces); "
                "skipped: %d multi-piece, %d out of vocabulary%s", name, stats["pairs"],
                stats["single_piece"], stats["multi_piece"], stats["skipped_multi_piece"],
                stats["oov"], f" (e.g. {'; '.join(oov_examples)})" if oov_examples else "")
    if not sources:
        raise InputError(f"{name}: none of its {len(word_pairs)} pairs is usable (out of "
                         f"vocabulary: {stats['oov']}, skipped multi-piece: "
                         f"{stats['skipped_multi_piece']}); e.g. {'; '.join(oov_examples)}. "
                         "Is it the dictionary of this data, with the right --dict-units?")
    return PairBags(pad_bags(sources), pad_bags(targets), stats)
