"""Access to the input token-embedding matrix of a (possibly wrapped) RoBERTa model."""

import torch


def input_embedding_matrix(model) -> torch.Tensor:
    """The `embed_tokens` weight (tied to the LM output layer), through fairseq's
    distributed wrappers (each keeps the model in `.module`)."""
    while not hasattr(model, "encoder") and hasattr(model, "module"):
        model = model.module
    return model.encoder.sentence_encoder.embed_tokens.weight


def language_embeddings(model, lang_index: int) -> torch.Tensor:
    """fp32 copy of the input embeddings as language `lang_index` sees them: with language
    embeddings (XLM, DICT-MLM), that language's embedding is added to every row."""
    embeddings = input_embedding_matrix(model).detach().float()
    while not hasattr(model, "encoder") and hasattr(model, "module"):
        model = model.module
    langs = getattr(model.encoder, "embed_langs", None)
    return embeddings if langs is None else embeddings + langs.weight[lang_index].detach().float()
