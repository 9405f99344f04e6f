"""Per-token language ids and positions aligned with a token dataset (for XLM / TLM).

Each item of these datasets is a LongTensor the length of the matching token item: the
language id of every token, or its 0-based position within its own sentence.
"""
import numpy as np
import torch
from fairseq.data import BaseWrapperDataset, FairseqDataset


class ConstantTokenDataset(BaseWrapperDataset):
    """`value` at every token of the wrapped dataset's items (e.g. a stream's language id)."""

    def __init__(self, dataset, value: int):
        super().__init__(dataset)
        self.value = value

    def __getitem__(self, index):
        return torch.full((int(self.dataset.sizes[index]),), self.value, dtype=torch.long)


class PositionDataset(BaseWrapperDataset):
    """0, 1, ..., n-1 for every item (positions counted from the left)."""

    def __getitem__(self, index):
        return torch.arange(int(self.dataset.sizes[index]), dtype=torch.long)


class ParallelPairDataset(FairseqDataset):
    """TLM samples `<s> source </s> target </s>` of selected sentence pairs.

    field='tokens' gives the tokens; 'lang_ids' the language of each token (the <s> and the
    first </s> belong to the source); 'positions' positions that restart at 0 where the
    target sentence starts. The indexed datasets' items already end with </s>.
    """

    FIELDS = ("tokens", "lang_ids", "positions")

    def __init__(self, source, target, pair_indices: np.ndarray, bos: int, langs=(0, 1),
                 field: str = "tokens"):
        if field not in self.FIELDS:
            raise ValueError(f"field must be one of {self.FIELDS}, got {field!r}")
        if len(source) != len(target):
            raise ValueError(f"parallel data differ in length: {len(source)} != {len(target)}")
        self.source, self.target, self.bos = source, target, bos
        self.pair_indices = np.asarray(pair_indices, dtype=np.int64)
        self.langs, self.field = langs, field
        self.source_sizes = source.sizes[self.pair_indices] + 1  # with <s>
        self.sizes = self.source_sizes + target.sizes[self.pair_indices]

    def __len__(self):
        return len(self.pair_indices)

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
        pair = self.pair_indices[index]
        return torch.cat([torch.tensor([self.bos]), self.source[pair].long(), self.target[pair].long()])

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])

    @property
    def supports_prefetch(self):
        return False
