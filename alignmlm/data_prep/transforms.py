"""Synthetic-language transforms (docs/design.md §2), as pure functions.

A sentence is a list of *units*: words of a CoNLL-U file, or the sentencepiece pieces of one
word (a piece starting with "▁" begins a new word). Word-order transforms return a new order
of the units, so the same order can be applied to the words and to their labels:

  inv   reverse the units; a final unit made only of ". ! ?" stays last
  perm  a fixed random permutation for each sentence length (drawn from the seed), final
        ". ! ?" kept in place like inv: the same rule applies to every sentence of that length,
        in the corpus and in downstream data alike

`syn` (syn_order.py) reorders dependency trees: only CoNLL-U input with trees has it
(transform-conllu, prepare-pos); other commands refuse it (`refuse_syn`).

`trans` (script change) is not an order: every piece gets a twin with a disjoint surface form
(`twin_piece`), and in the joint dictionary the twin of id i is i + V (see dictionary.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from alignmlm.data.twins import TWIN_MARK, twin_piece  # noqa: F401  (re-exported)

from ..errors import InputError

WORD_ORDER_TRANSFORMS = ("inv", "perm")
TREE_TRANSFORMS = ("syn",)
ALL_TRANSFORMS = ("trans",) + WORD_ORDER_TRANSFORMS + TREE_TRANSFORMS
FINAL_PUNCTUATION = frozenset(".!?")


def parse_transforms(spec: str) -> tuple[str, ...]:
    """'trans+inv' -> ('trans', 'inv'). Order of word-order transforms is kept (they compose)."""
    names = tuple(name.strip() for name in spec.replace(",", "+").split("+") if name.strip())
    unknown = [n for n in names if n not in ALL_TRANSFORMS]
    if not names or unknown:
        raise InputError(
            f"invalid transform spec {spec!r}: expected names from {ALL_TRANSFORMS} joined by '+', "
            f"e.g. 'trans+inv'" + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    if len(set(names)) != len(names):
        raise InputError(f"invalid transform spec {spec!r}: a transform is repeated")
    return names


def refuse_syn(transforms: Sequence[str], what: str = "plain text") -> None:
    """Syn needs dependency trees: an InputError for input that has none."""
    if "syn" in transforms:
        raise InputError(
            f"--transform {'+'.join(transforms)}: syn reorders dependency trees, and {what} has none; "
            "give CoNLL-U with HEAD and DEPREL (transform-conllu / prepare-pos --syn-treebank), or "
            "parse the raw text into CoNLL-U first with Stanza or UDPipe (offline models you download)"
        )


def is_final_punctuation(text: str) -> bool:
    """True for '.', '?!', '...' and the like (sentencepiece's '▁' ignored)."""
    text = text.replace("▁", "")
    return bool(text) and all(ch in FINAL_PUNCTUATION for ch in text)


def inverted_order(n_units: int, keep_last: bool) -> list[int]:
    """Indices of the units reversed; with keep_last the final unit stays final."""
    if keep_last and n_units > 0:
        return list(range(n_units - 2, -1, -1)) + [n_units - 1]
    return list(range(n_units - 1, -1, -1))


class FixedPermutations:
    """One seeded permutation per sentence length, drawn once and cached."""

    def __init__(self, seed: int):
        self.seed = seed
        self._cache: dict[int, list[int]] = {}

    def __call__(self, n_units: int, keep_last: bool) -> list[int]:
        n_moving = n_units - 1 if keep_last and n_units > 0 else n_units
        order = self._cache.get(n_moving)
        if order is None:
            order = list(range(n_moving))
            random.Random(f"{self.seed}:{n_moving}").shuffle(order)
            self._cache[n_moving] = order
        return order + [n_units - 1] if n_moving < n_units else list(order)


OrderFn = Callable[[int, bool], list]


def word_order_functions(transforms: Sequence[str], seed: int) -> list[OrderFn]:
    """The order functions of the word-order transforms in `transforms`, in their order."""
    return [
        inverted_order if name == "inv" else FixedPermutations(seed)
        for name in transforms
        if name in WORD_ORDER_TRANSFORMS
    ]


def compose_order(n_units: int, keep_last: bool, order_fns: Sequence[OrderFn]) -> list[int]:
    """Apply the order functions one after another; returns indices into the original units."""
    order = list(range(n_units))
    for fn in order_fns:
        order = [order[i] for i in fn(n_units, keep_last)]
    return order


def reorder_words(words: Sequence[str], labels: Sequence | None, order_fns: Sequence[OrderFn]):
    """Apply word-order transforms to a tokenised sentence; labels (if any) move with words."""
    keep_last = bool(words) and is_final_punctuation(words[-1])
    order = compose_order(len(words), keep_last, order_fns)
    new_words = [words[i] for i in order]
    return new_words, (None if labels is None else [labels[i] for i in order])


class WordSentenceTransform:
    """Derive a sentence of task data (CoNLL-U, NLI) from its words: the word-order transforms,
    then the twin mark on every word under `trans` (`§word`, whose pieces the fine-tuning
    tokenizer maps to twins). Labels (if any) move with their words."""

    def __init__(self, transforms: Sequence[str], seed: int, trees: bool = False):
        if not trees:  # with trees (transform_conllu), syn is applied before this
            refuse_syn(transforms, "this input")
        self.order_fns = word_order_functions(transforms, seed)
        self.mark = TWIN_MARK if "trans" in transforms else ""

    def __call__(self, words: Sequence[str], labels: Sequence | None = None):
        new_words, new_labels = reorder_words(words, labels, self.order_fns)
        return [self.mark + w for w in new_words], new_labels


def split_final_punctuation(line: str) -> str:
    """Collapse whitespace and detach a sentence-final '.', '!' or '?' run into its own word
    ("the border." -> "the border ."), so word-order transforms can keep it in place."""
    words = line.split()
    if words:
        last = words[-1]
        stem = last.rstrip("".join(FINAL_PUNCTUATION))
        if stem and stem != last:
            words[-1:] = [stem, last[len(stem) :]]
    return " ".join(words)


class PieceSentenceTransform:
    """Derive a sentence of the synthetic language from the piece ids of the original.

    Built once per vocabulary: the per-piece tables make the per-sentence work a couple of
    list operations (the benchmark's 'transform step').
    """

    def __init__(self, pieces: Sequence[str], transforms: Sequence[str], seed: int, unk_id: int = 0):
        refuse_syn(transforms)
        self.pieces = list(pieces)
        self.word_start = [p.startswith("▁") for p in self.pieces]
        self.order_fns = word_order_functions(transforms, seed)
        use_trans = "trans" in transforms
        self.out_pieces = [
            twin_piece(p) if use_trans and i != unk_id else p for i, p in enumerate(self.pieces)
        ]

    def units(self, ids: Sequence[int]) -> list[list[int]]:
        """Group piece ids into words (a new word starts at a '▁' piece)."""
        starts = [k for k, i in enumerate(ids) if self.word_start[i] or k == 0]
        bounds = starts + [len(ids)]
        return [list(ids[bounds[u] : bounds[u + 1]]) for u in range(len(starts))]

    def derive_ids(self, ids: Sequence[int]) -> list[int]:
        """Word-order transforms on the piece ids (trans does not change ids here)."""
        if not self.order_fns or not ids:
            return list(ids)
        units = self.units(ids)
        keep_last = is_final_punctuation("".join([self.pieces[i] for i in units[-1]]))
        out: list[int] = []
        for u in compose_order(len(units), keep_last, self.order_fns):
            out.extend(units[u])
        return out

    def derive_text(self, ids: Sequence[int]) -> str:
        """Space-separated pieces of the derived sentence, as fairseq-preprocess reads them."""
        return " ".join([self.out_pieces[i] for i in self.derive_ids(ids)])
