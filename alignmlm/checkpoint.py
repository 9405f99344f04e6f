"""Loading fairseq checkpoints under torch >= 2.6, whose `torch.load` is weights-only.

fairseq stores its config as argparse.Namespace / OmegaConf objects next to the weights; we
allow-list exactly those classes instead of switching the safety off for every load.
"""

from __future__ import annotations

import argparse
import collections
import typing
from pathlib import Path

import torch
from omegaconf import DictConfig, ListConfig
from omegaconf.base import ContainerMetadata, Metadata
from omegaconf.nodes import AnyNode

from .errors import InputError

# Namespace is in every fairseq checkpoint (cfg.model); the OmegaConf classes in those saved
# from a live DictConfig.
FAIRSEQ_CHECKPOINT_CLASSES = [
    argparse.Namespace,
    DictConfig,
    ListConfig,
    ContainerMetadata,
    Metadata,
    AnyNode,
    typing.Any,
    collections.defaultdict,
]

if hasattr(torch.serialization, "add_safe_globals"):
    torch.serialization.add_safe_globals(FAIRSEQ_CHECKPOINT_CLASSES)


def load_checkpoint(path: str | Path, data: str | Path | None = None):
    """(model, task) of a checkpoint trained with this plugin, in eval mode on the CPU.

    `data` overrides the data directory stored in the checkpoint (e.g. after moving it).
    """
    from fairseq import checkpoint_utils

    from . import register

    register()
    overrides = {"data": str(data)} if data is not None else None
    models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(path)], arg_overrides=overrides)
    model = models[0]
    model.eval()
    return model, task


def checkpoint_config(path: str | Path) -> dict:
    """The fairseq config stored in a checkpoint, without building anything (the file is
    memory-mapped, so a large checkpoint is not read whole). Model settings as a dict too.
    InputError for a file that is not a readable fairseq checkpoint (truncated, or another kind)."""
    path = Path(path)
    if not path.is_file():  # OSError: the one-line report names the path
        raise FileNotFoundError(2, "checkpoint not found", str(path))
    try:
        state = torch.load(str(path), map_location="cpu", mmap=True, weights_only=True)
    except Exception as err:  # zip, pickle and torch errors alike: the file is not a whole checkpoint
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise InputError(
            f"{path}: not a readable fairseq checkpoint (truncated by a kill? or not a checkpoint: "
            f"{reason}); use an intact checkpoint, e.g. the one it was copied from"
        ) from None
    if not isinstance(state, dict) or not state.get("cfg"):
        raise InputError(f"{path}: not a fairseq checkpoint (no 'cfg' with the training config)")
    cfg = dict(state["cfg"])
    if isinstance(cfg.get("model"), argparse.Namespace):
        cfg["model"] = vars(cfg["model"])
    return cfg


def training_identity(cfg: dict) -> dict:
    """What a run's checkpoints must keep to be resumed or compared: the objective (task and
    criterion), the architecture and the training data."""
    model = cfg.get("model") or {}
    return {
        "task": cfg["task"]["_name"],
        "criterion": cfg["criterion"]["_name"],
        "arch": model.get("arch") or model.get("_name"),
        "data": str(Path(cfg["task"]["data"]).resolve()),
    }
