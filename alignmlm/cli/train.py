"""Pretrain one objective on a prepared pair with the real fairseq-train.

    alignmlm train --objective mlm --data runs/data/en_trans_inv \\
        --save-dir runs/mlm [--arch roberta_tiny] [--max-update 300] [-- EXTRA FAIRSEQ ARGS]

Every objective gets the same architecture, tokens per batch, optimiser and schedule, so that
runs are comparable; anything after `--` is passed to fairseq-train unchanged and wins. The
command is printed before it runs. Re-running resumes from SAVE_DIR/checkpoint_last.pt.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from alignmlm import PLUGIN_DIR

# objective -> (task, criterion, extra fairseq args)
OBJECTIVES = {
    "mlm": ("multilingual_mlm", "masked_lm", []),
    "align_mlm": ("align_mlm", "align_mlm", ["--align-weight", "10"]),
    "xlm": ("xlm", "masked_lm", ["--tlm-fraction", "0.25"]),
    "dict_mlm": ("dict_mlm", "masked_lm", ["--dict-mlm-mode", "input", "--dict-mlm-prob", "0.5"]),
}
# XLM needs language embeddings: the same size, from the roberta_lang family
LANGUAGE_EMBEDDING_OBJECTIVES = {"xlm"}


def architecture(objective: str, arch: str) -> str:
    if objective in LANGUAGE_EMBEDDING_OBJECTIVES and not arch.startswith("roberta_lang"):
        return arch.replace("roberta_", "roberta_lang_", 1)
    return arch


def data_bin(data: Path) -> Path:
    """Accept a prepared pair (with pair.json) or its bin/ directory."""
    if (data / "pair.json").is_file():
        manifest = json.loads((data / "pair.json").read_text())
        if not manifest.get("complete"):
            raise SystemExit(f"error: {data} holds an unfinished data preparation; rerun it")
        return data / manifest["data"]
    if (data / "dict.txt").is_file():
        return data
    raise SystemExit(f"error: {data} is neither a prepared pair (pair.json) nor a fairseq data "
                     "directory (dict.txt); run `alignmlm prepare-pair` first")


def flag_value(extra: list, flag: str):
    """The value given to `flag` in fairseq arguments (`--flag V` or `--flag=V`), or None."""
    for i, arg in enumerate(extra):
        if arg == flag and i + 1 < len(extra):
            return extra[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def check_extra(args: argparse.Namespace, extra: list) -> None:
    """Refuse fairseq arguments that would go wrong silently or late, before anything starts."""
    world = flag_value(extra, "--distributed-world-size")
    if world is not None and int(world) != args.cpu_workers:
        raise SystemExit(f"error: --distributed-world-size {world} but --cpu-workers "
                         f"{args.cpu_workers} processes are launched: the ranks would wait "
                         "forever for each other; set --cpu-workers instead")
    if "--bf16" in extra or "--memory-efficient-bf16" in extra:
        raise SystemExit("error: fairseq-train's --bf16 switches fairseq 0.12 to TPU mode; on "
                         "GPUs use --fp16 or --amp, or bf16 through the hydra configs "
                         "(+precision=bf16, README 'Cluster')")


def fairseq_command(args: argparse.Namespace, extra: list) -> list:
    task, criterion, objective_args = OBJECTIVES[args.objective]
    bin_dir = data_bin(args.data)
    langs = [d.name for d in sorted(bin_dir.iterdir()) if d.is_dir() and d.name != "para"]
    valid_subsets = ",".join(["valid"] + [f"valid_{lang}" for lang in langs])
    save_dir = args.save_dir
    if args.cpu_workers > 1:  # torchrun + gloo: distributed training without GPUs
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc-per-node", str(args.cpu_workers),
                    "-m", "alignmlm.cli.cpu_distributed_entry"]
    else:
        launcher = [sys.executable, "-m", "fairseq_cli.train"]
    return [
        *launcher, str(bin_dir),
        "--user-dir", str(PLUGIN_DIR), "--task", task, "--criterion", criterion,
        "--arch", architecture(args.objective, args.arch), "--tokens-per-sample", str(args.tokens_per_sample),
        "--max-tokens", str(args.max_tokens), "--update-freq", str(args.update_freq),
        "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--adam-eps", "1e-6",
        "--weight-decay", "0.01", "--clip-norm", "1.0", "--lr", str(args.lr),
        "--lr-scheduler", "polynomial_decay", "--warmup-updates", str(args.warmup_updates),
        "--total-num-update", str(args.max_update), "--max-update", str(args.max_update),
        "--seed", str(args.seed), "--valid-subset", valid_subsets,
        "--validate-interval-updates", str(args.save_interval_updates),
        "--save-interval-updates", str(args.save_interval_updates), "--no-epoch-checkpoints",
        "--keep-interval-updates", "1", "--save-dir", str(save_dir),
        "--tensorboard-logdir", str(save_dir / "tensorboard"),
        "--log-format", "json", "--log-interval", str(args.log_interval),
        "--log-file", str(save_dir / "train.log"), "--num-workers", "0",
        *objective_args, *extra,
    ]


def check_resume(args: argparse.Namespace) -> None:
    """A save directory that holds a checkpoint is resumed by fairseq-train: refuse it when that
    checkpoint is of another objective, architecture or data, which fairseq would otherwise
    continue as if it were this run (or fail late, with an unhelpful assertion)."""
    last = args.save_dir / "checkpoint_last.pt"
    if not last.is_file():
        return
    from alignmlm.checkpoint import checkpoint_config, training_identity

    task, criterion, _ = OBJECTIVES[args.objective]
    wanted = {"task": task, "criterion": criterion, "arch": architecture(args.objective, args.arch),
              "data": str(data_bin(args.data).resolve())}
    found = training_identity(checkpoint_config(last))
    differ = [f"{key} {found[key]} (asked: {wanted[key]})" for key in wanted if found[key] != wanted[key]]
    if differ:
        raise SystemExit(f"error: {args.save_dir} holds a checkpoint of another run: "
                         f"{'; '.join(differ)}. fairseq-train would resume it as this one. Use "
                         "another --save-dir (or remove its checkpoints to start over)")
    print(f"resuming {last} (same objective, architecture and data)", flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objective", choices=sorted(OBJECTIVES), required=True,
                   help="pretraining objective")
    p.add_argument("--data", type=Path, required=True,
                   help="prepared pair directory (from alignmlm.data_prep.prepare_pair) or its bin/")
    p.add_argument("--save-dir", type=Path, required=True,
                   help="checkpoints, train.log and tensorboard/ go here")
    p.add_argument("--arch", default="roberta_tiny",
                   help="roberta_tiny (tests, CPU demo) or roberta_align_paper (8x512); for xlm "
                   "the roberta_lang_* twin of the same size (language embeddings) is used")
    p.add_argument("--max-update", type=int, default=300, help="training updates")
    p.add_argument("--warmup-updates", type=int, default=30, help="linear warm-up updates")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (paper: 1e-4)")
    p.add_argument("--tokens-per-sample", type=int, default=128,
                   help="block length in tokens (paper: 512)")
    p.add_argument("--max-tokens", type=int, default=4096, help="tokens per batch per worker")
    p.add_argument("--update-freq", type=int, default=1, help="batches accumulated per update")
    p.add_argument("--save-interval-updates", type=int, default=100,
                   help="validate and save checkpoint_last.pt every N updates")
    p.add_argument("--log-interval", type=int, default=10, help="log training stats every N updates")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--cpu-workers", type=int, default=1,
                   help="data-parallel processes on the CPU (torchrun, gloo); --max-tokens is "
                   "per worker. For GPUs use the SLURM/multi-GPU launchers instead")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = build_parser().parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    check_extra(args, extra)
    check_resume(args)
    command = fairseq_command(args, extra)
    print("+ " + shlex.join(command), flush=True)
    if args.dry_run:
        return 0
    args.save_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
