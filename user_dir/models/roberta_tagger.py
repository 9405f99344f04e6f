"""RoBERTa with a token-classification head, fine-tuned from a pretraining checkpoint of this
plugin (`--pretrained-checkpoint`): the encoder's weights are loaded, the head starts fresh."""
import torch
import torch.nn as nn
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import RobertaEncoder, RobertaModel, base_architecture

from .architectures import set_size


@register_model("roberta_tagger")
class RobertaTaggerModel(RobertaModel):
    def __init__(self, args, encoder, num_labels: int):
        super().__init__(args, encoder)
        self.tag_head = nn.Sequential(nn.Dropout(args.pooler_dropout),
                                      nn.Linear(args.encoder_embed_dim, num_labels))

    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        parser.add_argument("--pretrained-checkpoint", metavar="PATH",
                            help="pretraining checkpoint whose encoder initialises the model")

    @classmethod
    def build_model(cls, args, task):
        base_tagger_architecture(args)
        args.max_positions = getattr(args, "max_positions", None) or task.max_positions()
        model = cls(args, RobertaEncoder(args, task.source_dictionary), len(task.labels))
        if getattr(args, "pretrained_checkpoint", None):
            model.load_pretrained_encoder(args.pretrained_checkpoint)
        return model

    def load_pretrained_encoder(self, path: str) -> None:
        from .. import checkpoint  # noqa: F401  (allow-list for torch.load)

        state = torch.load(path, map_location="cpu")["model"]
        encoder = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
        if "embed_positions.weight" in encoder or "embed_langs.weight" in encoder:
            raise ValueError(f"{path}: a roberta_lang (XLM) checkpoint; roberta_tagger loads "
                             "plain RoBERTa encoders (MLM, ALIGN-MLM, DICT-MLM) only")
        ours = self.encoder.state_dict()
        positions = "sentence_encoder.embed_positions.weight"
        if positions in encoder and encoder[positions].shape[0] != ours[positions].shape[0]:
            pad = self.encoder.sentence_encoder.embed_positions.padding_idx
            raise ValueError(f"{path} was pretrained with {encoder[positions].shape[0] - pad - 1} "
                             f"positions; fine-tune with --max-positions "
                             f"{encoder[positions].shape[0] - pad - 1} (now {self.args.max_positions})")
        for key, value in encoder.items():
            if key in ours and ours[key].shape != value.shape:
                raise ValueError(f"{path}: {key} has shape {tuple(value.shape)} but this model "
                                 f"needs {tuple(ours[key].shape)}: was the checkpoint pretrained "
                                 "on the same --pair (dictionary) and architecture?")
        missing, unexpected = self.encoder.load_state_dict(encoder, strict=False)
        if missing or unexpected:
            raise ValueError(f"{path}: encoder weights do not match (missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]})")

    def forward(self, src_tokens, **kwargs):
        features, _ = self.encoder(src_tokens, features_only=True)
        return self.tag_head(features)


@register_model_architecture("roberta_tagger", "roberta_tagger")
def base_tagger_architecture(args):
    base_architecture(args)


@register_model_architecture("roberta_tagger", "roberta_tagger_tiny")
def roberta_tagger_tiny(args):
    """roberta_tiny's size."""
    set_size(args, layers=2, dim=64, heads=4, ffn=256)


@register_model_architecture("roberta_tagger", "roberta_tagger_align_paper")
def roberta_tagger_align_paper(args):
    """roberta_align_paper's size."""
    set_size(args, layers=8, dim=512, heads=8, ffn=2048)
