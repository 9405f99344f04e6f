"""GPU benchmark of paper-size pretraining (issue: Cluster scale). Prints figures and ratios.

    python benchmarks/bench_gpu.py [--updates 60] [--precisions fp16,bf16,amp,fp32]

For each precision, MLM and ALIGN-MLM at the paper's size (configs/size/paper.yaml: 8 x 512,
512-token blocks, 16 blocks = 8,192 tokens per GPU batch) through the real fairseq-hydra-train
with configs/run/gpu1.yaml, on synthetic data with an 80k joint vocabulary and 20k training
pairs (the alignment term's paper-scale cost). Reports fairseq's own `wps` (median over the
updates after the first 10) and the least free GPU memory it logged, then the ALIGN-MLM / MLM
ratio (target >= 0.97) and each precision's speed against fp32. One update here is 1/8 of the
paper's (128 blocks): the paper's 500k updates take 8 x 500k x 8,192 tokens / wps seconds on
one such GPU.
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_align_mlm import REPO, alignment_term_ms, paper_data, read_records  # noqa: E402


def run_wps(data: Path, pairs: Path, tmp: Path, objective: str, precision: str, updates: int):
    log = tmp / f"{objective}_{precision}.log"
    align = [f"task.align_dict={pairs}"] if objective == "align_mlm" else []
    proc = subprocess.run(
        [sys.executable, "-m", "fairseq_cli.hydra_train",
         "--config-dir", str(REPO / "configs" / "pretrain"), "--config-name", objective,
         f"hydra.searchpath=[file://{REPO / 'configs'}]", "+run=gpu1", "+size=paper",
         f"task.data={data}", f"common.user_dir={REPO / 'user_dir'}",
         f"optimization.max_update={updates}", "common.log_interval=1",
         f"common.log_file={log}", "common.tensorboard_logdir=null",
         "checkpoint.no_save=true", "dataset.disable_validation=true",
         f"hydra.run.dir={tmp / 'hydra'}", f"+precision={precision}", *align],
        cwd=REPO, check=True, capture_output=True, text=True)
    records = read_records(log, "train_inner")[10:]
    overflows = (proc.stdout + proc.stderr).count("gradient overflow detected")
    return (statistics.median(float(r["wps"]) for r in records),
            min((float(r["gb_free"]) for r in records if "gb_free" in r), default=float("nan")),
            overflows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=60, help="updates per run (first 10 not timed)")
    p.add_argument("--precisions", default="fp16,bf16,amp,fp32", help="comma-separated")
    p.add_argument("--rounds", type=int, default=1,
                   help="interleaved rounds (mlm, align_mlm, mlm, ...) per precision; median")
    args = p.parse_args()
    import torch
    if not torch.cuda.is_available():
        raise SystemExit("error: this benchmark needs a CUDA device")
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}; paper size, "
          f"8,192 tokens per batch, 80k vocabulary, 20k pairs; {args.updates} updates per run")
    precisions = args.precisions.split(",")
    for precision in precisions:
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
        print(f"  {precision:<5} alignment term alone (forward + backward): "
              f"{alignment_term_ms(80_004, 512, 20_000, 20, 'cuda', dtype):.2f} ms", flush=True)
    wps = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = paper_data(tmp)
        for precision in precisions:
            runs = {"mlm": [], "align_mlm": []}
            for _ in range(args.rounds):
                for objective in runs:
                    speed, free, overflows = run_wps(data, tmp / "paper" / "pairs.txt", tmp,
                                                     objective, precision, args.updates)
                    runs[objective].append(speed)
                    print(f"  {precision:<5} {objective:<9} {speed:>10,.0f} tok/s   least free "
                          f"GPU memory {free:.1f} GB   fp16 overflows {overflows}", flush=True)
            for objective, speeds in runs.items():
                wps[objective, precision] = statistics.median(speeds)
            ratio = wps["align_mlm", precision] / wps["mlm", precision]
            days = 8 * 500_000 * 8192 / wps["align_mlm", precision] / 86400
            print(f"  {precision:<5} ALIGN-MLM / MLM {ratio:.3f} (target >= 0.97); the paper's "
                  f"500k updates of ALIGN-MLM on this one GPU: {days:.1f} days", flush=True)
    if "fp32" in precisions:
        for precision in precisions:
            print(f"  {precision:<5} ALIGN-MLM against fp32: "
                  f"x{wps['align_mlm', precision] / wps['align_mlm', 'fp32']:.2f}")


if __name__ == "__main__":
    main()
