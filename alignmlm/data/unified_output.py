"""mOthello's unified output space on a synthetic pair with a script change: the MLM target of a
masked language-2 piece is the id of its language-1 original, so the output layer predicts in
one language whatever the input language (Hua, Yun & Pavlick 2024)."""

import torch
from fairseq.data import BaseWrapperDataset


def unify_targets(targets: torch.Tensor, first_piece: int, twin_offset: int) -> torch.Tensor:
    """TARGETS with every twin id (language 2's pieces: [FIRST_PIECE + V, FIRST_PIECE + 2V), V =
    TWIN_OFFSET) replaced by its original's id (minus V); specials, padding and language 1's ids
    unchanged."""
    twin = (targets >= first_piece + twin_offset) & (targets < first_piece + 2 * twin_offset)
    return torch.where(twin, targets - twin_offset, targets)


class UnifiedTargetDataset(BaseWrapperDataset):
    """The MLM targets of the wrapped dataset through `unify_targets`."""

    def __init__(self, dataset, first_piece: int, twin_offset: int):
        super().__init__(dataset)
        self.first_piece, self.twin_offset = first_piece, twin_offset

    def __getitem__(self, index):
        return unify_targets(self.dataset[index], self.first_piece, self.twin_offset)
