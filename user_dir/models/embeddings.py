"""Access to the input token-embedding matrix of a (possibly wrapped) RoBERTa model."""
import torch


def input_embedding_matrix(model) -> torch.Tensor:
    """The `embed_tokens` weight (tied to the LM output layer), through fairseq's
    distributed wrappers (each keeps the model in `.module`)."""
    while not hasattr(model, "encoder") and hasattr(model, "module"):
        model = model.module
    return model.encoder.sentence_encoder.embed_tokens.weight
