"""Token-classification samples: `<s> pieces </s>` with a label on each word's first piece."""
import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

IGNORE = -100  # label of pieces that are not a word's first piece (and of padding)


def encode_tagged(words, labels, word_ids, label_index: dict, bos: int, eos: int,
                  max_tokens: int):
    """(tokens, targets, n_unknown_labels, n_cut_words) of one sentence; words that do not fit
    in `max_tokens` are cut, labels outside `label_index` are ignored (and counted)."""
    tokens, targets, unknown, cut = [bos], [IGNORE], 0, 0
    for k, (word, label) in enumerate(zip(words, labels)):
        ids = word_ids(word)
        if len(tokens) + len(ids) + 1 > max_tokens:
            cut = len(words) - k
            break
        target = label_index.get(label, IGNORE)
        unknown += target == IGNORE
        tokens.extend(ids)
        targets.extend([target] + [IGNORE] * (len(ids) - 1))
    tokens.append(eos)
    targets.append(IGNORE)
    return torch.tensor(tokens), torch.tensor(targets), unknown, cut


class TaggingDataset(FairseqDataset):
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
            "target": data_utils.collate_tokens([s["target"] for s in samples], IGNORE),
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
