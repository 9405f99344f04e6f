"""RoBERTa with optional language embeddings and per-token positions (for XLM / TLM).

`src_lang_ids` (language id per token) adds a learned language embedding to the token and
position embeddings; `src_positions` (0-based position per token) replaces the positions
counted from the left, so the second sentence of a TLM pair can restart at 0. Both are
optional inputs in `net_input`: without them, and with `--num-langs 0` (the default), the
model computes exactly what fairseq's RoBERTa computes.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import RobertaEncoder, RobertaModel, base_architecture
from fairseq.utils import safe_hasattr
from omegaconf import OmegaConf

from .architectures import register_sizes


@register_model("roberta_lang")
class RobertaLangModel(RobertaModel):
    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        parser.add_argument(
            "--num-langs",
            type=int,
            metavar="N",
            help="size of the language-embedding table; 0: none (plain RoBERTa)",
        )

    @classmethod
    def build_model(cls, args, task):
        # as RobertaModel.build_model, with our encoder
        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, False)
        base_lang_architecture(args)
        if not safe_hasattr(args, "max_positions"):
            if not safe_hasattr(args, "tokens_per_sample"):
                args.tokens_per_sample = task.max_positions()
            args.max_positions = args.tokens_per_sample
        encoder = RobertaLangEncoder(args, task.source_dictionary)
        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, True)
        return cls(args, encoder)


class RobertaLangEncoder(RobertaEncoder):
    def __init__(self, args, dictionary):
        super().__init__(args, dictionary)
        encoder = self.sentence_encoder
        if encoder.embed_scale != 1.0 or encoder.embed_positions is None:
            raise ValueError("roberta_lang expects RoBERTa's unscaled token embeddings and learned positions")
        # positions are added here (so that they can be given per token); the sentence
        # encoder then sees ready input embeddings
        self.embed_positions = encoder.embed_positions
        encoder.embed_positions = None
        self.num_langs = args.num_langs
        self.embed_langs = None
        if args.num_langs > 0:
            self.embed_langs = nn.Embedding(args.num_langs, args.encoder_embed_dim)
            nn.init.normal_(self.embed_langs.weight, mean=0.0, std=0.02)

    def input_embeddings(self, src_tokens, src_lang_ids=None, src_positions=None):
        pad = self.embed_positions.padding_idx
        if src_positions is None:
            positions = None  # fairseq's own: counted from the left, padding skipped
            x = self.embed_positions(src_tokens)
        else:
            positions = torch.where(
                src_tokens.eq(pad), torch.full_like(src_positions, pad), src_positions + pad + 1
            )
            if positions.max() >= self.embed_positions.weight.shape[0]:
                raise ValueError(f"a position exceeds the model's {self.max_positions()} positions")
            x = F.embedding(positions, self.embed_positions.weight, pad)
        x = x + self.sentence_encoder.embed_tokens(src_tokens)
        if src_lang_ids is not None:
            if self.embed_langs is None:
                raise ValueError(
                    "src_lang_ids given but the model has no language embeddings (--num-langs 0)"
                )
            if src_lang_ids.min() < 0 or src_lang_ids.max() >= self.num_langs:
                raise ValueError(
                    f"language ids must be in [0, {self.num_langs}); got "
                    f"[{src_lang_ids.min().item()}, {src_lang_ids.max().item()}]"
                )
            x = x + self.embed_langs(src_lang_ids)
        return x

    def extract_features(
        self, src_tokens, return_all_hiddens=False, src_lang_ids=None, src_positions=None, **kwargs
    ):
        encoder_out = self.sentence_encoder(
            src_tokens,
            return_all_hiddens=return_all_hiddens,
            token_embeddings=self.input_embeddings(src_tokens, src_lang_ids, src_positions),
        )
        features = encoder_out["encoder_out"][0].transpose(0, 1)
        inner_states = encoder_out["encoder_states"] if return_all_hiddens else None
        return features, {"inner_states": inner_states}

    def forward(
        self,
        src_tokens,
        features_only=False,
        return_all_hiddens=False,
        masked_tokens=None,
        src_lang_ids=None,
        src_positions=None,
        **unused,
    ):
        x, extra = self.extract_features(src_tokens, return_all_hiddens, src_lang_ids, src_positions)
        if not features_only:
            x = self.output_layer(x, masked_tokens=masked_tokens)
        return x, extra


@register_model_architecture("roberta_lang", "roberta_lang")
def base_lang_architecture(args):
    args.num_langs = getattr(args, "num_langs", None) or 0
    base_architecture(args)


register_sizes("roberta_lang", base_lang_architecture)
