"""The joint fairseq dictionary of a pair and its ground-truth bilingual dictionary."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..pair import ANCHORS_FILE
from .transforms import TWIN_MARK, twin_piece

logger = logging.getLogger(__name__)


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
        raise InputError(
            f"the sentencepiece vocabulary already has pieces starting with {TWIN_MARK!r} "
            f"(e.g. {clashes[0]!r}), so 'trans' twins would not be disjoint; remove that "
            "character from the corpus"
        )
    return own + [(twin_piece(p), c) for p, c in own]


def write_fairseq_dictionary(path: Path, tokens: Sequence[tuple[str, int]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{token} {count}\n" for token, count in tokens)


def synthetic_pairs(pieces: Sequence[str], trans: bool, anchors: Sequence[int] = ()) -> list[tuple[str, str]]:
    """Ground truth for a derived language: every piece (but <unk>) with its twin, or with
    itself when the script is unchanged. ANCHORS (piece ids) are left out: a piece shared by
    both languages is one embedding row, aligned by construction, and would inflate P@1."""
    shared = frozenset(anchors)
    return [(p, twin_piece(p) if trans else p) for i, p in enumerate(pieces) if i and i not in shared]


def choose_anchors(n_pieces: int, fraction: float, seed: int) -> list[int]:
    """Sorted ids of the anchor pieces: round(FRACTION x (N_PIECES - 1)) of the sentencepiece ids
    1..N_PIECES-1 (<unk>, id 0, is never one), drawn with SEED (the pair's: the same pieces for
    every objective pretrained on the pair)."""
    count = round(fraction * (n_pieces - 1))
    chosen = np.random.default_rng(seed).permutation(np.arange(1, n_pieces))[:count]
    return sorted(int(i) for i in chosen)


def parse_band(text: str | None) -> tuple[int, int] | None:
    """'5000-6500' -> (5000, 6500): frequency ranks, first included, last excluded."""
    if text is None:
        return None
    try:
        low, high = (int(x) for x in text.split("-"))
    except ValueError:
        raise InputError(f"--heldout-band {text!r}: expected two ranks FIRST-LAST, e.g. 5000-6500") from None
    if not 0 <= low < high:
        raise InputError(f"--heldout-band {text!r}: needs 0 <= FIRST < LAST")
    return low, high


def split_by_source_word(
    pairs: Sequence[tuple[str, str]],
    train_fraction: float,
    seed: int,
    band: tuple[int, int] | None = None,
    frequency: dict | None = None,
) -> tuple[list, list, dict]:
    """(train pairs, held-out pairs, summary), split by source word as MUSE splits its
    dictionaries: all translations of a word are on the same side, so no held-out word is
    ever trained on.

    Without `band`: a seeded random `train_fraction` of the source words trains, the rest is
    held out. With band (FIRST, LAST): the source words ranked FIRST..LAST-1 by `frequency`
    (most frequent first, ties by spelling; MUSE's test split is 5000-6500) are held out, and
    a seeded `train_fraction` of the other source words trains (1.0: all of them).
    """
    if not 0.0 < train_fraction <= 1.0:
        raise InputError(f"--dict-train-fraction must be in (0, 1], got {train_fraction}")
    sources = list(dict.fromkeys(s for s, _ in pairs))  # first-appearance order
    heldout_words: set = set()
    rest = sources
    if band is not None:
        frequency = frequency or {}
        ranked = sorted(sources, key=lambda w: (-frequency.get(w, 0), w))
        if band[0] >= len(ranked):
            raise InputError(
                f"--heldout-band {band[0]}-{band[1]}: the dictionary has only {len(ranked)} source words"
            )
        heldout_words = set(ranked[band[0] : band[1]])
        rest = [w for w in sources if w not in heldout_words]
    order = np.random.default_rng(seed).permutation(len(rest))
    train_words = {rest[i] for i in order[: int(round(train_fraction * len(rest)))]}
    if band is None:
        heldout_words = set(rest) - train_words
    train = [p for p in pairs if p[0] in train_words]
    heldout = [p for p in pairs if p[0] in heldout_words]
    summary = {
        "by": "source word",
        "band": list(band) if band else None,
        "train_fraction": train_fraction,
        "train_sources": len(train_words),
        "heldout_sources": len(heldout_words),
        "train_pairs": len(train),
        "heldout_pairs": len(heldout),
        "unused_pairs": len(pairs) - len(train) - len(heldout),
    }
    return train, heldout, summary


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
    return {
        "pairs": len(pairs),
        "single_piece": kinds["single_piece"],
        "multi_piece": kinds["multi_piece"],
        "oov": kinds["oov"],
        "oov_examples": oov_examples,
    }


def pairs_in_corpora(
    pairs: Sequence[tuple[str, str]], source_counts: Counter, target_counts: Counter, min_count: int
) -> tuple[list[tuple[str, str]], dict]:
    """The pairs whose source word occurs at least MIN_COUNT times in language 1's training text
    and whose translation at least MIN_COUNT times in language 2's (words as they are written,
    split at spaces), and what was dropped. A word the corpus never shows has only the pieces of
    its spelling: aligning it teaches nothing the MLM can use, and as a retrieval candidate it
    competes with the words the model has seen (MUSE's dictionaries hold frequent words only).
    MIN_COUNT 0 keeps every pair."""
    if min_count <= 0:
        return list(pairs), {"min_count": 0, "kept": len(pairs), "dropped": 0}
    kept = [(s, t) for s, t in pairs if source_counts[s] >= min_count and target_counts[t] >= min_count]
    return kept, {"min_count": min_count, "kept": len(kept), "dropped": len(pairs) - len(kept)}


def write_synthetic_dictionaries(
    out: Path,
    pieces: Sequence[str],
    transforms: Sequence[str],
    anchors: Sequence[int],
    counts: np.ndarray,
    train_counts: np.ndarray,
) -> dict:
    """A synthetic pair's OUT/bin/dict.txt (COUNTS: every line's pieces) and OUT/dict/anchors.txt;
    returns its manifest fields and ground-truth pairs (source frequency: TRAIN_COUNTS)."""
    trans = "trans" in transforms
    write_fairseq_dictionary(out / "bin" / "dict.txt", joint_tokens(pieces, counts, trans))
    if anchors:
        with open(out / "dict" / ANCHORS_FILE, "w", encoding="utf-8") as f:
            f.writelines(pieces[i] + "\n" for i in anchors)
        logger.info(
            "anchors: %d of %d pieces shared by both languages (dict/%s); left out of the dictionary",
            len(anchors),
            len(pieces) - 1,
            ANCHORS_FILE,
        )
    return {
        "anchors": len(anchors),
        "dictionary_units": "pieces",
        "vocab_per_language": len(pieces) - 1,
        "twin_offset": len(pieces) - 1 if trans else 0,
        "pairs": synthetic_pairs(pieces, trans, anchors),
        "source_frequency": {p: int(c) for p, c in zip(pieces, train_counts)},
        "transforms": list(transforms),
    }
