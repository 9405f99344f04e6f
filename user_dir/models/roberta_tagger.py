"""RoBERTa with a token-classification head, fine-tuned from a pretraining checkpoint of this
plugin (`--pretrained-checkpoint`): the encoder's weights are loaded, the head starts fresh.
A roberta_lang (XLM) checkpoint gives a roberta_lang encoder with its language embeddings;
the task then passes each split's language id."""
import torch
import torch.nn as nn
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import RobertaEncoder, RobertaModel, base_architecture

from .architectures import set_size
from .roberta_lang import RobertaLangEncoder


def pretrained_encoder_state(path: str) -> dict:
    """The `encoder.*` weights of a checkpoint, with the prefix removed."""
    from .. import checkpoint  # noqa: F401  (allow-list for torch.load)

    state = torch.load(path, map_location="cpu")["model"]
    return {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}


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
        parser.add_argument("--num-langs", type=int, metavar="N",
                            help="language embeddings (set from an XLM checkpoint)")

    @classmethod
    def build_model(cls, args, task):
        base_tagger_architecture(args)
        args.max_positions = getattr(args, "max_positions", None) or task.max_positions()
        pretrained = (pretrained_encoder_state(args.pretrained_checkpoint)
                      if getattr(args, "pretrained_checkpoint", None) else None)
        if pretrained is not None and "embed_langs.weight" in pretrained:
            args.num_langs = pretrained["embed_langs.weight"].shape[0]
        if getattr(args, "num_langs", 0):
            encoder = RobertaLangEncoder(args, task.source_dictionary)
        else:
            encoder = RobertaEncoder(args, task.source_dictionary)
        model = cls(args, encoder, len(task.labels))
        if pretrained is not None:
            model.load_pretrained_encoder(pretrained, args.pretrained_checkpoint)
        return model

    def load_pretrained_encoder(self, encoder: dict, path: str) -> None:
        ours = self.encoder.state_dict()
        for key in ("sentence_encoder.embed_positions.weight", "embed_positions.weight"):
            if key in encoder and key in ours and encoder[key].shape[0] != ours[key].shape[0]:
                pad = self.encoder.dictionary.pad()
                raise ValueError(f"{path} was pretrained with {encoder[key].shape[0] - pad - 1} "
                                 f"positions; fine-tune with --max-positions "
                                 f"{encoder[key].shape[0] - pad - 1} (now {self.args.max_positions})")
        for key, value in encoder.items():
            if key in ours and ours[key].shape != value.shape:
                raise ValueError(f"{path}: {key} has shape {tuple(value.shape)} but this model "
                                 f"needs {tuple(ours[key].shape)}: was the checkpoint pretrained "
                                 "on the same --pair (dictionary) and architecture?")
        missing, unexpected = self.encoder.load_state_dict(encoder, strict=False)
        if missing or unexpected:
            raise ValueError(f"{path}: encoder weights do not match (missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]})")

    def forward(self, src_tokens, src_lang_ids=None, **kwargs):
        if isinstance(self.encoder, RobertaLangEncoder):
            features, _ = self.encoder(src_tokens, features_only=True, src_lang_ids=src_lang_ids)
        else:  # plain RoBERTa has no language embeddings
            features, _ = self.encoder(src_tokens, features_only=True)
        return self.tag_head(features)


@register_model_architecture("roberta_tagger", "roberta_tagger")
def base_tagger_architecture(args):
    args.num_langs = getattr(args, "num_langs", None) or 0
    base_architecture(args)


@register_model_architecture("roberta_tagger", "roberta_tagger_tiny")
def roberta_tagger_tiny(args):
    """roberta_tiny's size."""
    args.num_langs = getattr(args, "num_langs", None) or 0
    set_size(args, layers=2, dim=64, heads=4, ffn=256)


@register_model_architecture("roberta_tagger", "roberta_tagger_align_paper")
def roberta_tagger_align_paper(args):
    """roberta_align_paper's size."""
    args.num_langs = getattr(args, "num_langs", None) or 0
    set_size(args, layers=8, dim=512, heads=8, ffn=2048)
