"""Compare objectives on equal terms: pretrain each, evaluate alignment and POS zero-shot
transfer, and collect the paper-shaped table (DESIGN §2).

    python scripts/compare.py --pair runs/data/en_trans_inv --pos runs/pos/en_trans_inv \\
        --objectives mlm,align_mlm,dict_mlm --out runs/compare [--max-update 1000]

For every objective × pair (a cell, in OUT/CELL/):
  1. pretrain with scripts/train.py (same size, batch, schedule and seed for all);
  2. alignment: scripts/evaluate_alignment.py's P@1 (paper protocol, held-out) -> alignment.json;
  3. POS: fine-tune twice from the checkpoint: B_Z (train on the original language) and B_S
     (train on the derived one); both tested on the derived test set -> pos.json.
Finished steps are skipped when the command runs again (resumable). Then OUT/results.csv,
OUT/results.md (objective, transform, POS B_S/B_Z/Δ, alignment P@1), the Spearman correlation
of alignment P@1 with −Δ across cells (scipy), and a scatter plot OUT/alignment_vs_transfer.png.
The pair's POS data comes from `python -m data_prep.prepare_pos` with the pair's transform.
XLM is fine-tuned and tested with language ids (0 original, 1 derived).
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


def pos_transfer(args, cell: Path, pair: Path, pos: Path) -> dict:
    result = {}
    for name, train_subset, valid in (("B_Z", "train", "valid,test_derived"),
                                      ("B_S", "train_derived", "valid_derived,test_derived")):
        save = cell / f"pos_{name}"
        save.mkdir(exist_ok=True)
        run([sys.executable, "-m", "fairseq_cli.train", pos, "--user-dir", REPO / "user_dir",
             "--task", "pos_tagging", "--pair", pair, "--criterion", "token_classification",
             "--arch", args.arch.replace("roberta_", "roberta_tagger_", 1),
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


def collect(out: Path, rows: list) -> None:
    fields = ["objective", "transform", "pos_B_S", "pos_B_Z", "pos_delta", "p1_paper",
              "p1_heldout", "valid_mlm_loss"]
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    fmt = lambda v: "—" if v is None else f"{v:.1f}"
    lines = ["| objective | transform | POS B_S / B_Z / Δ | alignment P@1 (paper protocol) | P@1 held-out |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['objective']} | {r['transform']} | {fmt(r['pos_B_S'])} / "
                     f"{fmt(r['pos_B_Z'])} / {fmt(r['pos_delta'])} | {fmt(r['p1_paper'])} | "
                     f"{fmt(r['p1_heldout'])} |")
    scored = [r for r in rows if r["pos_delta"] is not None]
    if len(scored) >= 3:
        from scipy.stats import spearmanr
        rho, p = spearmanr([r["p1_paper"] for r in scored], [-r["pos_delta"] for r in scored])
        lines.append(f"\nSpearman ρ(alignment P@1, −Δ POS) = {rho:.3f} (p = {p:.3f}, {len(scored)} cells; "
                     "negative when better-aligned models have smaller transfer gaps −Δ)")
    else:
        lines.append(f"\nSpearman ρ needs at least 3 cells with POS results ({len(scored)} here)")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    plot(out / "alignment_vs_transfer.png", scored)


def plot(path: Path, rows: list) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4))
    for r in rows:
        ax.scatter(r["p1_paper"], -r["pos_delta"])
        ax.annotate(f"{r['objective']} ({r['transform']})", (r["p1_paper"], -r["pos_delta"]),
                    fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax.margins(0.2)  # room for the labels
    ax.set_xlabel("alignment P@1 (paper protocol, %)")
    ax.set_ylabel("−Δ POS (B_S − B_Z, accuracy points)")
    ax.set_title("Alignment against zero-shot transfer gap")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", type=Path, action="append", required=True,
                   help="prepared pair directory (repeat for several transforms)")
    p.add_argument("--pos", type=Path, action="append", required=True,
                   help="POS directory of each --pair, in the same order (data_prep.prepare_pos)")
    p.add_argument("--objectives", default="mlm,align_mlm,xlm,dict_mlm",
                   help="comma-separated objectives (scripts/train.py names)")
    p.add_argument("--out", type=Path, required=True, help="results directory")
    p.add_argument("--arch", default="roberta_tiny", help="model size for every objective")
    p.add_argument("--max-update", default="1000", help="pretraining updates")
    p.add_argument("--lr", default="1e-3", help="pretraining peak learning rate")
    p.add_argument("--finetune-updates", default="300", help="POS fine-tuning updates")
    args = p.parse_args(argv)
    if len(args.pos) != len(args.pair):
        raise SystemExit("error: give one --pos for each --pair, in the same order")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for pair, pos in zip(args.pair, args.pos):
        transform = json.loads((pair / "pair.json").read_text())["settings"].get("transform") or pair.name
        for objective in args.objectives.split(","):
            cell = args.out / f"{objective}__{transform.replace('+', '_')}"
            cell.mkdir(exist_ok=True)
            name = f"{objective} × {transform}"
            pre = step(cell / "pretrain.json", f"{name}: pretrain", lambda: pretrain(args, cell, objective, pair))
            ali = step(cell / "alignment.json", f"{name}: alignment", lambda: alignment(cell, pair))
            pos_result = step(cell / "pos.json", f"{name}: POS B_Z / B_S",
                              lambda: pos_transfer(args, cell, pair, pos))
            rows.append({"objective": objective, "transform": transform,
                         "pos_B_S": pos_result and pos_result["B_S"], "pos_B_Z": pos_result and pos_result["B_Z"],
                         "pos_delta": pos_result and pos_result["delta"], "p1_paper": ali["p1_paper"],
                         "p1_heldout": ali["p1_heldout"], "valid_mlm_loss": pre["valid_mlm_loss"]})
    collect(args.out, rows)
    print((args.out / "results.md").read_text())
    print(f"results: {args.out / 'results.csv'}, {args.out / 'results.md'}, "
          f"{args.out / 'alignment_vs_transfer.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
