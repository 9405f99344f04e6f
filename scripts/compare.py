"""Compare objectives on equal terms: pretrain each, evaluate alignment and zero-shot transfer
(POS, and NLI where given), and collect the paper-shaped table (DESIGN §2).

    python scripts/compare.py --pair runs/data/en_trans_inv --pos runs/pos/en_trans_inv \\
        [--nli runs/nli/en_trans_inv] --objectives mlm,align_mlm,dict_mlm --out runs/compare

For every objective × pair (a cell, in OUT/CELL/):
  1. pretrain with scripts/train.py (same size, batch, schedule and seed for all);
  2. alignment: scripts/evaluate_alignment.py's P@1 (paper protocol, held-out) -> alignment.json;
  3. POS: fine-tune twice from the checkpoint: B_Z (train on the original language) and B_S
     (train on the derived one); both tested on the derived test set -> pos.json;
  4. NLI (with --nli): the same -> nli.json.
Finished steps are skipped when the command runs again (resumable). Then OUT/results.csv,
OUT/results.md (objective, transform, per task B_S/B_Z/Δ, alignment P@1), the Spearman
correlation of alignment P@1 with −Δ across cells for each task (scipy), and a scatter plot
OUT/alignment_vs_transfer.png. The pair's task data comes from `python -m data_prep.prepare_pos`
and `python -m data_prep.prepare_nli` with the pair's transform.
XLM is fine-tuned and tested with language ids (0 original, 1 derived).

With --slurm each unfinished cell becomes one SLURM job (this command with --only-cell), its log
in OUT/CELL/slurm-JOBID.out; the command returns once they are submitted (--wait: once they have
ended, then collects). Run it again to collect: finished cells are reused, queued or running
ones are not submitted twice, failed ones are submitted again.
"""
import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts import slurm_cells  # noqa: E402
from scripts.fairseq_log import read_records  # noqa: E402



def log(message: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {message}", flush=True)


def step(marker: Path, description: str, fn) -> dict:
    """Run fn() once: its result is kept in `marker` and reused on the next invocation."""
    if marker.is_file():
        log(f"{description}: done before, reusing {marker}")
        return json.loads(marker.read_text())
    log(f"{description} ...")
    start = time.perf_counter()
    result = fn()
    result["seconds"] = round(time.perf_counter() - start, 1)
    marker.write_text(json.dumps(result, indent=2) + "\n")
    log(f"{description}: {result['seconds']} s")
    return result


def run(command: list, log_path: Path) -> None:
    with open(log_path, "w") as out:
        if subprocess.call([str(c) for c in command], cwd=REPO, stdout=out, stderr=subprocess.STDOUT):
            tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-20:])
            raise SystemExit(f"error: command failed, log {log_path}:\n{tail}")


def pretrain(args, cell: Path, objective: str, pair: Path) -> dict:
    run([sys.executable, "scripts/train.py", "--objective", objective, "--data", pair,
         "--save-dir", cell / "pretrain", "--max-update", args.max_update, "--arch", args.arch,
         "--save-interval-updates", args.max_update, "--lr", args.lr,
         "--", "--validate-interval", "100000"],  # validate once, at the end
        cell / "pretrain.stdout")
    valid = read_records(cell / "pretrain" / "train.log", "valid")[-1]
    return {"checkpoint": str(cell / "pretrain" / "checkpoint_last.pt"),
            "valid_mlm_loss": float(valid.get("valid_mlm_loss", valid["valid_loss"]))}


def alignment(cell: Path, pair: Path) -> dict:
    out = cell / "alignment_eval.json"
    run([sys.executable, "scripts/evaluate_alignment.py", "--checkpoint",
         cell / "pretrain" / "checkpoint_last.pt", "--pair", pair, "--output", out],
        cell / "alignment.stdout")
    return json.loads(out.read_text())


# transfer task -> (fairseq task, criterion, model); the model's size follows --arch
TASKS = {"pos": ("pos_tagging", "token_classification", "roberta_tagger"),
         "nli": ("nli", "sequence_classification", "roberta_classifier")}


def transfer(args, cell: Path, pair: Path, task: str, data: Path) -> dict:
    fairseq_task, criterion, model = TASKS[task]
    result = {}
    for name, train_subset, valid in (("B_Z", "train", "valid,test_derived"),
                                      ("B_S", "train_derived", "valid_derived,test_derived")):
        save = cell / f"{task}_{name}"
        save.mkdir(exist_ok=True)
        run([sys.executable, "-m", "fairseq_cli.train", data, "--user-dir", REPO / "user_dir",
             "--task", fairseq_task, "--pair", pair, "--criterion", criterion,
             "--arch", args.arch.replace("roberta", model, 1),
             "--pretrained-checkpoint", cell / "pretrain" / "checkpoint_last.pt",
             "--max-positions", "128", "--optimizer", "adam", "--lr", "1e-3",
             "--max-tokens", "4096", "--max-update", args.finetune_updates,
             "--lr-scheduler", "polynomial_decay", "--warmup-updates", "20",
             "--total-num-update", args.finetune_updates, "--train-subset", train_subset,
             "--valid-subset", valid, "--validate-interval-updates", args.finetune_updates,
             "--validate-interval", "1000", "--no-save", "--save-dir", save,
             "--log-format", "json", "--log-file", save / "train.log", "--num-workers", "0",
             "--seed", "1"], save / "stdout")
        result[name] = float(read_records(save / "train.log", "test_derived")[-1]["test_derived_accuracy"])
    result["delta"] = round(result["B_Z"] - result["B_S"], 2)
    return result


def collect(out: Path, rows: list, tasks: list) -> None:
    fields = (["objective", "transform"] + [f"{t}_{k}" for t in tasks for k in ("B_S", "B_Z", "delta")]
              + ["p1_paper", "p1_heldout", "valid_mlm_loss"])
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    fmt = lambda v: "—" if v is None else f"{v:.1f}"
    heads = "".join(f" {t.upper()} B_S / B_Z / Δ |" for t in tasks)
    lines = [f"| objective | transform |{heads} alignment P@1 (paper protocol) | P@1 held-out |",
             "|---|---|" + "---|" * len(tasks) + "---|---|"]
    for r in rows:
        scores = "".join(f" {fmt(r[t + '_B_S'])} / {fmt(r[t + '_B_Z'])} / {fmt(r[t + '_delta'])} |"
                         for t in tasks)
        lines.append(f"| {r['objective']} | {r['transform']} |{scores} {fmt(r['p1_paper'])} | "
                     f"{fmt(r['p1_heldout'])} |")
    lines.append("")
    for t in tasks:
        scored = [r for r in rows if r[f"{t}_delta"] is not None]
        if len(scored) >= 3:
            from scipy.stats import spearmanr
            rho, p = spearmanr([r["p1_paper"] for r in scored], [-r[f"{t}_delta"] for r in scored])
            lines.append(f"Spearman ρ(alignment P@1, −Δ {t.upper()}) = {rho:.3f} (p = {p:.3f}, "
                         f"{len(scored)} cells; negative when better-aligned models have smaller "
                         "transfer gaps −Δ)")
        else:
            lines.append(f"Spearman ρ needs at least 3 cells with {t.upper()} results ({len(scored)} here)")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    plot(out / "alignment_vs_transfer.png", rows, tasks)


def plot(path: Path, rows: list, tasks: list) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4))
    for t, marker in zip(tasks, "os"):
        for r in rows:
            gap = -r[f"{t}_delta"]
            ax.scatter(r["p1_paper"], gap, marker=marker)
            ax.annotate(f"{r['objective']} ({r['transform']})" + (f" {t.upper()}" if len(tasks) > 1 else ""),
                        (r["p1_paper"], gap), fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax.margins(0.2)  # room for the labels
    ax.set_xlabel("alignment P@1 (paper protocol, %)")
    ax.set_ylabel(f"−Δ {' / '.join(t.upper() for t in tasks)} (B_S − B_Z, accuracy points)")
    ax.set_title("Alignment against zero-shot transfer gap")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def finished(cell: Path, tasks: list) -> bool:
    return all((cell / f"{name}.json").is_file() for name in ["pretrain", "alignment", *tasks])


def run_on_slurm(args, argv: list, cells: list, tasks: list) -> bool:
    """Submit each unfinished cell as a job running this command with --only-cell; True when
    every cell has finished and the results can be collected."""
    jobs = {}
    for cell in cells:
        if not finished(cell, tasks):
            cell.mkdir(exist_ok=True)
            command = [sys.executable, Path(__file__).resolve(), *argv, "--only-cell", cell.name]
            jobs[cell.name] = slurm_cells.submit(cell, command, args.slurm_args, log)
    if jobs and not args.wait:
        log(f"{len(jobs)} cells queued or running on SLURM; run this command again when they "
            "have ended to collect the results (or pass --wait)")
        return False
    slurm_cells.wait(jobs, log)
    failed = [cell for cell in cells if not finished(cell, tasks)]
    if failed:
        raise SystemExit("error: these cells' jobs ended without finishing them; see their logs "
                         "and run again to resubmit: " + ", ".join(
                             f"{c.name} ({c}/slurm-{jobs[c.name]}.out)" for c in failed))
    return True


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", type=Path, action="append", required=True,
                   help="prepared pair directory (repeat for several transforms)")
    p.add_argument("--pos", type=Path, action="append", required=True,
                   help="POS directory of each --pair, in the same order (data_prep.prepare_pos)")
    p.add_argument("--nli", type=Path, action="append",
                   help="NLI directory of each --pair, in the same order (data_prep.prepare_nli); "
                   "without it, no NLI")
    p.add_argument("--objectives", default="mlm,align_mlm,xlm,dict_mlm",
                   help="comma-separated objectives (scripts/train.py names)")
    p.add_argument("--out", type=Path, required=True, help="results directory")
    p.add_argument("--arch", default="roberta_tiny", help="model size for every objective")
    p.add_argument("--max-update", default="1000", help="pretraining updates")
    p.add_argument("--lr", default="1e-3", help="pretraining peak learning rate")
    p.add_argument("--finetune-updates", default="300", help="fine-tuning updates (each task)")
    p.add_argument("--slurm", action="store_true",
                   help="submit each unfinished cell as a SLURM job instead of running it here")
    p.add_argument("--slurm-args", default="",
                   help="sbatch options for each cell's job, e.g. \"--partition=gpu --gpus=1 "
                   "--time=12:00:00\"")
    p.add_argument("--wait", action="store_true", help="with --slurm: wait for the jobs, then collect")
    p.add_argument("--only-cell", metavar="NAME",
                   help="run one cell (OBJECTIVE__TRANSFORM) and do not collect; what each job runs")
    args = p.parse_args(argv)
    if len(args.pos) != len(args.pair) or len(args.nli or args.pair) != len(args.pair):
        raise SystemExit("error: give one --pos (and --nli, if any) for each --pair, in the same order")
    tasks = ["pos"] + ["nli"] * bool(args.nli)
    args.out.mkdir(parents=True, exist_ok=True)
    cells = []  # (cell directory, objective, transform, pair index)
    for k, pair in enumerate(args.pair):
        transform = json.loads((pair / "pair.json").read_text())["settings"].get("transform") or pair.name
        for objective in args.objectives.split(","):
            cells.append((args.out / f"{objective}__{transform.replace('+', '_')}", objective, transform, k))
    if args.only_cell:
        cells = [c for c in cells if c[0].name == args.only_cell]
        if not cells:
            raise SystemExit(f"error: --only-cell {args.only_cell}: no such cell in this grid")
    elif args.slurm and not run_on_slurm(args, argv, [c[0] for c in cells], tasks):
        return 0
    rows = []
    for cell, objective, transform, k in cells:
        pair = args.pair[k]
        cell.mkdir(exist_ok=True)
        name = f"{objective} × {transform}"
        pre = step(cell / "pretrain.json", f"{name}: pretrain", lambda: pretrain(args, cell, objective, pair))
        ali = step(cell / "alignment.json", f"{name}: alignment", lambda: alignment(cell, pair))
        row = {"objective": objective, "transform": transform, "p1_paper": ali["p1_paper"],
               "p1_heldout": ali["p1_heldout"], "valid_mlm_loss": pre["valid_mlm_loss"]}
        for task in tasks:
            data = getattr(args, task)[k]
            res = step(cell / f"{task}.json", f"{name}: {task.upper()} B_Z / B_S",
                       lambda: transfer(args, cell, pair, task, data))
            row.update({f"{task}_B_S": res["B_S"], f"{task}_B_Z": res["B_Z"], f"{task}_delta": res["delta"]})
        rows.append(row)
    if args.only_cell:
        return 0
    collect(args.out, rows, tasks)
    print((args.out / "results.md").read_text())
    print(f"results: {args.out / 'results.csv'}, {args.out / 'results.md'}, "
          f"{args.out / 'alignment_vs_transfer.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
