"""Held-out alignment against pretraining updates, from the validation records of training logs.

    alignmlm alignment-curve --run mlm=runs/curve/mlm_s1 --run mlm=runs/curve/mlm_s2 \\
        --run align_mlm=runs/curve/align_s1 ... --out runs/curve/heldout_p1.png

Every pretraining task logs alignment at each validation when its data is a prepared pair
(`valid_align_heldout_p1_nn`, ...; docs/evaluation.md, "Alignment metrics"), so a run trained with
`--save-interval-updates N` (alignmlm train validates whenever it saves) gives a point every N
updates. Runs given the same NAME are seeds of one objective: the plot shows their mean and the
min-max band, the table (printed, Markdown) mean ± std per update.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from alignmlm.cli.evaluate_alignment import check_output
from alignmlm.errors import reported
from alignmlm.fairseq_log import read_records


def curve(save_dir: Path, metric: str) -> dict:
    """{update: value} of `valid_align_<metric>` in SAVE_DIR/train.log."""
    log = save_dir / "train.log"
    if not log.is_file():
        raise SystemExit(f"error: {log}: no training log (is {save_dir} a alignmlm train save dir?)")
    key = f"valid_align_{metric}"
    points = {int(r["valid_num_updates"]): float(r[key]) for r in read_records(log, "valid") if key in r}
    if not points:
        raise SystemExit(
            f"error: {log} has no {key} records: was the run's data a prepared pair "
            "with a bilingual dictionary, and did it validate?"
        )
    return points


@reported
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--run",
        action="append",
        required=True,
        metavar="NAME=SAVE_DIR",
        help="a training run; repeat NAME for its seeds",
    )
    p.add_argument(
        "--metric",
        default="heldout_p1_nn",
        help="logged alignment figure without the valid_align_ prefix, e.g. "
        "heldout_p1_csls, train_p1_nn, paper_p1_nn (default heldout_p1_nn)",
    )
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = p.parse_args(argv)
    check_output(args.out, "--out")
    runs: dict = {}
    seen: dict = {}
    for item in args.run:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"error: --run {item!r}: expected NAME=SAVE_DIR")
        resolved = Path(path).resolve()
        if resolved in seen:  # one run counted twice would look like two agreeing seeds
            raise SystemExit(
                f"error: --run {item!r}: {path} is given twice (also as --run {seen[resolved]!r})"
            )
        seen[resolved] = item
        runs.setdefault(name, []).append(curve(Path(path), args.metric))

    import logging

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # fairseq's imports set DEBUG
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    updates = sorted(set.intersection(*(set(c) for seeds in runs.values() for c in seeds)))
    if not updates:
        raise SystemExit(
            "error: the runs share no validation update; give them the same --save-interval-updates"
        )
    table = [f"| updates | {' | '.join(runs)} |", "|---|" + "---|" * len(runs)]
    values = {name: np.array([[c[u] for u in updates] for c in seeds]) for name, seeds in runs.items()}
    for name, v in values.items():
        ax.plot(updates, v.mean(0), marker="o", ms=3, label=f"{name} ({len(v)} seed{'s' * (len(v) > 1)})")
        ax.fill_between(updates, v.min(0), v.max(0), alpha=0.2)
    for i, u in enumerate(updates):
        cells = [
            f"{v[:, i].mean():.1f}" + (f" ± {v[:, i].std(ddof=1):.1f}" if len(v) > 1 else "")
            for v in values.values()
        ]
        table.append(f"| {u} | {' | '.join(cells)} |")
    ax.set_xlabel("pretraining updates")
    ax.set_ylabel(f"{args.metric} (%)")
    ax.set_title("Alignment of held-out dictionary words during pretraining")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print("\n".join(table))
    print(f"plot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
