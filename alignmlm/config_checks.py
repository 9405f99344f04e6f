"""Checks of the plugin's config values that would otherwise train silently wrong (a negative
alignment weight trains the pairs apart, a probability of 1.5 masks everything, NaN poisons
the loss). One place, called where the tasks and the criterion are built (inside fairseq-train)
and by `alignmlm train` on the composed config before anything starts (--dry-run included)."""

from __future__ import annotations

import math

from .alignment import WeightSchedule
from .errors import InputError

# task fields that are probabilities or fractions (MaskedLMConfig's, DICT-MLM's, XLM's)
FRACTIONS = ("mask_prob", "leave_unmasked_prob", "random_token_prob", "dict_mlm_prob", "tlm_fraction")


def setting(group: str, key: str) -> str:
    """'task.mask_prob (--mask-prob)': the hydra key and fairseq-train's flag of one field."""
    return f"{group}.{key} (--{key.replace('_', '-')})"


def fields(cfg) -> dict:
    """{name: value} of a task or criterion config (a DictConfig, a dataclass or a Namespace)."""
    from omegaconf import OmegaConf

    if OmegaConf.is_config(cfg):  # unresolved: an interpolation (seed: ${common.seed}) is no float
        return OmegaConf.to_container(cfg, resolve=False)
    return dict(cfg) if isinstance(cfg, dict) else dict(vars(cfg))


def check_finite(cfg, group: str) -> None:
    """Every float of the config is a finite number."""
    for key, value in fields(cfg).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{setting(group, key)} is {value}: expected a finite number")


def check_fraction(value, name: str) -> None:
    """`value` is in [0, 1] (NaN is not); `name` says which setting it is."""
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise InputError(f"{name} must be a probability in [0, 1], got {value}")


def check_task_config(cfg, group: str = "task") -> None:
    """The masked-LM tasks' floats: finite, probabilities in [0, 1], and the 80/10/10 split's
    two shares (left unmasked, random token) summing to at most 1 (fairseq asserts it late)."""
    check_finite(cfg, group)
    values = fields(cfg)
    for key in FRACTIONS:
        if key in values:
            check_fraction(values[key], setting(group, key))
    shares = values.get("leave_unmasked_prob", 0.0) + values.get("random_token_prob", 0.0)
    if shares > 1.0:
        raise InputError(
            f"{setting(group, 'leave_unmasked_prob')} + {setting(group, 'random_token_prob')} "
            f"is {shares:g}: the shares of masked tokens left as they are and replaced by a random "
            "token must sum to at most 1"
        )


def align_weight_schedule(spec, group: str = "criterion") -> WeightSchedule:
    """ALIGN-MLM's λ (a number or UPDATE:VALUE,...): every value finite and >= 0 (a negative
    weight pushes the dictionary's pairs apart)."""
    name = setting(group, "align_weight")
    try:
        schedule = WeightSchedule(spec)
    except ValueError as err:
        raise InputError(f"{name}: {err}") from None
    for _, value in schedule.points:
        if not math.isfinite(value) or value < 0:
            raise InputError(
                f"{name} {spec!r}: every weight must be a finite number >= 0 (got {value}); a negative "
                "weight trains the dictionary's pairs apart, 0 is plain MLM"
            )
    return schedule


def check_plugin_config(cfg) -> None:
    """What the task and the criterion would refuse when fairseq builds them, on a composed
    config (alignmlm train runs it before launching fairseq)."""
    check_task_config(cfg.task)
    check_finite(cfg.criterion, "criterion")
    if cfg.criterion.get("_name") == "align_mlm":
        align_weight_schedule(cfg.criterion.align_weight)
