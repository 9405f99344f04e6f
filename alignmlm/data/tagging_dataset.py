"""Token-classification samples: `<s> pieces </s>` with a label on each word's first piece."""
import torch

from .labelled_dataset import IGNORE


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
