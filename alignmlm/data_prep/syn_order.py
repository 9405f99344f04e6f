"""Syn: reorder a sentence's dependency tree to a target language's word order (docs/design.md §2),
as Galactic Dependencies does (`en~fr@N~fr@V`), as pure functions.

Learning (`learn_order`, from any UD treebank of the target language). Heads are grouped into
two categories by UPOS:

  nouns  NOUN, PROPN, PRON
  verbs  VERB, AUX

For each (category, relation) — the relation is the universal part of DEPREL, before ':' —
the treebank gives
  side  before or after the head: the majority of that relation's dependents under heads of
        that category; a tie counts as *before* (a fixed rule)
  rank  the mean relative position of the relation among the head's dependents on that side,
        (j + 0.5) / k for the j-th of k dependents there, left to right (dependents on the
        majority side only)

Reordering (`SynOrder.order`): a head of a requested category places each dependent on its
relation's learned side, siblings on one side sorted by rank; a relation the treebank never shows
under that category keeps its original side and gets its original relative position on that side
as rank (same formula), so unseen relations keep their relative order. Equal ranks keep the
original order (a stable sort), so the result is fully deterministic: there is nothing random in
Syn and the seed does not change it (same seed, same output). Heads of other categories keep their
dependents and themselves in the original order.

The linearisation is projective: a head's span is its dependents' spans and the head itself in
the new order, so every subtree is contiguous. A non-projective input tree is linearised the same
way (its crossing arcs come out uncrossed: a dependent moves next to its head's other material).
Several roots (HEAD 0) keep their original order. A HEAD pointing to no word, '_' as HEAD, or a
cycle is refused (InputError naming file, line and sentence).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import InputError

HEAD_CATEGORIES = {"nouns": ("NOUN", "PROPN", "PRON"), "verbs": ("VERB", "AUX")}
UPOS_CATEGORY = {tag: cat for cat, tags in HEAD_CATEGORIES.items() for tag in tags}


def parse_heads(spec: str) -> tuple[str, ...]:
    """'nouns,verbs' -> ('nouns', 'verbs'); unknown names are an InputError."""
    names = tuple(sorted({n.strip() for n in spec.replace("+", ",").split(",") if n.strip()}))
    bad = [n for n in names if n not in HEAD_CATEGORIES]
    if not names or bad:
        raise InputError(
            f"--syn-heads {spec!r}: expected 'nouns', 'verbs' or 'nouns,verbs'"
            + (f" (unknown: {', '.join(bad)})" if bad else "")
        )
    return names


def universal(deprel) -> str:
    return (deprel or "_").split(":", 1)[0]


def sentence_name(sentence, index: int) -> str:
    sent_id = getattr(sentence, "metadata", {}).get("sent_id")
    return f"sentence {index + 1}" + (f" (sent_id {sent_id})" if sent_id else "")


def word_line(path: Path | None, index: int, word_id) -> str:
    """'PATH:LINE' of word WORD_ID in the INDEX-th sentence block of PATH ('PATH' if not found)."""
    if path is None:
        return "<input>"
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return str(path)
    block, in_block = -1, False
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            in_block = False
            continue
        if not in_block:
            block, in_block = block + 1, True
        if block == index and line.split("\t", 1)[0] == str(word_id):
            return f"{path}:{lineno}"
    return str(path)


def tree_arrays(sentence, index: int = 0, path: Path | None = None):
    """(forms, heads, upos, relations) of the words (integer ids) of a conllu TokenList, the
    heads as 0..n ints; a HEAD that is '_' or names no word is an InputError."""
    words = [t for t in sentence if isinstance(t["id"], int)]
    ids = {t["id"]: k for k, t in enumerate(words, 1)}
    heads = []
    for t in words:
        h = t["head"]
        if h == 0:
            heads.append(0)
        elif h in ids:
            heads.append(ids[h])
        else:
            where = word_line(path, index, t["id"])
            what = "is '_' (no tree)" if h is None else f"is {h}, which names no word"
            raise InputError(
                f"{where}: {sentence_name(sentence, index)}, word {t['id']} {t['form']!r}: HEAD {what} "
                f"(the sentence has words 1..{len(words)}); Syn needs a dependency tree in HEAD: "
                "fix the HEAD column, or parse the text into CoNLL-U with Stanza or UDPipe"
            )
    return (
        [t["form"] for t in words],
        heads,
        [t["upos"] for t in words],
        [universal(t["deprel"]) for t in words],
    )


def learn_order(
    sentences: Iterable, heads: Sequence[str] = ("nouns", "verbs"), path: Path | None = None
) -> dict:
    """{(category, relation): (side, rank)} from a target-language treebank; side -1 = before
    the head, +1 = after. Only the requested head categories are learned; none usable is an
    InputError."""
    wanted = set(heads)
    counts: dict = {}  # (cat, rel) -> [n_before, n_after, sum_rank_before, sum_rank_after]
    n_sentences = 0
    for index, sentence in enumerate(sentences):
        _, hs, upos, rels = tree_arrays(sentence, index, path)
        n_sentences += 1
        children: list[list[int]] = [[] for _ in range(len(hs) + 1)]
        for i, h in enumerate(hs, 1):
            children[h].append(i)
        for h in range(1, len(hs) + 1):
            cat = UPOS_CATEGORY.get(upos[h - 1])
            if cat not in wanted or not children[h]:
                continue
            left = [d for d in children[h] if d < h]
            right = [d for d in children[h] if d > h]
            for side, deps in ((0, left), (1, right)):
                for j, d in enumerate(deps):
                    c = counts.setdefault((cat, rels[d - 1]), [0, 0, 0.0, 0.0])
                    c[side] += 1
                    c[2 + side] += (j + 0.5) / len(deps)
    model = {}
    for key in sorted(counts):
        n_before, n_after, s_before, s_after = counts[key]
        if n_before >= n_after:
            model[key] = (-1, s_before / n_before)
        else:
            model[key] = (1, s_after / n_after)
    if not model:
        raise InputError(
            f"{path or '<treebank>'}: --syn-treebank has no dependency relations under "
            f"{' or '.join(heads)} heads (UPOS {', '.join(t for c in heads for t in HEAD_CATEGORIES[c])}) "
            f"in its {n_sentences} sentences; give a UD treebank of the target language with UPOS, HEAD "
            "and DEPREL filled"
        )
    return model


class SynOrder:
    """The learned order of a target treebank, applied to trees (see the module's docstring)."""

    def __init__(self, model: dict, heads: Sequence[str] = ("nouns", "verbs")):
        self.heads = tuple(heads)
        # per UPOS tag of a reordered head: relation -> (side, rank)
        self.by_upos = {
            tag: {rel: sr for (cat, rel), sr in model.items() if cat == c}
            for c in self.heads
            for tag in HEAD_CATEGORIES[c]
        }

    @classmethod
    def from_treebank(cls, path: Path, heads: Sequence[str] = ("nouns", "verbs")) -> SynOrder:
        from alignmlm.data.conllu_reader import parse_conllu, word_sentences

        return cls(learn_order(word_sentences(parse_conllu(path)), heads, path), heads)

    def order(self, heads: Sequence[int], upos: Sequence[str], rels: Sequence[str]) -> list[int] | None:
        """0-based indices of the words in the new order, or None if some words are not
        reachable from a root (a cycle). `heads` are 1-based with 0 for the root."""
        n = len(heads)
        children: list[list[int]] = [[] for _ in range(n + 1)]
        for i, h in enumerate(heads, 1):
            children[h].append(i)
        by_upos = self.by_upos
        out: list[int] = []
        stack = [-d for d in reversed(children[0])]  # -x: expand x's subtree; +x: emit word x
        while stack:
            x = stack.pop()
            if x > 0:
                out.append(x - 1)
                continue
            h = -x
            deps = children[h]
            if not deps:
                out.append(h - 1)
                continue
            learned = by_upos.get(upos[h - 1])
            if learned is None:
                items = [-d for d in deps if d < h] + [h] + [-d for d in deps if d > h]
            else:
                n_left = sum(1 for d in deps if d < h)
                n_right = len(deps) - n_left
                before, after = [], []
                for j, d in enumerate(deps):
                    sr = learned.get(rels[d - 1])
                    if sr is None:  # unseen: original side, original relative position
                        if d < h:
                            before.append(((j + 0.5) / n_left, j, d))
                        else:
                            after.append(((j - n_left + 0.5) / n_right, j, d))
                    elif sr[0] < 0:
                        before.append((sr[1], j, d))
                    else:
                        after.append((sr[1], j, d))
                before.sort()
                after.sort()
                items = [-d for _, _, d in before] + [h] + [-d for _, _, d in after]
            stack.extend(reversed(items))
        return out if len(out) == n else None

    def sentence_order(self, sentence, index: int = 0, path: Path | None = None) -> list[int]:
        """The new order of a conllu TokenList's words (0-based indices); bad trees refused."""
        _, heads, upos, rels = tree_arrays(sentence, index, path)
        order = self.order(heads, upos, rels)
        if order is None:
            words = [t for t in sentence if isinstance(t["id"], int)]
            reached = set(self.order_reached(heads))
            lost = [w for k, w in enumerate(words) if k not in reached]
            raise InputError(
                f"{word_line(path, index, lost[0]['id'])}: {sentence_name(sentence, index)}: words "
                f"{', '.join(str(w['id']) for w in lost)} do not lead to the root (HEAD 0): a cycle in "
                "HEAD; Syn needs a tree: fix the HEAD column, or parse the text again with Stanza or UDPipe"
            )
        return order

    @staticmethod
    def order_reached(heads: Sequence[int]) -> list[int]:
        """0-based indices of the words reachable from the root(s)."""
        children: list[list[int]] = [[] for _ in range(len(heads) + 1)]
        for i, h in enumerate(heads, 1):
            children[h].append(i)
        seen, stack = [], list(children[0])
        while stack:
            x = stack.pop()
            seen.append(x - 1)
            stack.extend(children[x])
        return seen
