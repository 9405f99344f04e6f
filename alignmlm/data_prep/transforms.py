"""Synthetic-language transforms (docs/design.md §2), as pure functions.

A sentence is a list of *units*: words of a CoNLL-U file, or the sentencepiece pieces of one
word (a piece starting with "▁" begins a new word). Word-order transforms return a new order
of the units, so the same order can be applied to the words and to their labels:

  inv   reverse the units; a final unit made only of ". ! ?" stays last
  perm  a fixed random permutation for each sentence length (drawn from the seed), final
        ". ! ?" kept in place like inv: the same rule applies to every sentence of that length,
        in the corpus and in downstream data alike

A line of plain text (a pretraining corpus line, an NLI premise) may hold several sentences: it
is split after every unit made only of ". ! ?" (`split_final_punctuation` detaches them from the
word before), and inv / perm apply to each sentence separately, each keeping its final
punctuation in place (`line_order`). So "A b c. D e!" -> "c b A . e D !". An abbreviation such as
"Dr." ends a sentence too (a known limit). A CoNLL-U sentence (POS, NER, a CoNLL-U corpus) is
one sentence: it is never split.

`syn` (syn_order.py) reorders dependency trees: only CoNLL-U input with trees has it
(transform-conllu, prepare-pos, prepare-pair with a CoNLL-U corpus); plain text refuses it
(`refuse_syn`).

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
# characters that sentencepiece's NFKC normalization turns into runs of . ! ? ("…" -> "..."): a
# word of them is final punctuation as a word (CoNLL-U task data) and as pieces (the pair) alike
NFKC_FINAL_PUNCTUATION = frozenset("…！？．‼⁇⁈⁉﹒﹖﹗")
FINAL_CHARACTERS = "".join(sorted(FINAL_PUNCTUATION | NFKC_FINAL_PUNCTUATION))


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
    """True for '.', '?!', '...', '…' and the like (sentencepiece's '▁' ignored)."""
    text = text.replace("▁", "")
    return bool(text) and all(ch in FINAL_CHARACTERS for ch in text)


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


def line_order(final: Sequence[bool], order_fns: Sequence[OrderFn], split_sentences: bool) -> list[int]:
    """The new order of a line's units; FINAL[k] says unit k is final punctuation (". ! ?" only).
    With SPLIT_SENTENCES every final unit ends a sentence and each sentence is reordered on its
    own, its final punctuation kept last; without, the line is one sentence."""
    return ends_order(len(final), [k for k, f in enumerate(final) if f], order_fns, split_sentences)


def ends_order(n: int, ends: Sequence[int], order_fns: Sequence[OrderFn], split_sentences: bool) -> list[int]:
    """line_order given the indices ENDS of the final-punctuation units (ascending)."""
    last_final = bool(ends) and ends[-1] == n - 1
    if not split_sentences or len(ends) <= int(last_final):  # one sentence (the common case)
        return compose_order(n, last_final, order_fns)
    order: list[int] = []
    start = 0
    for end in list(ends) + ([] if last_final else [n - 1]):
        order.extend(start + k for k in compose_order(end + 1 - start, end in ends, order_fns))
        start = end + 1
    return order


def reorder_words(
    words: Sequence[str],
    labels: Sequence | None,
    order_fns: Sequence[OrderFn],
    split_sentences: bool = False,
):
    """Apply word-order transforms to a tokenised sentence (a line of sentences with
    SPLIT_SENTENCES); labels (if any) move with words."""
    order = line_order([is_final_punctuation(w) for w in words], order_fns, split_sentences)
    new_words = [words[i] for i in order]
    return new_words, (None if labels is None else [labels[i] for i in order])


class WordSentenceTransform:
    """Derive a sentence of task data (CoNLL-U, NLI) from its words: the word-order transforms,
    then the twin mark on every word under `trans` (`§word`, whose pieces the fine-tuning
    tokenizer maps to twins). Labels (if any) move with their words. SPLIT_SENTENCES: the words
    are a line of plain text, split into sentences as prepare-pair splits corpus lines (NLI);
    False for one sentence (CoNLL-U, NER)."""

    def __init__(
        self, transforms: Sequence[str], seed: int, trees: bool = False, split_sentences: bool = True
    ):
        if not trees:  # with trees (transform_conllu), syn is applied before this
            refuse_syn(transforms, "this input")
        self.order_fns = word_order_functions(transforms, seed)
        self.mark = TWIN_MARK if "trans" in transforms else ""
        self.split_sentences = split_sentences

    def __call__(self, words: Sequence[str], labels: Sequence | None = None):
        new_words, new_labels = reorder_words(words, labels, self.order_fns, self.split_sentences)
        return [self.mark + w for w in new_words], new_labels


def split_final_punctuation(line: str) -> str:
    """Collapse whitespace and detach the '.', '!' or '?' run that ends any word into its own word
    ("the border. Then" -> "the border . Then"): each such run ends a sentence, which the
    word-order transforms keep in place (line_order). "3.5" and "U.S" are left alone; "Dr." and
    "U.S." are split like a sentence end."""
    out = []
    for word in line.split():
        stem = word.rstrip(FINAL_CHARACTERS)
        if stem and stem != word:
            out += [stem, word[len(stem) :]]
        else:
            out.append(word)
    return " ".join(out)


class PieceSentenceTransform:
    """Derive a sentence of the synthetic language from the piece ids of the original.

    Built once per vocabulary: the per-piece tables make the per-sentence work a couple of
    list operations (the benchmark's 'transform step'). SPLIT_SENTENCES: a line is split into
    sentences at final-punctuation units (plain text); False for a CoNLL-U corpus, whose
    sentences are one sentence each, as in task data. TREES: the caller gives each sentence's
    syn word order (derive_ids' word_order), so syn is allowed. ANCHORS: ids of pieces that
    trans leaves as they are (shared by both languages; Conneau et al.'s anchor points).
    """

    def __init__(
        self,
        pieces: Sequence[str],
        transforms: Sequence[str],
        seed: int,
        unk_id: int = 0,
        split_sentences: bool = True,
        trees: bool = False,
        anchors: Sequence[int] = (),
    ):
        if not trees:
            refuse_syn(transforms)
        self.pieces = list(pieces)
        self.word_start = [p.startswith("▁") for p in self.pieces]
        # 0: has a character other than '▁ . ! ?'; 1: bare '▁'; 2: '. ! ?' (with '▁' or not)
        self.punct_kind = [
            2 if is_final_punctuation(p) else 1 if not p.replace("▁", "") else 0 for p in self.pieces
        ]
        self.split_sentences = split_sentences
        # pieces a final-punctuation unit can end with: only units ending in one are tested
        self.final_end = frozenset(i for i, kind in enumerate(self.punct_kind) if kind == 2)
        self.order_fns = word_order_functions(transforms, seed)
        use_trans = "trans" in transforms
        keep = frozenset(anchors) | {unk_id}  # anchors: pieces trans leaves shared
        self.out_pieces = [
            twin_piece(p) if use_trans and i not in keep else p for i, p in enumerate(self.pieces)
        ]

    def units(self, ids: Sequence[int]) -> list[list[int]]:
        """Group piece ids into words (a new word starts at a '▁' piece)."""
        starts = [k for k, i in enumerate(ids) if self.word_start[i] or k == 0]
        bounds = starts + [len(ids)]
        return [list(ids[bounds[u] : bounds[u + 1]]) for u in range(len(starts))]

    def is_final(self, unit: Sequence[int]) -> bool:
        """The unit's text is made only of ". ! ?" (is_final_punctuation of its pieces joined)."""
        kinds = [self.punct_kind[i] for i in unit]
        return 2 in kinds and 0 not in kinds

    def derive_ids(
        self,
        ids: Sequence[int],
        word_order: Sequence[int] | None = None,
        units: list[list[int]] | None = None,
    ) -> list[int]:
        """Word-order transforms on the piece ids (trans does not change ids here). WORD_ORDER
        (syn): the new order of the sentence's words, applied to its units first; UNITS: the
        pieces of each word, when they are not the '▁'-started groups of IDS (see units)."""
        if word_order is None and (not self.order_fns or not ids):
            return list(ids)
        if units is None:
            units = self.units(ids) if ids else []
        if word_order is not None:
            units = [units[i] for i in word_order]
        if not self.order_fns:
            return [i for unit in units for i in unit]
        final_end = self.final_end
        if self.split_sentences:
            ends = [
                k for k, unit in enumerate(units) if unit and unit[-1] in final_end and self.is_final(unit)
            ]
        else:  # only the last unit matters
            ends = [len(units) - 1] if units and units[-1] and self.is_final(units[-1]) else []
        out: list[int] = []
        for u in ends_order(len(units), ends, self.order_fns, self.split_sentences):
            out.extend(units[u])
        return out

    def derive_text(
        self,
        ids: Sequence[int],
        word_order: Sequence[int] | None = None,
        units: list[list[int]] | None = None,
    ) -> str:
        """Space-separated pieces of the derived sentence, as fairseq-preprocess reads them."""
        return " ".join([self.out_pieces[i] for i in self.derive_ids(ids, word_order, units)])
