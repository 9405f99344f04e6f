"""RoBERTa with a sequence-classification head on `<s>` (fairseq's RobertaClassificationHead:
dense, tanh, dropout, projection), fine-tuned from a pretraining checkpoint of this plugin
(`--pretrained-checkpoint`; see pretrained_encoder): the encoder's weights are loaded, the head
starts fresh. Archs roberta_classifier, roberta_classifier_tiny, roberta_classifier_align_paper."""

from fairseq.models import register_model
from fairseq.models.roberta.model import RobertaClassificationHead

from .pretrained_encoder import PretrainedEncoderModel, register_finetuning_sizes


@register_model("roberta_classifier")
class RobertaClassifierModel(PretrainedEncoderModel):
    def __init__(self, args, encoder, num_labels: int):
        super().__init__(args, encoder)
        self.class_head = RobertaClassificationHead(
            args.encoder_embed_dim,
            args.encoder_embed_dim,
            num_labels,
            args.pooler_activation_fn,
            args.pooler_dropout,
        )

    def forward(self, src_tokens, src_lang_ids=None, **kwargs):
        """Logits (batch, labels)."""
        return self.class_head(self.features(src_tokens, src_lang_ids))


register_finetuning_sizes("roberta_classifier")
