"""Which of NVIDIA apex's fused kernels fairseq will use in this process. fairseq picks them up
silently when apex is importable (and only on CUDA); pretraining logs this report at start so a
run's speed can be explained from its log. apex is optional (docs/cluster.md, "apex (optional)")."""

import importlib.util

import torch


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package (apex) is missing
        return False


def fused_kernels() -> dict:
    """{kernel: active?} for fairseq's three apex paths, as fairseq itself decides them."""
    from fairseq.modules.layer_norm import has_fused_layernorm
    from fairseq.optim.fused_adam import get_fused_adam_class

    cuda = torch.cuda.is_available()
    return {
        "fused LayerNorm": cuda and has_fused_layernorm,
        "FusedAdam": cuda and get_fused_adam_class() is not None,
        "fused cross-entropy": cuda and _importable("xentropy_cuda") and _importable("apex.contrib.xentropy"),
    }


def describe(kernels: dict) -> str:
    active = [name for name, on in kernels.items() if on]
    if active:
        off = [name for name, on in kernels.items() if not on]
        return f"apex fused kernels active: {', '.join(active)}" + (
            f"; not active: {', '.join(off)}" if off else ""
        )
    reason = "no CUDA device" if not torch.cuda.is_available() else "apex is not installed"
    return f"apex fused kernels: none active ({reason}): fairseq uses PyTorch's kernels"
