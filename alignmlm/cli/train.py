"""Pretrain one objective on a prepared pair with the real fairseq-hydra-train.

    alignmlm train --objective align_mlm --data runs/data/en_trans_inv --save-dir runs/align \\
        [--max-update N] [--size paper] [--run gpu1] [-- HYDRA OVERRIDES]

The run is configs/pretrain.yaml + configs/objective/OBJECTIVE.yaml (+ the --run, --size and
--precision configs): every objective gets the same model, batch, optimiser and schedule. The
flags below override single settings of those files; anything after `--` is a hydra override
(`key=value`, e.g. `criterion.align_weight=5` or `dataset.validate_interval=5`) and wins. The command is printed before
it runs. Re-running resumes from SAVE_DIR/checkpoint_last.pt when it is the same run.
"""

from __future__ import annotations

import argparse
import functools
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from alignmlm import CONFIG_DIR, PLUGIN_DIR
from alignmlm.errors import reported
from alignmlm.pair import PARALLEL_SUBDIR, PairError, PreparedPair
from alignmlm.pretraining_config import BASE_CONFIG, choices

# friendly flag -> (config key, type, what it sets); the defaults are the configs' (--help shows them)
SETTINGS = {
    "arch": (
        "model._name",
        str,
        "model: roberta_tiny (tests, CPU demo) or roberta_align_paper "
        "(the paper's); XLM trains the language-embedding twin of the same size",
    ),
    "max_update": ("optimization.max_update", int, "training updates"),
    "warmup_updates": ("lr_scheduler.warmup_updates", int, "linear warm-up updates"),
    "lr": ("optimization.lr", float, "peak learning rate"),
    "tokens_per_sample": ("task.tokens_per_sample", int, "block length in tokens"),
    "max_tokens": ("dataset.max_tokens", int, "tokens per batch per worker"),
    "update_freq": ("optimization.update_freq", int, "batches accumulated per update"),
    "save_interval_updates": (
        "checkpoint.save_interval_updates",
        int,
        "validate and save checkpoint_last.pt every N updates",
    ),
    "log_interval": ("common.log_interval", int, "log training stats every N updates"),
    "seed": ("common.seed", int, "random seed"),
}
LIST_SETTINGS = {"optimization.lr", "optimization.update_freq"}  # fairseq keeps one per epoch


@functools.cache
def base_config() -> dict:
    return yaml.safe_load((CONFIG_DIR / f"{BASE_CONFIG}.yaml").read_text())


def base_value(key: str):
    """The value configs/pretrain.yaml gives `key`, or None where it keeps fairseq's default."""
    node = base_config()
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node[0] if isinstance(node, list) else node


def data_dir(data: Path) -> tuple[Path, list[str], PreparedPair | None]:
    """(fairseq data directory, languages, pair) of a prepared pair or of its bin/."""
    try:
        pair = PreparedPair.load(data)
        return pair.bin_dir, pair.languages, pair
    except PairError as err:
        if (data / "pair.json").is_file() or not (data / "dict.txt").is_file():
            raise SystemExit(f"error: --data {err}") from None
    langs = sorted(
        d.name for d in data.iterdir() if d.is_dir() and d.name != PARALLEL_SUBDIR and any(d.glob("*.idx"))
    )
    return data.resolve(), langs, None


def check_extra(args: argparse.Namespace, extra: list) -> None:
    """Refuse hydra overrides that would go wrong silently or late, before anything starts."""
    flags = [arg for arg in extra if arg.startswith("--")]
    if flags:
        raise SystemExit(
            f"error: after `--` give hydra overrides (key=value, e.g. "
            f"dataset.max_epoch=3), not fairseq-train flags: {' '.join(flags)}"
        )
    for arg in extra:
        key, _, value = arg.lstrip("+").partition("=")
        if (
            key == "distributed_training.distributed_world_size"
            and int(value) != args.cpu_workers
            and args.cpu_workers > 1
        ):
            raise SystemExit(
                f"error: {arg} but --cpu-workers {args.cpu_workers} processes are "
                "launched: the ranks would wait forever for each other; set "
                "--cpu-workers instead"
            )


def hydra_overrides(args: argparse.Namespace, extra: list) -> list[str]:
    bin_dir, langs, _ = data_dir(args.data)
    overrides = [f"+objective={args.objective}"]
    overrides += [
        f"+{group}={getattr(args, group)}" for group in ("run", "size", "precision") if getattr(args, group)
    ]
    overrides += [
        f"task.data={bin_dir}",
        f"common.user_dir={PLUGIN_DIR}",
        f"checkpoint.save_dir={args.save_dir.resolve()}",
        "dataset.valid_subset='" + ",".join(["valid"] + [f"valid_{lang}" for lang in langs]) + "'",
    ]  # quoted: a comma means a sweep to hydra
    for name, (key, _, _) in SETTINGS.items():
        value = getattr(args, name)
        if value is not None:
            overrides.append(f"{key}=[{value}]" if key in LIST_SETTINGS else f"{key}={value}")
    # `++`: set or add. The plugin's task, criterion and model fields are not in the composed
    # files until fairseq fills in the dataclass defaults, so a plain `key=value` would be refused.
    extra = [arg if arg.startswith("+") or "=" not in arg else "++" + arg for arg in extra]
    given = {arg.lstrip("+").split("=", 1)[0] for arg in extra}
    return [o for o in overrides if o.lstrip("+").split("=", 1)[0] not in given] + extra


def fairseq_command(args: argparse.Namespace, extra: list) -> list[str]:
    if args.cpu_workers > 1:  # torchrun + gloo: distributed training without GPUs
        launcher = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            str(args.cpu_workers),
            "-m",
            "alignmlm.cli.cpu_distributed_entry",
        ]
    else:
        launcher = [sys.executable, "-m", "fairseq_cli.hydra_train"]
    return [
        *launcher,
        "--config-dir",
        str(CONFIG_DIR),
        "--config-name",
        BASE_CONFIG,
        *hydra_overrides(args, extra),
    ]


def check_resume(args: argparse.Namespace, extra: list) -> None:
    """A save directory that holds a checkpoint is resumed by fairseq: refuse it when that
    checkpoint is of another objective, architecture or data, which fairseq would otherwise
    continue as if it were this run (or fail late, with an unhelpful assertion)."""
    last = args.save_dir / "checkpoint_last.pt"
    if not last.is_file():
        return
    from alignmlm.checkpoint import checkpoint_config, training_identity
    from alignmlm.models.architectures import language_embedding_arch
    from alignmlm.pretraining_config import compose

    cfg = compose(
        args.objective, [o for o in hydra_overrides(args, extra) if not o.startswith("+objective=")]
    )
    arch = cfg.model._name
    wanted = {
        "task": cfg.task._name,
        "criterion": cfg.criterion._name,
        "arch": language_embedding_arch(arch) if cfg.task._name == "xlm" else arch,
        "data": str(Path(cfg.task.data).resolve()),
    }
    found = training_identity(checkpoint_config(last))
    differ = [f"{key} {found[key]} (asked: {wanted[key]})" for key in wanted if found[key] != wanted[key]]
    if differ:
        raise SystemExit(
            f"error: {args.save_dir} holds a checkpoint of another run: "
            f"{'; '.join(differ)}. fairseq would resume it as this one. Use "
            "another --save-dir (or remove its checkpoints to start over)"
        )
    print(f"resuming {last} (same objective, architecture and data)", flush=True)


def add_setting_flags(p: argparse.ArgumentParser, names) -> None:
    """The friendly flags `names` (keys of SETTINGS), with the configs' defaults in their help."""
    for name in names:
        key, kind, what = SETTINGS[name]
        default = base_value(key)
        source = f"{default}, configs/{BASE_CONFIG}.yaml" if default is not None else "fairseq's"
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, help=f"{what} ({key}; default {source})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--objective",
        choices=choices("objective"),
        required=True,
        help="pretraining objective: configs/objective/OBJECTIVE.yaml",
    )
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="prepared pair directory (from alignmlm prepare-pair) or its bin/",
    )
    p.add_argument(
        "--save-dir", type=Path, required=True, help="checkpoints, train.log, tensorboard/ and hydra/ go here"
    )
    for group, what in (
        ("run", "devices: cpu, one GPU, a node of 8 GPUs (default: fairseq's, every visible GPU)"),
        ("size", "the paper's model, batch and schedule (default: the tiny CPU recipe)"),
        ("precision", "fp16 / bf16 / amp / fp32 on GPUs (default: the run config's)"),
    ):
        p.add_argument(f"--{group}", choices=choices(group), help=f"configs/{group}/: {what}")
    add_setting_flags(p, SETTINGS)
    p.add_argument(
        "--cpu-workers",
        type=int,
        default=1,
        help="data-parallel processes on the CPU (torchrun, gloo); --max-tokens is "
        "per worker. For GPUs use --run or the SLURM template instead",
    )
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    return p


@reported
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = build_parser().parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    check_extra(args, extra)
    command = fairseq_command(args, extra)
    check_resume(args, extra)
    print("+ " + shlex.join(command), flush=True)
    if args.dry_run:
        return 0
    args.save_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
