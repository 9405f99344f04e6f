"""Fine-tuning samples with labels: one per token (tagging, `IGNORE` where a token has none)
or one per sequence (classification, `IGNORE` for an example whose label is unknown)."""
import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

IGNORE = -100  # target of what carries no label (pieces after a word's first, padding, ...)


def collate_targets(targets: list) -> torch.Tensor:
    """(batch,) for one label per sequence, (batch, length) padded with IGNORE for tokens."""
    if targets[0].dim() == 0:
        return torch.stack(targets)
    return data_utils.collate_tokens(targets, IGNORE)


class LabelledDataset(FairseqDataset):
    def __init__(self, tokens: list, targets: list, pad: int, shuffle: bool, seed: int,
                 lang_id: int = 0):
        self.tokens, self.targets, self.pad, self.lang_id = tokens, targets, pad, lang_id
        self.sizes = np.array([len(t) for t in tokens])
        self.shuffle, self.seed, self.epoch = shuffle, seed, 1

    def __getitem__(self, index):
        return {"id": index, "source": self.tokens[index], "target": self.targets[index]}

    def __len__(self):
        return len(self.tokens)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def collater(self, samples):
        if not samples:
            return {}
        source = data_utils.collate_tokens([s["source"] for s in samples], self.pad)
        return {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": sum(len(s["source"]) for s in samples),
            "net_input": {"src_tokens": source,
                          "src_lengths": torch.tensor([len(s["source"]) for s in samples]),
                          "src_lang_ids": torch.full_like(source, self.lang_id)},
            "target": collate_targets([s["target"] for s in samples]),
        }

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])

    def ordered_indices(self):
        if self.shuffle:
            with data_utils.numpy_seed(self.seed, self.epoch):
                order = np.random.permutation(len(self))
        else:
            order = np.arange(len(self))
        return order[np.argsort(self.sizes[order], kind="mergesort")]
