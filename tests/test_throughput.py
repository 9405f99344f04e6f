"""The shared FLOPs and MFU formula (alignmlm/throughput.py), against the real model's weights."""

import pytest
from conftest import training_config

from alignmlm.throughput import mfu, peak_flops, training_flops_per_token


def test_weight_flops_match_the_paper_models_own_matrices(tiny_pair):
    """6 x the Transformer layers' weight-matrix entries of the real roberta_align_paper model
    (biases and norms aside) is the formula's weight term."""
    from fairseq import tasks

    cfg = training_config("mlm", tiny_pair, "+size=paper", "task.tokens_per_sample=512")
    model = tasks.setup_task(cfg.task).build_model(cfg.model)
    layers = model.encoder.sentence_encoder.layers
    matrices = sum(p.numel() for layer in layers for p in layer.parameters() if p.dim() == 2)
    vocab = model.encoder.sentence_encoder.embed_tokens.num_embeddings
    with_weights_only = training_flops_per_token(len(layers), 512, 2048, 0, vocab, mask_prob=0.0)
    assert with_weights_only == 6 * matrices


def test_the_paper_size_and_the_measured_h100_figure():
    # 8 x 512, FFN 2048, 512-token blocks, 80k vocabulary, 15 % masked: ~0.21 GFLOP per token
    flops = training_flops_per_token(8, 512, 2048, 512, 80_000, 0.15)
    assert flops == pytest.approx(
        6 * (8 * (4 * 512**2 + 2 * 512 * 2048 + 2 * 512 * 512) + 0.15 * (512**2 + 512 * 80_000))
    )
    assert 0.20e9 < flops < 0.22e9
    # README's H100 MLM figure, 187,616 tokens/s in fp16: about 4 % of the 989 TFLOP/s peak
    assert mfu(187_616, flops, peak_flops("NVIDIA H100 80GB HBM3")) == pytest.approx(0.0405, abs=0.001)
    assert peak_flops("some CPU") is None
