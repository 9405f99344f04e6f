"""TLM samples packed to the block length, as the ALIGN-MLM authors build them: each sample holds
several parallel pairs, the first half of the block the source sentences and the second half
their translations, in the same order:

    <s> s1 </s> s2 </s> ... sk </s>  t1 </s> t2 </s> ... tk </s>
    |---- at most tokens_per_sample // 2 ----||-- at most the rest --|

Language ids are per half (the `<s>` belongs to the source), and positions restart at 0 where the
second half starts. The halves are laid out back to back, with no padding between them, so a
sample carries only real tokens (the collater pads on the right, as for every sample).

Which pairs share a sample: best-fit decreasing (longest pair first, into the open sample whose
source half has the least room that still fits both halves). On EN-EWT it fills 99 % of a
128-token block where filling with consecutive pairs until one does not fit reaches 76 % (89 % at
512), which would leave XLM with fewer tokens per update than the other objectives (their
blocks are full). The pairs packed together are a random share of the corpus (--tlm-fraction),
not neighbouring sentences, so the order loses no context that consecutive filling would keep.
Within a sample the pairs keep their corpus order. A pair whose half alone does not fit in its
half of the block is left out (never truncated: a cut sentence would no longer be the
translation of the other half, e.g. under Inv); the caller logs how many.
"""

import numpy as np
import torch
from fairseq.data import FairseqDataset

from ..errors import InputError


def half_capacities(tokens_per_sample: int) -> tuple[int, int]:
    """(tokens for `<s>` + source sentences, tokens for the translations) of a block."""
    first = tokens_per_sample // 2
    return first, tokens_per_sample - first


def pack_pairs(source_sizes: np.ndarray, target_sizes: np.ndarray, tokens_per_sample: int):
    """(groups, left_out): `groups` a list of int64 arrays of pair indices (each sorted), one per
    sample, such that 1 + sum of source sizes <= the first half and the sum of target sizes <= the
    second; `left_out` the indices of pairs too long for their half. Deterministic."""
    source_sizes = np.asarray(source_sizes, dtype=np.int64)
    target_sizes = np.asarray(target_sizes, dtype=np.int64)
    if source_sizes.shape != target_sizes.shape:
        raise InputError(f"parallel data differ in length: {len(source_sizes)} != {len(target_sizes)}")
    first, second = half_capacities(tokens_per_sample)
    source_room = first - 1  # the sample's <s>
    if source_room < 1 or second < 1:
        raise InputError(f"--tokens-per-sample {tokens_per_sample} is too small for a TLM sample")
    fits = (source_sizes <= source_room) & (target_sizes <= second)
    order = np.flatnonzero(fits)
    order = order[np.argsort(-(source_sizes[order] + target_sizes[order]), kind="stable")]
    # open samples by the room left in their source half; closed once a half is full
    by_room = [[] for _ in range(source_room + 1)]
    nonempty = np.zeros(source_room + 1, dtype=bool)
    rooms, members = [], []  # per sample: [source room, target room], its pairs
    for pair in order:
        s, t = int(source_sizes[pair]), int(target_sizes[pair])
        chosen = None
        for room in np.flatnonzero(nonempty[s:]) + s:  # best fit on the source half
            bucket = by_room[room]
            for k in range(len(bucket) - 1, -1, -1):
                if rooms[bucket[k]][1] >= t:
                    chosen = bucket.pop(k)
                    break
            if not bucket:
                nonempty[room] = False
            if chosen is not None:
                break
        if chosen is None:
            chosen = len(rooms)
            rooms.append([source_room, second])
            members.append([])
        rooms[chosen][0] -= s
        rooms[chosen][1] -= t
        members[chosen].append(pair)
        if rooms[chosen][0] > 0 and rooms[chosen][1] > 0:
            by_room[rooms[chosen][0]].append(chosen)
            nonempty[rooms[chosen][0]] = True
    groups = [np.sort(np.asarray(m, dtype=np.int64)) for m in members]
    return groups, np.flatnonzero(~fits)


class PackedPairDataset(FairseqDataset):
    """One field of packed TLM samples (module docstring): field='tokens' the tokens, 'lang_ids'
    the language of each token (`langs[0]` in the first half), 'positions' positions restarting
    at 0 in the second half. `groups` index `source` / `target` (whose items end with </s>)."""

    FIELDS = ("tokens", "lang_ids", "positions")

    def __init__(self, source, target, groups: list, bos: int, langs=(0, 1), field: str = "tokens"):
        if field not in self.FIELDS:
            raise ValueError(f"field must be one of {self.FIELDS}, got {field!r}")
        if len(source) != len(target):
            raise InputError(f"parallel data differ in length: {len(source)} != {len(target)}")
        self.source, self.target, self.bos = source, target, bos
        self.groups, self.langs, self.field = groups, langs, field
        self.source_sizes = np.array([1 + source.sizes[g].sum() for g in groups], dtype=np.int64)
        self.sizes = self.source_sizes + np.array([target.sizes[g].sum() for g in groups], dtype=np.int64)

    def __len__(self):
        return len(self.groups)

    def __getitem__(self, index):
        n_source, n = int(self.source_sizes[index]), int(self.sizes[index])
        if self.field == "lang_ids":
            ids = torch.full((n,), self.langs[1], dtype=torch.long)
            ids[:n_source] = self.langs[0]
            return ids
        if self.field == "positions":
            positions = torch.arange(n, dtype=torch.long)
            positions[n_source:] -= n_source
            return positions
        group = self.groups[index]
        return torch.cat(
            [torch.tensor([self.bos])]
            + [self.source[int(i)].long() for i in group]
            + [self.target[int(i)].long() for i in group]
        )

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])

    @property
    def supports_prefetch(self):
        return False
