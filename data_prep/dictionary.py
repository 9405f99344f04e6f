"""The joint fairseq dictionary of a pair and its ground-truth bilingual dictionary."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .transforms import TWIN_MARK, twin_piece


def piece_counts(encoded: Iterable[Sequence[int]], vocab_size: int) -> np.ndarray:
    flat = np.fromiter((i for ids in encoded for i in ids), dtype=np.int64)
    return np.bincount(flat, minlength=vocab_size)


def joint_tokens(pieces: Sequence[str], counts: np.ndarray, trans: bool) -> list[tuple[str, int]]:
    """(token, count) in dictionary order: the pieces of language 1 (sentencepiece order, <unk>
    left out because fairseq has its own), then with `trans` their twins in the same order, so
    that in fairseq ids twin(i) = i + V, V = len(pieces) - 1."""
    own = [(p, int(c)) for p, c in zip(pieces[1:], counts[1:])]
    if not trans:
        return own
    clashes = [p for p in pieces if p.startswith(TWIN_MARK)]
    if clashes:
        raise ValueError(
            f"the sentencepiece vocabulary already has pieces starting with {TWIN_MARK!r} "
            f"(e.g. {clashes[0]!r}), so 'trans' twins would not be disjoint; remove that "
            "character from the corpus"
        )
    return own + [(twin_piece(p), c) for p, c in own]


def write_fairseq_dictionary(path: Path, tokens: Sequence[tuple[str, int]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{token} {count}\n" for token, count in tokens)


def synthetic_pairs(pieces: Sequence[str], trans: bool) -> list[tuple[str, str]]:
    """Ground truth for a derived language: every piece (but <unk>) with its twin, or with
    itself when the script is unchanged."""
    return [(p, twin_piece(p) if trans else p) for p in pieces[1:]]


def split_pairs(pairs: Sequence, train_fraction: float, seed: int) -> tuple[list, list]:
    """A seeded random `train_fraction` of the pairs for training, the rest held out."""
    if not 0.0 < train_fraction <= 1.0:
        raise ValueError(f"--dict-train-fraction must be in (0, 1], got {train_fraction}")
    order = np.random.default_rng(seed).permutation(len(pairs))
    n_train = int(round(train_fraction * len(pairs)))
    train = sorted(order[:n_train].tolist())
    heldout = sorted(order[n_train:].tolist())
    return [pairs[i] for i in train], [pairs[i] for i in heldout]


def dictionary_coverage(pairs: Sequence[tuple[str, str]], sp, examples: int = 5) -> dict:
    """How the words of a natural dictionary fall into the vocabulary: both sides one piece,
    at least one side several pieces, or a side with an unknown piece (out of vocabulary)."""
    kinds: Counter = Counter()
    oov_examples = []
    for word, translation in pairs:
        ids = sp.encode([word, translation])
        if any(0 in side for side in ids):  # id 0 is <unk>
            kinds["oov"] += 1
            if len(oov_examples) < examples:
                oov_examples.append(f"{word} {translation}")
        elif all(len(side) == 1 for side in ids):
            kinds["single_piece"] += 1
        else:
            kinds["multi_piece"] += 1
    return {"pairs": len(pairs), "single_piece": kinds["single_piece"],
            "multi_piece": kinds["multi_piece"], "oov": kinds["oov"], "oov_examples": oov_examples}
