"""The pretraining config every launcher starts from: configs/pretrain.yaml, one
configs/objective/NAME.yaml and optional run/size/precision configs, composed as
fairseq-hydra-train composes them (`alignmlm train`, compare, the SLURM template, the
benchmarks and the tests all use these files; nothing restates their values)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from . import CONFIG_DIR, register
from .errors import InputError

BASE_CONFIG = "pretrain"
GROUPS = ("objective", "run", "size", "precision")


def choices(group: str, config_dir: Path = CONFIG_DIR) -> list[str]:
    """The configs of one group, e.g. choices('objective') -> ['align_mlm', 'dict_mlm', ...]."""
    return sorted(p.stem for p in (config_dir / group).glob("*.yaml"))


def compose(objective: str, overrides: list[str] | tuple = (), config_dir: Path = CONFIG_DIR):
    """The effective fairseq config (an OmegaConf DictConfig) of `fairseq-hydra-train
    --config-dir configs --config-name pretrain +objective=OBJECTIVE OVERRIDES...`, with the
    tasks', criterions' and models' dataclass defaults filled in, without training."""
    from fairseq.dataclass.initialize import add_defaults, hydra_init
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    if objective not in choices("objective", config_dir):
        raise InputError(
            f"objective {objective!r}: expected one of {', '.join(choices('objective', config_dir))}"
        )
    register()
    hydra_init(BASE_CONFIG)
    logging.getLogger("hydra").setLevel(logging.INFO)  # its DEBUG notes on every composition
    with (
        initialize_config_dir(config_dir=str(config_dir.resolve()), version_base="1.1"),
        warnings.catch_warnings(),
    ):
        # hydra warns that the file shares its name with fairseq's schema: how fairseq works
        warnings.simplefilter("ignore", UserWarning)
        cfg = hydra_compose(BASE_CONFIG, overrides=[f"+objective={objective}", *overrides])
    add_defaults(cfg)
    return cfg
