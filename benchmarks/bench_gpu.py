"""GPU benchmark of paper-size pretraining (issue: Cluster scale). Prints figures and ratios.

    python -m benchmarks.bench_gpu [--updates 60] [--precisions fp16,bf16,amp,fp32] [--rounds 1]

(from the repository root; needs a CUDA device). For each precision, MLM and ALIGN-MLM through
`alignmlm train --run gpu1 --size paper --precision P` (the real fairseq-hydra-train on
configs/pretrain.yaml + the objective's overlay + configs/run/gpu1.yaml, configs/size/paper.yaml:
8 x 512, 512-token blocks, 16 blocks = 8,192 tokens per GPU batch, and configs/precision/P.yaml),
on synthetic data with an 80k joint vocabulary and 20k training pairs (the alignment term's
paper-scale cost). Reports fairseq's own `wps` (median over the updates after the first 10) and
the least free GPU memory it logged, then the ALIGN-MLM / MLM ratio (target >= 0.99) and the model FLOPs utilisation (alignmlm/throughput.py) and each
precision's speed against fp32. One update here is 1/8 of the paper's (configs/run/node8.yaml:
8 GPUs x 16 blocks): the paper's run (configs/size/paper.yaml's updates x 8 x 8,192 tokens)
takes that many tokens / wps seconds on one such GPU.
"""

import argparse
import statistics
import tempfile
from pathlib import Path

from alignmlm.models.architectures import SIZES as ARCH_SIZES
from alignmlm.pretraining_config import choices
from alignmlm.throughput import mfu, peak_flops
from benchmarks.bench_align_mlm import (
    alignment_term_ms,
    alignment_term_shape,
    paper_data,
    run_config,
    train_records,
)

SKIPPED = 10  # updates not timed (warm-up, the loss scaler settling)


SIZE = "paper"  # --size: configs/size/paper.yaml (16 blocks per batch) or paper_one_gpu (128)


def gpu_flags(precision: str) -> list:
    return ["--run", "gpu1", "--size", SIZE, "--precision", precision]


def model_flops_per_token(cfg, vocab: int) -> float:
    """The shared formula (alignmlm/throughput.py) for the run's model."""
    from alignmlm.throughput import training_flops_per_token

    arch = ARCH_SIZES[cfg.model._name.split("_", 1)[1]]
    return training_flops_per_token(
        arch.layers, arch.dim, arch.ffn, cfg.task.tokens_per_sample, vocab, cfg.task.mask_prob
    )


def run_wps(data: Path, pairs: Path, tmp: Path, objective: str, precision: str, updates: int):
    # the synthetic data has no prepared pair: ALIGN-MLM is given its bilingual dictionary
    overrides = [f"task.bilingual_dict={pairs}"] if objective == "align_mlm" else []
    records, output = train_records(
        objective, data, tmp / f"{objective}_{precision}", updates, gpu_flags(precision), overrides
    )
    records = records[SKIPPED:]
    overflows = output.count("gradient overflow detected")
    return (
        statistics.median(float(r["wps"]) for r in records),
        min((float(r["gb_free"]) for r in records if "gb_free" in r), default=float("nan")),
        overflows,
    )


def paper_tokens(data: Path) -> tuple:
    """(updates, tokens per update) of the paper's run: +run=node8 +size=paper."""
    cfg = run_config("mlm", data, ["--run", "node8", "--size", "paper"])
    per_update = (
        cfg.distributed_training.distributed_world_size
        * cfg.dataset.max_tokens
        * cfg.optimization.update_freq[0]
    )
    return cfg.optimization.max_update, per_update


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=60, help=f"updates per run (the first {SKIPPED} not timed)")
    p.add_argument(
        "--precisions",
        default="fp16,bf16,amp,fp32",
        help=f"comma-separated, of configs/precision/: {','.join(choices('precision'))}",
    )
    p.add_argument(
        "--size",
        default="paper",
        choices=[c for c in choices("size") if c.startswith("paper")],
        help="configs/size/: paper (16 blocks per batch) or paper_one_gpu (the paper's whole "
        "update, 128 blocks, in one batch)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="interleaved rounds (mlm, align_mlm, mlm, ...) per precision; median",
    )
    args = p.parse_args(argv)
    args.precisions = args.precisions.split(",")
    unknown = [x for x in args.precisions if x not in choices("precision")]
    if unknown:
        p.error(
            f"--precisions: unknown {', '.join(unknown)}; expected some of {', '.join(choices('precision'))}"
        )
    if args.updates <= SKIPPED:
        p.error(f"--updates must be more than the {SKIPPED} updates that are not timed")
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


def main(argv=None) -> None:
    global SIZE
    args = parse_args(argv)
    SIZE = args.size
    import torch

    if not torch.cuda.is_available():
        raise SystemExit(
            "error: bench_gpu needs a CUDA device (torch.cuda.is_available() is "
            "False here); the CPU benchmarks are bench_align_mlm and bench_baselines"
        )
    precisions = args.precisions
    wps = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data, pairs = paper_data(tmp), tmp / "paper" / "pairs.txt"
        cfg = run_config("align_mlm", data, gpu_flags(precisions[0]), [f"task.bilingual_dict={pairs}"])
        vocab, dim, npairs = alignment_term_shape(cfg, pairs)
        paper_updates, paper_update_tokens = paper_tokens(data)
        flops = model_flops_per_token(cfg, vocab)
        peak = peak_flops(torch.cuda.get_device_name())
        print(
            f"{torch.cuda.get_device_name()}, torch {torch.__version__}; {cfg.model._name}, "
            f"{cfg.dataset.max_tokens:,} tokens per batch, {vocab:,} vocabulary, {npairs:,} pairs; "
            f"{args.updates} updates per run"
        )
        for precision in precisions:
            dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
            print(
                f"  {precision:<5} alignment term alone (forward + backward): "
                f"{alignment_term_ms(vocab, dim, npairs, 20, 'cuda', dtype):.2f} ms",
                flush=True,
            )
        for precision in precisions:
            runs = {"mlm": [], "align_mlm": []}
            for _ in range(args.rounds):
                for objective in runs:
                    speed, free, overflows = run_wps(data, pairs, tmp, objective, precision, args.updates)
                    runs[objective].append(speed)
                    utilisation = f"MFU {mfu(speed, flops, peak):.1%}" if peak else "MFU: peak unknown"
                    print(
                        f"  {precision:<5} {objective:<9} {speed:>10,.0f} tok/s   {utilisation} "
                        f"({flops / 1e9:.3f} GFLOP/token)   least free GPU memory {free:.1f} GB   "
                        f"fp16 overflows {overflows}",
                        flush=True,
                    )
            for objective, speeds in runs.items():
                wps[objective, precision] = statistics.median(speeds)
            ratio = wps["align_mlm", precision] / wps["mlm", precision]
            days = paper_updates * paper_update_tokens / wps["align_mlm", precision] / 86400
            print(
                f"  {precision:<5} ALIGN-MLM / MLM {ratio:.3f} (target >= 0.99); the paper's "
                f"{paper_updates // 1000}k updates of ALIGN-MLM on this one GPU: {days:.1f} days",
                flush=True,
            )
    if "fp32" in precisions:
        for precision in precisions:
            print(
                f"  {precision:<5} ALIGN-MLM against fp32: "
                f"x{wps['align_mlm', precision] / wps['align_mlm', 'fp32']:.2f}"
            )


if __name__ == "__main__":
    main()
