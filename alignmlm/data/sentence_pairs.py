"""Sentence-pair input as RoBERTa reads it: `<s> premise </s> </s> hypothesis </s>`."""
import torch
from ..errors import InputError


def encode_pair(first: list, second: list, bos: int, eos: int, max_tokens: int):
    """(tokens, cut) of a pair of piece-id lists; when it does not fit in `max_tokens`, pieces
    are cut from the end of the longer sentence first, and `cut` is True."""
    budget = max_tokens - 4  # <s>, </s> </s>, </s>
    if budget < 2:
        raise InputError(f"--max-positions {max_tokens} is too small for a sentence pair")
    first, second = list(first), list(second)
    cut = len(first) + len(second) > budget
    while len(first) + len(second) > budget:
        (first if len(first) >= len(second) else second).pop()
    return torch.tensor([bos] + first + [eos, eos] + second + [eos]), cut
