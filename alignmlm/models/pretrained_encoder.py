"""What the fine-tuning models (roberta_tagger, roberta_classifier) share: a RoBERTa encoder
whose weights come from a pretraining checkpoint of this plugin (`--pretrained-checkpoint`),
checked against the task's dictionary and the model size; a head of the subclass's own on top.
A roberta_lang checkpoint (XLM, DICT-MLM, or any objective under --shared-layers-from) gives a
roberta_lang encoder with its language embeddings or language-specific layers; the task then
passes each split's language id. Sizes: MODEL, MODEL_tiny, MODEL_align_paper."""

import torch
from fairseq.models import register_model_architecture
from fairseq.models.roberta.model import RobertaEncoder, RobertaModel, base_architecture

from ..errors import InputError
from .architectures import register_sizes
from .roberta_lang import RobertaLangEncoder


def pretrained_encoder_state(path: str) -> dict:
    """The `encoder.*` weights of a checkpoint, with the prefix removed."""
    from .. import checkpoint  # noqa: F401  (allow-list for torch.load)

    state = torch.load(path, map_location="cpu")["model"]
    return {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}


class PretrainedEncoderModel(RobertaModel):
    """Subclasses take (args, encoder, num_labels) and return logits from `forward`."""

    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        parser.add_argument(
            "--pretrained-checkpoint",
            metavar="PATH",
            help="pretraining checkpoint whose encoder initialises the model",
        )
        parser.add_argument(
            "--num-langs",
            type=int,
            metavar="N",
            help="language embeddings (set from an XLM or DICT-MLM checkpoint)",
        )

    @classmethod
    def build_model(cls, args, task):
        finetuning_architecture(args)
        args.max_positions = getattr(args, "max_positions", None) or task.max_positions()
        pretrained = (
            pretrained_encoder_state(args.pretrained_checkpoint)
            if getattr(args, "pretrained_checkpoint", None)
            else None
        )
        if pretrained is not None:
            args.num_langs, args.shared_layers_from, args.lang_branches = language_layout(pretrained)
        if args.num_langs or args.shared_layers_from:
            encoder = RobertaLangEncoder(args, task.source_dictionary)
        else:
            encoder = RobertaEncoder(args, task.source_dictionary)
        model = cls(args, encoder, len(task.labels))
        if pretrained is not None:
            model.load_pretrained_encoder(
                pretrained,
                args.pretrained_checkpoint,
                getattr(task, "dictionary_path", "the task's dictionary"),
            )
        return model

    def load_pretrained_encoder(self, encoder: dict, path: str, dictionary_path) -> None:
        ours = self.encoder.state_dict()
        for key in ("sentence_encoder.embed_positions.weight", "embed_positions.weight"):
            if key in encoder and key in ours and encoder[key].shape[0] != ours[key].shape[0]:
                pad = self.encoder.dictionary.pad()
                raise InputError(
                    f"{path} was pretrained with {encoder[key].shape[0] - pad - 1} "
                    f"positions; fine-tune with --max-positions "
                    f"{encoder[key].shape[0] - pad - 1} (now {self.args.max_positions})"
                )
        key = "sentence_encoder.embed_tokens.weight"
        if key in encoder and encoder[key].shape[0] != ours[key].shape[0]:
            raise InputError(
                f"{path}: {key} has shape {tuple(encoder[key].shape)} but this model "
                f"needs {tuple(ours[key].shape)}: the checkpoint's dictionary has "
                f"{encoder[key].shape[0]} entries, {dictionary_path} "
                f"{ours[key].shape[0]} (with <mask>); fine-tune with the --pair the "
                "checkpoint was pretrained on"
            )
        for key, value in encoder.items():
            if key in ours and ours[key].shape != value.shape:
                raise InputError(
                    f"{path}: {key} has shape {tuple(value.shape)} but this model "
                    f"needs {tuple(ours[key].shape)}: was the checkpoint pretrained "
                    "with the same architecture (--arch)?"
                )
        missing, unexpected = self.encoder.load_state_dict(encoder, strict=False)
        if missing or unexpected:
            raise InputError(
                f"{path}: encoder weights do not match (missing {missing[:5]}, unexpected {unexpected[:5]})"
            )

    def features(self, src_tokens, src_lang_ids=None):
        """The last layer's states, (batch, length, dim)."""
        if isinstance(self.encoder, RobertaLangEncoder):
            features, _ = self.encoder(src_tokens, features_only=True, src_lang_ids=src_lang_ids)
        else:  # plain RoBERTa has no language embeddings
            features, _ = self.encoder(src_tokens, features_only=True)
        return features


def language_layout(encoder_state: dict) -> tuple[int, int, int]:
    """(num_langs, shared_layers_from, lang_branches) of a pretrained encoder, read from its
    weights: a language-embedding table (XLM, DICT-MLM), per-language token tables and routed
    layers (partial sharing: `extra_embed_tokens.L`, `sentence_encoder.layers.I.branches.L`)."""
    num_langs = encoder_state["embed_langs.weight"].shape[0] if "embed_langs.weight" in encoder_state else 0
    extra_tables = {k.split(".")[1] for k in encoder_state if k.startswith("extra_embed_tokens.")}
    routed_layers = {k.split(".")[2] for k in encoder_state if ".branches." in k}
    if not extra_tables:
        return num_langs, 0, 0
    return num_langs, len(routed_layers) + 1, len(extra_tables) + 1


def finetuning_architecture(args):
    """RoBERTa base, no language embeddings or language-specific layers unless the checkpoint
    brings them."""
    args.num_langs = getattr(args, "num_langs", None) or 0
    args.shared_layers_from = getattr(args, "shared_layers_from", None) or 0
    args.lang_branches = getattr(args, "lang_branches", None) or 0
    base_architecture(args)


def register_finetuning_sizes(model_name: str) -> None:
    """MODEL (RoBERTa base) and MODEL_tiny, MODEL_align_paper, ... for a fine-tuning model."""
    register_model_architecture(model_name, model_name)(finetuning_architecture)
    register_sizes(model_name, finetuning_architecture)
