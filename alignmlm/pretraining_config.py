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
        try:
            cfg = hydra_compose(BASE_CONFIG, overrides=[f"+objective={objective}", *overrides])
            add_defaults(cfg)  # where a plugin field gets its type: a wrong value fails here
        except Exception as err:
            raise override_error(err, list(overrides)) from None
    return cfg


def override_key(override: str) -> str:
    """'++criterion.align_weight=5' -> 'criterion.align_weight'."""
    return override.lstrip("+~").split("=", 1)[0]


def override_error(err: Exception, overrides: list[str]) -> Exception:
    """An InputError naming the override hydra or OmegaConf refused, for a composition error;
    anything else (a bug) unchanged."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(err, HydraException | OmegaConfBaseException):
        return err
    culprit, reason = None, str(err).splitlines()[0]
    if isinstance(err, OverrideParseException):
        parser = OverridesParser.create()
        for override in overrides:  # the first one hydra cannot parse alone
            try:
                parser.parse_override(override)
            except HydraException as parse_error:
                culprit = override
                lines = str(parse_error).splitlines()
                reason = lines[1] if len(lines) > 1 else lines[0]
                break
        return InputError(
            f"hydra override {(culprit or '?').lstrip('+')!r}: expected key=value "
            f"(e.g. criterion.align_weight=5); hydra: {reason}"
        )
    key = getattr(err, "key", None)
    if key is not None:  # OmegaConf names the field only: find the override that set it
        culprit = next((o for o in overrides if override_key(o).split(".")[-1] == str(key)), None)
    if culprit is None:
        culprit = next(
            (o for o in overrides if any(f in str(err) for f in (f" {o}", repr(o), repr(override_key(o))))),
            None,
        )
    cause = err.__cause__ or err.__context__
    if isinstance(cause, OmegaConfBaseException) and "Error merging" in reason:
        reason = str(cause).splitlines()[0]
    where = f"hydra override {culprit.lstrip('+')!r}" if culprit else "hydra overrides"
    if "Ambiguous value" in reason:  # a comma means a sweep to hydra
        return InputError(f"{where}: a value with commas must be quoted, e.g. key='0:0,2000:10'")
    if "not in" in reason or "Could not override" in reason or "Could not append" in reason:
        reason = f"no such setting ({reason})"
    return InputError(
        f"{where}: {reason.rstrip('.')}; check the key and the value's type (the settings and "
        "their types: fairseq-train --user-dir alignmlm --task TASK --criterion CRITERION --help)"
    )
