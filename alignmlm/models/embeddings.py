"""Access to the input token embeddings of a (possibly wrapped) RoBERTa model of this plugin."""

import torch


def unwrapped(model):
    """The fairseq model inside distributed wrappers (each keeps it in `.module`)."""
    while not hasattr(model, "encoder") and hasattr(model, "module"):
        model = model.module
    return model


def input_embedding_matrix(model, lang_index: int = 0) -> torch.Tensor:
    """The `embed_tokens` weight (tied to the LM output layer) that language `lang_index` reads:
    the one shared table, or that language's own under partial sharing (--shared-layers-from)."""
    encoder = unwrapped(model).encoder
    tables = (
        encoder.token_tables()
        if hasattr(encoder, "token_tables")
        else [encoder.sentence_encoder.embed_tokens]
    )
    return tables[lang_index if len(tables) > 1 else 0].weight


def language_embeddings(model, lang_index: int) -> torch.Tensor:
    """fp32 copy of the input embeddings as language `lang_index` sees them: its token table,
    plus, with language embeddings (XLM, DICT-MLM), that language's embedding on every row."""
    embeddings = input_embedding_matrix(model, lang_index).detach().float()
    langs = getattr(unwrapped(model).encoder, "embed_langs", None)
    return embeddings if langs is None else embeddings + langs.weight[lang_index].detach().float()


def needs_lang_ids(encoder) -> bool:
    """Whether the encoder reads `src_lang_ids`: language embeddings or language-specific layers."""
    return getattr(encoder, "embed_langs", None) is not None or bool(getattr(encoder, "lang_branches", 0))
