"""configs/: the base recipe, the objective overlays and the run / size / precision configs compose
into the settings every launcher trains with (composed in-process exactly as fairseq-hydra-train
composes them, dataclass defaults included)."""

import pytest
import yaml

from alignmlm import CONFIG_DIR
from alignmlm.pretraining_config import choices, compose

REQUIRED = ["task.data=/data", "common.user_dir=/plugin"]


def composed(objective, *overrides):
    return compose(objective, [*REQUIRED, *overrides])


def test_objectives_differ_only_in_task_and_criterion():
    configs = {name: composed(name) for name in choices("objective")}
    assert sorted(configs) == ["align_mlm", "align_mlm_contrastive", "dict_mlm", "mlm", "xlm"]
    shared = {
        name: {
            group: cfg[group]
            for group in ("model", "dataset", "optimizer", "lr_scheduler", "optimization", "checkpoint")
        }
        for name, cfg in configs.items()
    }
    assert all(settings == shared["mlm"] for settings in shared.values())
    assert {name: (cfg.task._name, cfg.criterion._name) for name, cfg in configs.items()} == {
        "mlm": ("multilingual_mlm", "masked_lm"),
        "align_mlm": ("align_mlm", "align_mlm"),
        "align_mlm_contrastive": ("align_mlm", "align_mlm"),
        "xlm": ("xlm", "masked_lm"),
        "dict_mlm": ("dict_mlm", "masked_lm"),
    }
    # the objectives' own settings come from their dataclasses (no config restates them)
    assert configs["align_mlm"].criterion.align_weight == "10"
    assert configs["xlm"].task.tlm_fraction == 0.25
    assert (configs["dict_mlm"].task.dict_mlm_mode, configs["dict_mlm"].task.dict_mlm_prob) == ("input", 0.5)


# a variant of an objective: its overlay also sets fields of its criterion, nothing else
VARIANTS = {
    "align_mlm_contrastive": {"align_loss": "contrastive", "align_weight": "1", "align_pairs_per_step": 1024}
}


def test_overlays_set_nothing_but_the_objective():
    for name in choices("objective"):
        overlay = yaml.safe_load((CONFIG_DIR / "objective" / f"{name}.yaml").read_text())
        assert overlay == {
            "task": {"_name": overlay["task"]["_name"]},
            "criterion": {"_name": overlay["criterion"]["_name"], **VARIANTS.get(name, {})},
        }, name


def test_base_recipe_ties_schedule_and_logs_to_the_run():
    cfg = composed(
        "mlm",
        "optimization.max_update=123",
        "checkpoint.save_dir=/runs/a",
        "checkpoint.save_interval_updates=7",
    )
    assert cfg.lr_scheduler._name == "polynomial_decay" and cfg.lr_scheduler.total_num_update == 123
    assert cfg.dataset.validate_interval_updates == 7  # validates whenever it saves
    assert (cfg.common.log_file, cfg.common.tensorboard_logdir) == (
        "/runs/a/train.log",
        "/runs/a/tensorboard",
    )
    assert cfg.model._name == "roberta_tiny"


@pytest.mark.parametrize(
    "run_config, world, fp16", [("cpu", 1, False), ("gpu1", 1, True), ("node8", 8, True)]
)
def test_run_configs_set_devices_and_keep_the_objective(run_config, world, fp16):
    cfg = composed("align_mlm", f"+run={run_config}")
    assert cfg.distributed_training.distributed_world_size == world
    assert cfg.common.fp16 is fp16 and cfg.common.cpu is (run_config == "cpu")
    assert (cfg.task._name, cfg.criterion._name, cfg.model._name) == (
        "align_mlm",
        "align_mlm",
        "roberta_tiny",
    )


def test_paper_size_on_n_nodes():
    cfg = composed("xlm", "+run=nodes", "+size=paper", "distributed_training.distributed_world_size=16")
    assert cfg.distributed_training.distributed_world_size == 16
    assert cfg.distributed_training.distributed_backend == "nccl"
    assert cfg.model._name == "roberta_align_paper"  # the xlm task builds its language-embedding twin
    assert cfg.task.tokens_per_sample == 512 and cfg.dataset.batch_size == 16
    # the paper's update: blocks per GPU x 8 GPUs x tokens per block
    assert cfg.dataset.batch_size * 8 * cfg.task.tokens_per_sample == 65536
    assert cfg.optimization.lr == [0.0001] and cfg.optimization.max_update == 500000
    assert cfg.lr_scheduler.warmup_updates == 10000 and cfg.lr_scheduler.total_num_update == 500000
    # the authors' optimiser (the Hugging Face Trainer's AdamW defaults), not RoBERTa's
    assert (cfg.optimizer.adam_betas, cfg.optimizer.adam_eps, cfg.optimizer.weight_decay) == (
        "(0.9,0.999)",
        1e-8,
        0.0,
    )


@pytest.mark.parametrize("run_config", ["gpu1", "node8"])
@pytest.mark.parametrize(
    "precision, fp16, bf16, amp",
    [
        ("fp16", True, False, False),
        ("bf16", False, True, False),
        ("amp", False, False, True),
        ("fp32", False, False, False),
    ],
)
def test_precision_configs_override_the_run_configs_default(run_config, precision, fp16, bf16, amp):
    common = composed("dict_mlm", f"+run={run_config}", f"+precision={precision}").common
    assert (common.fp16, common.bf16, common.amp) == (fp16, bf16, amp)


def test_unknown_objective_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match="objective 'tlm': expected one of align_mlm, align_mlm_contrastive, dict_mlm, mlm, xlm",
    ):
        composed("tlm")
