"""Per-token language ids and positions aligned with a token dataset (the MLM streams of the
objectives with language embeddings; TLM samples: alignmlm/data/tlm_packing.py).

Each item of these datasets is a LongTensor the length of the matching token item: the
language id of every token, or its 0-based position within its own sentence.
"""

import torch
from fairseq.data import BaseWrapperDataset


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
