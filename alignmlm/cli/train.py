"""Pretrain one objective on a prepared pair with the real fairseq-hydra-train.

    alignmlm train --objective align_mlm --data runs/data/en_trans_inv --save-dir runs/align \\
        [--max-update N] [--size paper] [--run gpu1] [-- HYDRA OVERRIDES]

The run is configs/pretrain.yaml + configs/objective/OBJECTIVE.yaml (+ the --run, --size and
--precision configs): every objective gets the same model, batch, optimiser and schedule. The
flags below override single settings of those files; anything after `--` is a hydra override
(`key=value`, e.g. `criterion.align_weight=5` or `dataset.validate_interval=5`) and wins.

Everything is checked before anything is written or launched (--dry-run stops there): the data,
the composed config (settings that never train or never stop, the plugin's values, malformed
overrides) and the save directory: SAVE_DIR/run.json records what the run is (objective, task,
criterion, architecture, data, the pair's fingerprint) before fairseq starts, and a directory
whose run.json or checkpoint_last.pt is of another run is refused. Re-running the same run
resumes from SAVE_DIR/checkpoint_last.pt. The command is printed before it runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from alignmlm import CONFIG_DIR, PLUGIN_DIR
from alignmlm.errors import InputError, reported
from alignmlm.pair import PARALLEL_SUBDIR, PairError, PreparedPair
from alignmlm.pretraining_config import BASE_CONFIG, choices
from alignmlm.safe_files import write_text_atomic

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
UNIFIED_OUTPUT_HELP = (
    "mOthello's unified output space (task.unified_output=true): masked pieces of language 2 are "
    "predicted as their language-1 originals; a synthetic pair with trans only"
)
SHARED_LAYERS_HELP = (
    "partial sharing (task.shared_layers_from=K, Conneau et al. 2020): layers 0 (the input "
    "embeddings) .. K-1 have one copy per language, K and above are shared; 0 (default): all shared"
)
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


def data_dir(data: Path) -> tuple[Path | str, list[str], PreparedPair | None]:
    """(fairseq's DATA, languages, pair) of a prepared pair or of its bin/; a sharded pair's
    DATA lists its shards (shard0:shard1:...)."""
    try:
        pair = PreparedPair.load(data)
        return pair.fairseq_data, pair.languages, pair
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
            and value.strip().isdigit()  # anything else: compose names the bad value
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
    # `-- task.langs=en` trains on some of the pair's languages (e.g. one monolingual model per
    # language): validate on those only
    chosen = [a.split("=", 1)[1] for a in extra if a.lstrip("+").split("=", 1)[0] == "task.langs"]
    if chosen and chosen[-1].strip():
        langs = [lang.strip() for lang in chosen[-1].strip("'\"").split(",") if lang.strip()]
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
    if args.unified_output:
        overrides.append("++task.unified_output=true")
    if args.shared_layers_from:
        overrides.append(f"++task.shared_layers_from={args.shared_layers_from}")
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


RUN_RECORD = "run.json"  # SAVE_DIR/run.json: what the run in that directory is


def setting_name(key: str) -> str:
    """'--max-tokens (dataset.max_tokens)' for a key with a friendly flag, else the key."""
    flag = next((name for name, (k, _, _) in SETTINGS.items() if k == key), None)
    return f"--{flag.replace('_', '-')} ({key})" if flag else key


def check_save_dir(save_dir: Path) -> None:
    """--save-dir must be a directory or creatable as one, before anything is composed or run."""
    if save_dir.exists() and not save_dir.is_dir():
        raise InputError(f"--save-dir {save_dir} is a file; give a directory (it is created if missing)")
    for parent in save_dir.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"--save-dir {save_dir}: {parent} is a file, not a directory")
            if not save_dir.exists() and not os.access(parent, os.W_OK | os.X_OK):
                raise InputError(f"--save-dir {save_dir}: no permission to create it in {parent}")
            return


def compose_run(args: argparse.Namespace, extra: list):
    """The config fairseq-hydra-train will run (hydra's errors as one line, naming the override)."""
    from alignmlm.pretraining_config import compose

    return compose(
        args.objective, [o for o in hydra_overrides(args, extra) if not o.startswith("+objective=")]
    )


def check_settings(cfg) -> None:
    """Settings fairseq accepts but that never train or never stop, on the composed config (so
    --size/--run and overrides count), and the plugin's own checks (alignmlm/config_checks.py)."""
    from alignmlm.config_checks import check_plugin_config

    tokens, block = cfg.dataset.max_tokens, cfg.task.tokens_per_sample
    if tokens is not None and tokens < block:
        raise InputError(
            f"{setting_name('dataset.max_tokens')} {tokens} is below "
            f"{setting_name('task.tokens_per_sample')} {block}: no block fits in a batch, so "
            f"fairseq would skip every sample; give at least {block} tokens per batch"
        )
    max_update, max_epoch = cfg.optimization.max_update, cfg.optimization.max_epoch
    if max_update < 0 or (max_update == 0 and not max_epoch):
        raise InputError(
            f"{setting_name('optimization.max_update')} {max_update}: expected a number of "
            "updates >= 1 (fairseq reads 0 as `no limit`: training would never stop; to train "
            "by epochs instead, set optimization.max_epoch after --)"
        )
    for lr in cfg.optimization.lr:
        if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
            raise InputError(f"{setting_name('optimization.lr')} {lr}: expected a finite number > 0")
    for freq in cfg.optimization.update_freq:
        if freq < 1:
            raise InputError(
                f"{setting_name('optimization.update_freq')} {freq}: expected >= 1 batches per update"
            )
    check_plugin_config(cfg)


def run_identity(args: argparse.Namespace, cfg) -> dict:
    """What SAVE_DIR's run is: the objective (task, criterion), the model and the data, with the
    prepared pair's fingerprint (a pair prepared again with other settings is other data)."""
    from alignmlm.models.architectures import language_embedding_arch
    from alignmlm.tasks.language_embeddings import has_language_embeddings

    data = Path(cfg.task.data).resolve()
    pair = PreparedPair.of_data(data)
    try:
        fingerprint = pair.fingerprint() if pair else None
    except OSError:  # a pair missing its dictionaries: the task says which, when fairseq reads it
        fingerprint = None
    arch = cfg.model._name
    return {
        "objective": args.objective,
        "task": cfg.task._name,
        "criterion": cfg.criterion._name,
        # XLM and DICT-MLM, and partial sharing, train the roberta_lang twin of the asked model
        # (the checkpoint records it)
        "arch": (
            language_embedding_arch(arch)
            if has_language_embeddings(cfg.task._name) or cfg.task.get("shared_layers_from")
            else arch
        ),
        "data": str(data),
        "pair_fingerprint": fingerprint,
    }


def recorded_identity(save_dir: Path) -> dict | None:
    """SAVE_DIR/run.json, or None when there is none."""
    record = save_dir / RUN_RECORD
    if not record.is_file():
        return None
    try:
        found = json.loads(record.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(
            f"{record}: not valid JSON ({err}); it records which run {save_dir} holds: "
            "use another --save-dir, or remove the file if the directory holds no run"
        ) from None
    if not isinstance(found, dict):
        raise InputError(f"{record}: expected a JSON object; use another --save-dir")
    return found


def check_resume(save_dir: Path, wanted: dict) -> bool:
    """Refuse a save directory of another run: its run.json (written before fairseq starts, so a
    run that crashed before its first checkpoint counts) or its checkpoint_last.pt (which
    fairseq would resume as this run, or fail on late with an unhelpful assertion). True when
    there is a checkpoint to resume."""
    from alignmlm.checkpoint import checkpoint_config, training_identity
    from alignmlm.save_dir_guard import check_unlocked, intact_checkpoints, is_intact

    differ, sources = {}, []
    record = recorded_identity(save_dir)
    if record is not None:
        sources.append(RUN_RECORD)
        for key, value in wanted.items():
            # unknown (None) on either side: no evidence either way
            if record.get(key) is not None and value is not None and record[key] != value:
                differ[key] = record[key]
    last = save_dir / "checkpoint_last.pt"
    resumable = last
    if last.is_file() and not is_intact(last):
        # fairseq's process replaces it by the newest intact checkpoint (save_dir_guard)
        intact = intact_checkpoints(save_dir)
        resumable = intact[0] if intact else None
        print(f"{last} is truncated: the run resumes from {resumable or 'scratch'}", file=sys.stderr)
    if resumable is not None and resumable.is_file():
        sources.append(resumable.name)
        found = training_identity(checkpoint_config(resumable))
        for key, value in found.items():
            if key not in differ and value != wanted[key]:
                differ[key] = value
    if differ:
        what = "; ".join(f"{key.replace('_', ' ')} {differ[key]} (asked: {wanted[key]})" for key in differ)
        if set(differ) == {"pair_fingerprint"}:
            what += f": the pair in {wanted['data']} was prepared again, with other settings or inputs"
        raise InputError(
            f"{save_dir} holds another run ({' and '.join(sources)}): {what}. fairseq would "
            "resume it as this one. Use another --save-dir (or remove its checkpoints and "
            f"{RUN_RECORD} to start over)"
        )
    check_unlocked(save_dir)
    return resumable is not None and resumable.is_file()


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
    p.add_argument("--unified-output", action="store_true", help=UNIFIED_OUTPUT_HELP)
    p.add_argument("--shared-layers-from", type=int, default=0, metavar="K", help=SHARED_LAYERS_HELP)
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
    # every check before anything is written or launched; --dry-run stops after them
    if args.cpu_workers < 1:
        raise InputError(f"--cpu-workers {args.cpu_workers}: expected at least 1 process")
    check_save_dir(args.save_dir)
    check_extra(args, extra)
    command = fairseq_command(args, extra)
    cfg = compose_run(args, extra)
    check_settings(cfg)
    identity = run_identity(args, cfg)
    if check_resume(args.save_dir, identity):
        print(f"resuming {args.save_dir / 'checkpoint_last.pt'} (same objective, architecture and data)")
    print("+ " + shlex.join(command), flush=True)
    if args.dry_run:
        return 0
    args.save_dir.mkdir(parents=True, exist_ok=True)
    # before fairseq starts: a run that fails before its first checkpoint still owns the directory
    write_text_atomic(args.save_dir / RUN_RECORD, json.dumps(identity, indent=2) + "\n")
    # hydra re-raises the plugin's InputError instead of printing its own report, so that the
    # plugin's excepthook ends the run in one `error:` line (status 2)
    return subprocess.call(command, env=dict(os.environ, HYDRA_FULL_ERROR="1"))


if __name__ == "__main__":
    sys.exit(main())
