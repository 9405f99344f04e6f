"""BIO (IOB2) entity tags: the chunks (entity spans) a tag sequence holds, and tags re-derived
after the words were reordered.

Chunks follow conlleval / seqeval's default mode (seqeval.metrics.sequence_labeling.get_entities):
a chunk starts at `B-X`, or at `I-X` after `O` or after a tag of another type (so `I-PER I-PER`
is one PER chunk and IOB1 data reads right); it ends before `O`, a `B-`, or another type
(`B-PER I-LOC` is two chunks). Tags are `O`, `B-X` or `I-X` (alignmlm.data.ner_reader checks).

Word-order transforms (inv, perm) move words; their tags cannot simply move with them (reversed
`B-LOC I-LOC` is `I-LOC B-LOC`, invalid). `reorder_tags` moves each word's *chunk* with it and
writes the tags again in the new reading order: a maximal run of a chunk's words that are
adjacent in the new order gets `B-` then `I-`. Under inv a chunk stays one run (reversed); under
perm a chunk's words may no longer be adjacent, and then each run becomes its own chunk of the
same type (the words keep their type; no words are moved out of the transform's order, which
must stay the pretraining language's).
"""

from __future__ import annotations

from collections.abc import Sequence

OUTSIDE = "O"


def split_tag(tag: str) -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER'); 'O' (or anything without a B-/I- prefix) -> ('O', '')."""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BI":
        return tag[0], tag[2:]
    return OUTSIDE, ""


def chunk_ids(tags: Sequence[str]) -> list:
    """For each word, (chunk number, type) of the chunk it belongs to, or None outside chunks."""
    out, current, prev_type = [], -1, None
    for tag in tags:
        prefix, kind = split_tag(tag)
        if prefix == OUTSIDE:
            out.append(None)
            prev_type = None
            continue
        if prefix == "B" or kind != prev_type:  # I-X after O or after another type starts one too
            current += 1
        out.append((current, kind))
        prev_type = kind
    return out


def chunks(tags: Sequence[str]) -> set:
    """The chunks of a tag sequence as (type, start, end) with `end` exclusive."""
    spans: dict = {}
    for position, chunk in enumerate(chunk_ids(tags)):
        if chunk is not None:
            number, kind = chunk
            start, _, _ = spans.get(number, (position, None, kind))
            spans[number] = (start, position + 1, kind)
    return {(kind, start, end) for start, end, kind in spans.values()}


def tags_of(ids: Sequence) -> list:
    """Tags from a sequence of (chunk, type) / None in reading order: B- at the start of each
    run of one chunk, I- inside it."""
    tags, previous = [], None
    for chunk in ids:
        if chunk is None:
            tags.append(OUTSIDE)
        else:
            tags.append(("I-" if chunk == previous else "B-") + chunk[1])
        previous = chunk
    return tags


def normalize(tags: Sequence[str]) -> list:
    """The same chunks written in IOB2 (every chunk starts with B-): IOB1 data becomes BIO."""
    return tags_of(chunk_ids(tags))


def reorder_tags(tags: Sequence[str], order: Sequence[int]) -> list:
    """Tags of the words reordered so (new position k holds old word order[k]), re-derived
    so every chunk reads B- then I- in the new order (see the module's docstring)."""
    ids = chunk_ids(tags)
    return tags_of([ids[i] for i in order])
