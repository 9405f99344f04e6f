"""RoBERTa with optional language embeddings and per-token positions (for XLM / TLM).

`src_lang_ids` (language id per token) adds a learned language embedding to the token and
position embeddings; `src_positions` (0-based position per token) replaces the positions
counted from the left, so the second sentence of a TLM pair can restart at 0. Both are
optional inputs in `net_input`: without them, and with `--num-langs 0` (the default), the
model computes exactly what fairseq's RoBERTa computes.

`--shared-layers-from K` (with `--lang-branches N`, set by the pretraining task from its
languages) gives the lowest layers one copy per language (models/language_routing.py); then
`src_lang_ids` is required, and K = 0 is the model above, unchanged.
"""

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import RobertaEncoder, RobertaModel, base_architecture
from fairseq.utils import safe_hasattr
from omegaconf import OmegaConf

from ..errors import InputError
from .architectures import register_sizes
from .language_routing import LanguageRoutedLayer, check_lang_ids, embed_by_language


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
        parser.add_argument(
            "--shared-layers-from",
            type=int,
            metavar="K",
            help="partial sharing: layers 0 (the input embeddings) .. K-1 have one copy per "
            "language, layers K and above are shared; 0: all shared",
        )
        parser.add_argument(
            "--lang-branches",
            type=int,
            metavar="N",
            help="languages with their own copies under --shared-layers-from (set by the task)",
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
        self.shared_layers_from = getattr(args, "shared_layers_from", 0) or 0
        self.lang_branches = 0
        self.extra_embed_tokens = None  # the token tables of languages 1, 2, ... (0: embed_tokens)
        if self.shared_layers_from > 0:
            self._split_lowest_layers(args)

    def _split_lowest_layers(self, args) -> None:
        """Copies of the embedding table and of Transformer layers 1 .. K-1 for every language
        but the first; RobertaModel then initialises every copy afresh (init_bert_params)."""
        k, layers = self.shared_layers_from, len(self.sentence_encoder.layers)
        branches = getattr(args, "lang_branches", 0) or 0
        if not 0 < k <= layers:
            raise InputError(
                f"--shared-layers-from {k}: expected 0 (all shared) .. {layers} (this model's "
                f"{layers} layers; layer 0 is the embeddings, and at least the top layer is shared)"
            )
        if branches < 2:
            raise InputError(f"--shared-layers-from {k} needs --lang-branches >= 2 languages, got {branches}")
        self.lang_branches = branches
        embed = self.sentence_encoder.embed_tokens
        self.extra_embed_tokens = nn.ModuleList(copy.deepcopy(embed) for _ in range(branches - 1))
        for i in range(k - 1):  # Transformer layer i is analysis layer i + 1
            layer = self.sentence_encoder.layers[i]
            copies = [layer] + [copy.deepcopy(layer) for _ in range(branches - 1)]
            self.sentence_encoder.layers[i] = LanguageRoutedLayer(copies)

    def token_tables(self) -> list:
        """The input (and tied output) token embedding of each language; one shared table unless
        the embeddings are language-specific."""
        extra = list(self.extra_embed_tokens) if self.extra_embed_tokens is not None else []
        return [self.sentence_encoder.embed_tokens, *extra]

    def _route(self, src_lang_ids):
        if not self.lang_branches:
            return
        if src_lang_ids is None:
            raise ValueError(
                f"this model has language-specific layers (--shared-layers-from "
                f"{self.shared_layers_from}): src_lang_ids is required"
            )
        check_lang_ids(src_lang_ids, self.lang_branches, "--lang-branches")
        for layer in self.sentence_encoder.layers:
            if isinstance(layer, LanguageRoutedLayer):
                layer.route(src_lang_ids)

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
        if src_lang_ids is not None and self.embed_langs is None and not self.lang_branches:
            raise ValueError(
                "src_lang_ids given but the model has no language embeddings (--num-langs 0) "
                "and no language-specific layers"
            )
        self._route(src_lang_ids)  # the routed layers read the ids when the encoder runs
        x = x + embed_by_language(self.token_tables(), src_tokens, src_lang_ids)
        if src_lang_ids is not None and self.embed_langs is not None:
            check_lang_ids(src_lang_ids, self.num_langs, "--num-langs")
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
            x = self.output_layer(x, masked_tokens=masked_tokens, lang_ids=src_lang_ids)
        return x, extra

    def output_layer(self, features, masked_tokens=None, lang_ids=None, **unused):
        """fairseq's LM head; with language-specific embeddings, each token's logits come from
        its own language's (tied) table."""
        if self.extra_embed_tokens is None:
            return self.lm_head(features, masked_tokens)
        head = self.lm_head
        if masked_tokens is not None:
            features, lang_ids = features[masked_tokens, :], lang_ids[masked_tokens]
        x = head.layer_norm(head.activation_fn(head.dense(features)))
        logits = x.new_empty(*x.shape[:-1], head.bias.shape[0])
        for lang, table in enumerate(self.token_tables()):
            where = lang_ids.eq(lang)
            logits[where] = F.linear(x[where], table.weight) + head.bias
        return logits


@register_model_architecture("roberta_lang", "roberta_lang")
def base_lang_architecture(args):
    args.num_langs = getattr(args, "num_langs", None) or 0
    args.shared_layers_from = getattr(args, "shared_layers_from", None) or 0
    args.lang_branches = getattr(args, "lang_branches", None) or 0
    base_architecture(args)


register_sizes("roberta_lang", base_lang_architecture)
