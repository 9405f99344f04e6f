"""The apex fused-kernel report logged at the start of pretraining."""

import importlib.util

import pytest
import torch

from alignmlm.kernels import describe, fused_kernels


@pytest.mark.skipif(
    torch.cuda.is_available(),
    reason="the report without a CUDA device (test_..._on_a_cuda_device on GPU nodes)",
)
def test_no_fused_kernel_is_active_without_cuda():
    kernels = fused_kernels()
    assert set(kernels) == {"fused LayerNorm", "FusedAdam", "fused cross-entropy"}
    assert not any(kernels.values())
    assert (
        describe(kernels)
        == "apex fused kernels: none active (no CUDA device): fairseq uses PyTorch's kernels"
    )


def test_describe_names_active_and_inactive_kernels():
    text = describe({"fused LayerNorm": True, "FusedAdam": True, "fused cross-entropy": False})
    assert text == "apex fused kernels active: fused LayerNorm, FusedAdam; not active: fused cross-entropy"


def test_with_cuda_but_without_apex_the_report_says_so(monkeypatch):
    """A CUDA device where fairseq found none of apex's kernels (as on a node without apex)."""
    import fairseq.modules.layer_norm
    import fairseq.optim.fused_adam

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(fairseq.modules.layer_norm, "has_fused_layernorm", False)
    monkeypatch.setattr(fairseq.optim.fused_adam, "get_fused_adam_class", lambda: None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    kernels = fused_kernels()
    assert kernels == {"fused LayerNorm": False, "FusedAdam": False, "fused cross-entropy": False}
    assert (
        describe(kernels)
        == "apex fused kernels: none active (apex is not installed): fairseq uses PyTorch's kernels"
    )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_report_on_a_cuda_device():
    """On a GPU node the report depends on apex alone (an optional install)."""
    kernels = fused_kernels()
    if importlib.util.find_spec("apex") is None:
        assert not any(kernels.values())
        assert (
            describe(kernels)
            == "apex fused kernels: none active (apex is not installed): fairseq uses PyTorch's kernels"
        )
        return
    try:  # where fairseq takes its fused LayerNorm from
        from apex.normalization import FusedLayerNorm  # noqa: F401

        layer_norm = True
    except ImportError:
        layer_norm = False
    assert kernels["fused LayerNorm"] is layer_norm
    assert describe(kernels).startswith("apex fused kernels active: ") is any(kernels.values())
