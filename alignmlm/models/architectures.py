"""Model sizes, each defined once and registered for every model family of the plugin
(`roberta`, `roberta_lang`, the fine-tuning heads): FAMILY_tiny for tests and CPU demos, and
FAMILY_align_paper, the ALIGN-MLM paper's model (docs/design.md §2)."""

from dataclasses import dataclass

from fairseq.models import register_model_architecture
from fairseq.models.roberta.model import base_architecture
from fairseq.utils import safe_getattr

from ..errors import InputError


@dataclass(frozen=True)
class ModelSize:
    layers: int
    dim: int
    heads: int
    ffn: int


SIZES = {
    "tiny": ModelSize(layers=2, dim=64, heads=4, ffn=256),  # trains on a laptop CPU in minutes
    "align_paper": ModelSize(layers=8, dim=512, heads=8, ffn=2048),
}


def set_size(args, size: ModelSize) -> None:
    """Fill the encoder's size where the user did not set it (hydra leaves unset fields None)."""
    args.encoder_layers = safe_getattr(args, "encoder_layers", size.layers)
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", size.dim)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", size.heads)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", size.ffn)


def register_sizes(model_name: str, family_defaults) -> None:
    """MODEL_tiny, MODEL_align_paper, ...: the family's defaults at each size of SIZES."""
    for name, size in SIZES.items():

        def architecture(args, size=size):
            set_size(args, size)
            family_defaults(args)

        register_model_architecture(model_name, f"{model_name}_{name}")(architecture)


def size_name(arch: str, family: str = "roberta") -> str:
    """'roberta_lang_tiny' -> 'tiny'; '' for a family's base architecture ('roberta')."""
    size = arch.removeprefix(family).removeprefix("_lang").lstrip("_")
    if size and size not in SIZES:
        raise InputError(
            f"architecture {arch}: not one of this plugin's sizes "
            f"({', '.join(f'{family}_{s}' for s in SIZES)})"
        )
    return size


def language_embedding_arch(arch: str) -> str:
    """The roberta_lang architecture of `arch`'s size (XLM and DICT-MLM have language embeddings)."""
    size = size_name(arch)
    return "roberta_lang" + (f"_{size}" if size else "")


register_sizes("roberta", base_architecture)
