"""Partial sharing (Conneau et al. 2020, "Emerging cross-lingual structure"): the lowest layers of
the encoder have one copy per language, the top layers are shared.

`--shared-layers-from K` counts layers as the analyses do (alignmlm analyze): layer 0 is the
input embeddings, layer i the i-th Transformer layer. Layers 0 .. K-1 are language-specific, K and
above shared; K = 0 is the fully shared model. Each token goes through its own language's copy
(`src_lang_ids`), and a masked token is predicted with its own language's (tied) embedding table.
Every copy is initialised independently, as a separately trained model's would be.
"""

import torch
import torch.nn as nn


class LanguageRoutedLayer(nn.Module):
    """One Transformer layer per language, called as fairseq's encoder calls a layer.

    Each batch row runs through the copy of every language it contains, and a token keeps the
    output of its own language's copy: a monolingual row costs one layer, a code-switched row
    (TLM, DICT-MLM substitutions) one per language it holds. The language ids of the batch
    ([B, T]) are set with `route` before the encoder runs; they stay for a recomputation under
    activation checkpointing."""

    def __init__(self, copies: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(copies)
        self.lang_ids: torch.Tensor | None = None

    def route(self, lang_ids: torch.Tensor) -> None:
        self.lang_ids = lang_ids

    def upgrade_state_dict_named(self, state_dict, name):
        # fairseq's encoder asks every layer to rename old checkpoint keys; pass it to each copy
        for lang, branch in enumerate(self.branches):
            branch.upgrade_state_dict_named(state_dict, f"{name}.branches.{lang}")

    def forward(self, x, encoder_padding_mask=None, **kwargs):
        # x: [T, B, C], as fairseq's TransformerEncoderLayer takes it
        lang_ids = self.lang_ids
        if lang_ids is None or tuple(lang_ids.shape) != (x.shape[1], x.shape[0]):
            raise RuntimeError(
                "a language-routed layer needs the batch's language ids (src_lang_ids, [batch, "
                f"length] = {(x.shape[1], x.shape[0])}); got "
                f"{None if lang_ids is None else tuple(lang_ids.shape)}"
            )
        out = torch.zeros_like(x)
        for lang, branch in enumerate(self.branches):
            tokens = lang_ids.eq(lang)  # [B, T]
            rows = tokens.any(dim=1).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            mask = None if encoder_padding_mask is None else encoder_padding_mask[rows]
            y = branch(x[:, rows], encoder_padding_mask=mask, **kwargs)
            y = y[0] if isinstance(y, tuple) else y
            keep = tokens[rows].t().unsqueeze(-1)  # [T, rows, 1]
            out[:, rows] = torch.where(keep, y, out[:, rows])
        return out


def check_lang_ids(lang_ids: torch.Tensor, num_langs: int, what: str) -> None:
    if lang_ids.numel() and (lang_ids.min() < 0 or lang_ids.max() >= num_langs):
        raise ValueError(
            f"language ids must be in [0, {num_langs}); got "
            f"[{lang_ids.min().item()}, {lang_ids.max().item()}] ({what})"
        )


def embed_by_language(tables: list[nn.Embedding], tokens: torch.Tensor, lang_ids: torch.Tensor):
    """Each token's embedding from its own language's table: [B, T, D]."""
    if len(tables) == 1:
        return tables[0](tokens)
    out = tables[0].weight.new_zeros(*tokens.shape, tables[0].embedding_dim)
    for lang, table in enumerate(tables):
        where = lang_ids.eq(lang)
        if where.any():
            out[where] = table(tokens[where])
    return out
