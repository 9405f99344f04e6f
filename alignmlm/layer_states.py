"""Hidden states of a pretrained encoder, layer by layer, for the analyses of representations
across languages (alignmlm analyze): a language's sentences (or words) in, one [N, D] matrix per
layer out, layer 0 being the input embeddings as the first Transformer layer sees them.

Works for every objective's model: fairseq's RoBERTa (MLM, ALIGN-MLM) and the plugin's RoBERTa
with language embeddings (XLM, DICT-MLM) or language-specific layers (--shared-layers-from), which
is given the language id of the side it encodes.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .models.embeddings import needs_lang_ids, unwrapped
from .representation_similarity import mean_pool


def padded_batches(sentences: list, pad: int, batch_size: int) -> Iterator[tuple[int, torch.Tensor]]:
    """(first index, LongTensor [B, T] right-padded with PAD) of consecutive batches."""
    for start in range(0, len(sentences), batch_size):
        batch = sentences[start : start + batch_size]
        tokens = torch.full((len(batch), max(len(s) for s in batch)), pad, dtype=torch.long)
        for row, sentence in enumerate(batch):
            tokens[row, : len(sentence)] = sentence
        yield start, tokens


@torch.no_grad()
def layer_states(model, tokens: torch.Tensor, lang_id: int) -> list[torch.Tensor]:
    """[B, T, D] per layer (the embedding output first, then each layer's output) for tokens
    [B, T]; a model with language embeddings or layers reads every position as LANG_ID's."""
    encoder = unwrapped(model).encoder
    device = next(encoder.parameters()).device
    tokens = tokens.to(device)
    extra = {}
    if needs_lang_ids(encoder):
        extra["src_lang_ids"] = torch.full_like(tokens, lang_id)
    _, out = encoder.extract_features(tokens, return_all_hiddens=True, **extra)
    return [state.transpose(0, 1).float() for state in out["inner_states"]]


@torch.no_grad()
def sentence_vectors(
    model, sentences: list, lang_id: int, specials: set, pad: int, batch_size: int = 64
) -> list[torch.Tensor]:
    """[N, D] per layer: each sentence (a LongTensor of token ids) as the mean of its states over
    its real tokens. SPECIALS (ids of <s>, </s>, ...) are left out of the mean: they are the same
    tokens in both languages and would make any two sentences look alike."""
    per_layer: list[list[torch.Tensor]] = []
    for _, tokens in padded_batches(sentences, pad, batch_size):
        keep = ~torch.isin(tokens, torch.tensor(sorted(specials | {pad})))
        states = layer_states(model, tokens, lang_id)
        if not per_layer:
            per_layer = [[] for _ in states]
        for k, state in enumerate(states):
            per_layer[k].append(mean_pool(state, keep.to(state.device)).cpu())
    return [torch.cat(chunks) for chunks in per_layer]


@torch.no_grad()
def token_vectors(
    model, sentences: list, positions: list, lang_id: int, pad: int, batch_size: int = 64
) -> list[torch.Tensor]:
    """[M, D] per layer: the states at POSITIONS (for each sentence, a list of token positions,
    e.g. each word's first piece), in sentence order."""
    per_layer: list[list[torch.Tensor]] = []
    for start, tokens in padded_batches(sentences, pad, batch_size):
        rows = [(b, p) for b in range(tokens.shape[0]) for p in positions[start + b]]
        index_b = torch.tensor([b for b, _ in rows], dtype=torch.long)
        index_p = torch.tensor([p for _, p in rows], dtype=torch.long)
        states = layer_states(model, tokens, lang_id)
        if not per_layer:
            per_layer = [[] for _ in states]
        for k, state in enumerate(states):
            per_layer[k].append(state[index_b.to(state.device), index_p.to(state.device)].cpu())
    return [torch.cat(chunks) for chunks in per_layer]
