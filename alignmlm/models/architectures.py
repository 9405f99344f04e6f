"""Model sizes registered on fairseq's RoBERTa: a tiny one for tests and CPU demos, and the
ALIGN-MLM paper's (8 layers, hidden 512, 8 heads, FFN 2048; DESIGN §2)."""
from fairseq.models import register_model_architecture
from fairseq.models.roberta.model import base_architecture


def set_size(args, layers: int, dim: int, heads: int, ffn: int) -> None:
    args.encoder_layers = getattr(args, "encoder_layers", layers)
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", dim)
    args.encoder_attention_heads = getattr(args, "encoder_attention_heads", heads)
    args.encoder_ffn_embed_dim = getattr(args, "encoder_ffn_embed_dim", ffn)
    base_architecture(args)


@register_model_architecture("roberta", "roberta_tiny")
def roberta_tiny(args):
    """2 layers, hidden 64, 4 heads, FFN 256: trains on a laptop CPU in minutes."""
    set_size(args, layers=2, dim=64, heads=4, ffn=256)


@register_model_architecture("roberta", "roberta_align_paper")
def roberta_align_paper(args):
    """The ALIGN-MLM paper's model: 8 layers, hidden 512, 8 heads, FFN 2048."""
    set_size(args, layers=8, dim=512, heads=8, ffn=2048)
