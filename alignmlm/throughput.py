"""Model FLOPs of pretraining, and model FLOPs utilisation (MFU): the one formula every
benchmark of this project reports speed with.

Training FLOPs per token (forward and backward = 3 x the forward's multiply-adds x 2):
  - the Transformer layers' weight products: 6 x (4 d^2 + 2 d f) per layer;
  - attention's two products (scores and the weighted sum): 6 x 2 T d per layer, T the block
    length (the tokens each token attends to);
  - the LM head on the masked tokens only (fairseq projects those alone): 6 x (d^2 + d V) x p,
    p the masking probability.
Embedding lookups, norms, softmaxes and the alignment term are left out (memory-bound, and small
against the above). At the paper's size (8 x 512, f = 2048, T = 512, V = 80k, p = 0.15) this is
0.21 GFLOP per token.
"""

from __future__ import annotations

# dense tensor-core peaks in TFLOP/s for 16-bit floating point (fp16 and bf16 alike), by a
# substring of torch.cuda.get_device_name(); the vendors' data sheets (SXM parts)
PEAK_TFLOPS_16BIT = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "V100": 125.0}


def training_flops_per_token(
    layers: int, dim: int, ffn: int, block_tokens: int, vocab: int, mask_prob: float = 0.15
) -> float:
    per_layer = 4 * dim * dim + 2 * dim * ffn  # q, k, v, out; the two FFN matrices
    attention = 2 * block_tokens * dim  # scores and weighted sum, per token per layer
    head = (dim * dim + dim * vocab) * mask_prob
    return 6.0 * (layers * (per_layer + attention) + head)


def peak_flops(device_name: str) -> float | None:
    """16-bit dense peak of a GPU by its name, in FLOP/s; None when not in the table."""
    for key, tflops in PEAK_TFLOPS_16BIT.items():
        if key in device_name:
            return tflops * 1e12
    return None


def mfu(tokens_per_second: float, flops_per_token: float, peak: float) -> float:
    """Model FLOPs utilisation: the share of PEAK the model's own FLOPs use."""
    return tokens_per_second * flops_per_token / peak
