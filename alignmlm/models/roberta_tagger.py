"""RoBERTa with a token-classification head, fine-tuned from a pretraining checkpoint of this
plugin (`--pretrained-checkpoint`; see pretrained_encoder): the encoder's weights are loaded,
the head starts fresh. Archs roberta_tagger, roberta_tagger_tiny, roberta_tagger_align_paper."""

import torch.nn as nn
from fairseq.models import register_model

from .pretrained_encoder import PretrainedEncoderModel, register_finetuning_sizes


@register_model("roberta_tagger")
class RobertaTaggerModel(PretrainedEncoderModel):
    def __init__(self, args, encoder, num_labels: int):
        super().__init__(args, encoder)
        self.tag_head = nn.Sequential(
            nn.Dropout(args.pooler_dropout), nn.Linear(args.encoder_embed_dim, num_labels)
        )

    def forward(self, src_tokens, src_lang_ids=None, **kwargs):
        return self.tag_head(self.features(src_tokens, src_lang_ids))


register_finetuning_sizes("roberta_tagger")
