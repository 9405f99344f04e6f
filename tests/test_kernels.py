"""The apex fused-kernel report logged at the start of pretraining."""
import torch

from alignmlm.kernels import describe, fused_kernels


def test_no_fused_kernel_is_active_without_cuda():
    assert not torch.cuda.is_available()  # this suite runs on CPU
    kernels = fused_kernels()
    assert set(kernels) == {"fused LayerNorm", "FusedAdam", "fused cross-entropy"}
    assert not any(kernels.values())
    assert describe(kernels) == "apex fused kernels: none active (no CUDA device): fairseq uses PyTorch's kernels"


def test_describe_names_active_and_inactive_kernels():
    text = describe({"fused LayerNorm": True, "FusedAdam": True, "fused cross-entropy": False})
    assert text == "apex fused kernels active: fused LayerNorm, FusedAdam; not active: fused cross-entropy"
