"""Compare objectives on equal terms: pretrain each with several seeds, evaluate alignment and
zero-shot transfer, and report means, spreads and the correlation the paper reports.

    alignmlm compare --pair runs/data/en_trans_inv --pos runs/pos/en_trans_inv \\
        [--ner runs/ner/en_trans_inv] [--nli runs/nli/en_trans_inv] \\
        --objectives mlm,align_mlm --seeds 1,2,3 --jobs 2 --out runs/compare

The paper's grid: one --pair per derived language and, in the same order, one directory per
task for each pair ('-' where a pair has none: NER and NLI text have no trees for syn):

    alignmlm compare --pair D/trans --pair D/trans_inv --pair D/trans_syn \\
        --pos P/trans --pos P/trans_inv --pos P/trans_syn --ner N/trans --ner N/trans_inv --ner - \\
        --nli X/trans --nli X/trans_inv --nli - --seeds 1,2 --out runs/grid

A natural pair (prepare-pair --corpus2, e.g. English and Turkish) takes part as its languages,
`en-tr` (lang1-lang2), where a synthetic pair shows its transform; its POS data is prepare-pos
--target-conllu-dir's (B_Z: fine-tuned on lang1, tested on lang2):

    alignmlm compare --pair runs/data/en_tr --pos runs/pos/en_tr --seeds 1,2 --out runs/en_tr

A cell is one objective x pair x seed, in OUT/OBJECTIVE__TRANSFORM__seedS/:
  1. pretrain with alignmlm train (same size, batch, schedule for all; --seed S; --size, --run,
     --precision and the recipe flags below reach every cell);
  2. alignment: alignmlm evaluate-alignment (held-out P@1 by NN and CSLS, the paper's
     protocol, ...) -> alignment.json;
  3. POS, NER, NLI (those given for the pair): alignmlm finetune's recipe from the checkpoint,
     fine-tuning seed S: B_Z, B_S and delta = B_Z - B_S (POS and NLI: accuracy; NER: entity
     span F1, as the paper) -> pos.json / ner.json / nli.json.
Each cell records in cell.json the settings and data fingerprints that produce it. A finished
step is reused only when those are the same: a rerun with other settings (updates, model,
learning rate, recipe, data) stops before doing anything and names what differs -- use another
--out. New seeds or objectives may be added to a grid; their cells are run, the others reused.
Every step after pretraining records the sha256 of the checkpoint it was computed from: when the
pretraining is redone (CELL/pretrain.json or CELL/pretrain/ removed to recompute it), the steps
of the old checkpoint are recomputed, not reused. Objective names, the pairs and the task data
(each split file the fine-tuning reads) are checked before any cell runs or is submitted.

Then OUT/results.csv (one row per cell and seed), OUT/results.md (mean +- std (n) per objective
x transform; per task Spearman rho and Pearson r between alignment and delta, over the cells'
means, with bootstrap 95 % intervals over cells and seeds; positive = better-aligned models have
smaller transfer gaps, as in the paper; for a grid, the table in the paper's shape with the
paper's own figures beside each cell, and where the objectives' order by delta agrees with the
paper's; a natural pair's rows are never compared with the paper's figures, which are of its
synthetic transformations: results.md says so) and OUT/alignment_vs_transfer.png. A line per
finished cell says how many are done and about how long the rest will take.

--jobs N runs N cells side by side (each with 1/N of the CPU threads). With --slurm each
unfinished cell becomes one SLURM job (this command with --only-cell); run the command again
(or pass --wait) to collect. --slurm-args takes sbatch's options as one value, also when it
starts with a dash: --slurm-args "--partition=gpu --time=12:00:00" (or --slurm-args=...).
"""

import argparse
import csv
import hashlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from alignmlm import paper_results
from alignmlm.cli import finetune, slurm_cells, train
from alignmlm.data_prep.task_data import RECORD as TASK_RECORD
from alignmlm.data_prep.task_data import check_matches_pair
from alignmlm.errors import reported
from alignmlm.fairseq_log import read_records
from alignmlm.pair import PairError, PreparedPair
from alignmlm.pretraining_config import choices
from alignmlm.safe_files import file_sha256, write_text_atomic

FORMAT = 2  # of OUT's layout; 1: cells without seeds or cell.json (before this version)
ALIGNMENT_COLUMNS = [
    "paper_p1_nn",
    "heldout_p1_nn",
    "heldout_p1_csls",
    "heldout_p5_nn",
    "heldout_p5_csls",
    "train_p1_nn",
]
# --analyze: alignmlm analyze's headline figures per cell (the last layer: the one fine-tuning uses)
ANALYSIS_COLUMNS = [
    "procrustes_heldout_p1_nn",
    "procrustes_heldout_p1_csls",
    "cka_last_layer",
    "sentence_p1_last_layer",
    "probe_transfer_last_layer",
]
# the splits finetune.transfer reads (B_Z trains on train, selects on valid; B_S on the derived
# ones; both are tested on test_derived), in the file formats each task reads
TASK_SPLITS = ("train", "valid", "train_derived", "valid_derived", "test_derived")
TASK_FILES = {"pos": (".conllu",), "ner": (".ner",), "nli": (".jsonl", ".tsv")}
TASK_PREPARE = {"pos": "alignmlm prepare-pos", "ner": "alignmlm prepare-ner", "nli": "alignmlm prepare-nli"}
TASK_METRIC = {"pos": "accuracy", "ner": "entity span F1", "nli": "accuracy"}  # B_S and B_Z
NO_DATA = "-"  # --nli - : this pair has no data for the task (e.g. NLI text has no trees for syn)
# alignmlm train's flags a comparison may set, the same for every cell (the recipe records them)
RECIPE_FLAGS = (
    "arch",
    "max_update",
    "lr",
    "warmup_updates",
    "tokens_per_sample",
    "max_tokens",
    "update_freq",
)
RECIPE_GROUPS = ("run", "size", "precision")  # configs/ groups passed to every cell's alignmlm train
CORRELATED = [("paper_p1_nn", "alignment P@1, paper protocol"), ("heldout_p1_nn", "held-out P@1 (NN)")]
_print_lock = threading.Lock()


def log(message: str) -> None:
    with _print_lock:
        print(f"[compare {time.strftime('%H:%M:%S')}] {message}", flush=True)


class CellError(RuntimeError):
    pass


def parse_seeds(text: str) -> list:
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise SystemExit(f"error: --seeds {text!r}: expected comma-separated integers, e.g. 1,2,3")
    try:
        seeds = [int(item) for item in items]
    except ValueError:
        raise SystemExit(
            f"error: --seeds {text!r}: {next(i for i in items if not i.lstrip('-').isdigit())!r} "
            "is not an integer"
        ) from None
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise SystemExit(
            f"error: --seeds {text!r} repeats {', '.join(map(str, repeated))}: each "
            "seed is one run, and a repeat would be counted twice"
        )
    return seeds


def parse_objectives(text: str) -> list:
    """The objectives of --objectives, each a name of configs/objective/ (checked here, not when
    its first cell is reached, possibly hours later)."""
    objectives = [o.strip() for o in text.split(",") if o.strip()]
    if not objectives:
        raise SystemExit("error: --objectives is empty: nothing to compare")
    known = choices("objective")
    unknown = [o for o in objectives if o not in known]
    if unknown:
        raise SystemExit(
            f"error: --objectives {text!r}: unknown objective {', '.join(map(repr, unknown))}; "
            f"expected comma-separated names of configs/objective/*.yaml: {', '.join(known)}"
        )
    repeated = sorted({o for o in objectives if objectives.count(o) > 1})
    if repeated:
        raise SystemExit(
            f"error: --objectives {text!r} repeats {', '.join(repeated)}: each objective is "
            "one row, and a repeat would be counted as another cell"
        )
    return objectives


def slurm_args_value(argv: list) -> list:
    """`--slurm-args --partition=gpu` as `--slurm-args=--partition=gpu`: argparse takes a value
    that starts with a dash for another option and would refuse it."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--slurm-args":
            out[i : i + 2] = [f"--slurm-args={out[i + 1]}"]
            break  # one --slurm-args (a second would be argparse's to judge)
    return out


def check_task_data(task: str, data: Path) -> None:
    """Every split file the fine-tuning of `task` reads is in `data` (a missing one would fail
    only when a cell's fine-tuning starts, after its pretraining)."""
    if not data.is_dir():
        raise SystemExit(f"error: --{task} {data}: directory not found")
    for split in TASK_SPLITS:
        names = [f"{split}{ext}" for ext in TASK_FILES[task]]
        if not any((data / name).is_file() for name in names):
            raise SystemExit(
                f"error: --{task} {data} has no {' or '.join(names)} (the fine-tuning reads "
                f"{', '.join(TASK_SPLITS)}); make the directory with {TASK_PREPARE[task]}"
            )


def fingerprint(path: Path) -> str:
    """sha256 over a task data directory's files (names and contents): what decides the results
    (its transform record is checked apart, and leaves older cells' fingerprints as they were)."""
    h = hashlib.sha256()
    for f in sorted(f for f in path.rglob("*") if f.is_file() and f.name != TASK_RECORD):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def pretraining_recipe(args) -> dict:
    """The settings every cell pretrains with: configs/pretrain.yaml with this command's flags
    (the same for every objective; each cell adds its objective and seed)."""
    from alignmlm.pretraining_config import compose

    given = {name: getattr(args, name) for name in RECIPE_FLAGS}
    groups = {group: getattr(args, group) for group in RECIPE_GROUPS if getattr(args, group)}
    overrides = [f"+{group}={name}" for group, name in groups.items()] + [
        f"{key}=[{given[name]}]" if key in train.LIST_SETTINGS else f"{key}={given[name]}"
        for name, (key, _, _) in train.SETTINGS.items()
        if given.get(name) is not None
    ]
    cfg = compose("mlm", ["task.data=unused", "common.user_dir=unused", *overrides])
    return {
        **groups,  # absent when not given: cells recorded before these flags existed still match
        "arch": cfg.model._name,
        "max_update": cfg.optimization.max_update,
        "lr": cfg.optimization.lr[0],
        "warmup_updates": cfg.lr_scheduler.warmup_updates,
        "tokens_per_sample": cfg.task.tokens_per_sample,
        "max_tokens": cfg.dataset.max_tokens,
        "update_freq": cfg.optimization.update_freq[0],
        **({"batch_size": cfg.dataset.batch_size} if cfg.dataset.batch_size else {}),
        **({"unified_output": True} if args.unified_output else {}),  # recorded only when used
        **({"shared_layers_from": args.shared_layers_from} if args.shared_layers_from else {}),
    }


_sha256_cache: dict = {}


def checkpoint_sha256(path: Path) -> str:
    """file_sha256 of a checkpoint, hashed once per version of the file in this process (the
    driver checks each cell before it runs it)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _sha256_cache:
        _sha256_cache[key] = file_sha256(path)
    return _sha256_cache[key]


def checkpoint_path(cell: Path) -> Path:
    return cell / "pretrain" / "checkpoint_last.pt"


def reusable(cell: Path, name: str, checkpoint: str | None = None) -> tuple:
    """(record of CELL/NAME.json, "") when that step's result can be reused, else (None, why
    not; "" when it was never done). The pretraining's record must describe the checkpoint in
    CELL/pretrain/ now; a later step's must have been computed from `checkpoint` (its sha256)."""
    marker = cell / f"{name}.json"
    if not marker.is_file():
        return None, ""
    record = json.loads(marker.read_text())
    recorded = record.get("checkpoint_sha256")
    if name == "pretrain":
        path = checkpoint_path(cell)
        if not path.is_file():
            return None, f"{marker} is there but {path} is not: pretraining again"
        found = checkpoint_sha256(path)
        if recorded is None:  # an older version's record: the checkpoint is the one it made
            record["checkpoint_sha256"] = found
            write_text_atomic(marker, json.dumps(record, indent=2) + "\n")
        elif recorded != found:
            return None, (
                f"{path} is not the checkpoint {marker} records (sha256 {recorded[:12]}..., "
                f"found {found[:12]}...): it was replaced; pretraining again"
            )
        return record, ""
    if recorded != checkpoint:
        source = f"checkpoint sha256 {recorded[:12]}..." if recorded else "a checkpoint it does not record"
        return None, (
            f"{marker} was computed from {source}, not from the pretrained checkpoint there now "
            f"(sha256 {checkpoint[:12]}...): recomputing"
        )
    return record, ""


def step(cell: Path, name: str, description: str, fn, checkpoint: str | None = None) -> dict:
    """Run fn() once: its result is kept in CELL/NAME.json and reused when the cell's settings
    are unchanged (checked before any cell runs) and it was computed from the checkpoint there
    now (`checkpoint`: its sha256; the pretraining's record holds it)."""
    marker = cell / f"{name}.json"
    record, why = reusable(cell, name, checkpoint)
    if record is not None:
        log(f"{description}: done before with the same settings, reusing {marker}")
        return record
    if why:
        log(f"{description}: {why}")
    log(f"{description} ...")
    start = time.perf_counter()
    result = fn()
    if checkpoint is not None:
        result["checkpoint_sha256"] = checkpoint
    result["seconds"] = round(time.perf_counter() - start, 1)
    write_text_atomic(marker, json.dumps(result, indent=2) + "\n")
    log(f"{description}: {result['seconds']} s")
    return result


def run(command: list, log_path: Path, env: dict) -> None:
    with open(log_path, "w") as out:
        if subprocess.call([str(c) for c in command], stdout=out, stderr=subprocess.STDOUT, env=env):
            tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-20:])
            raise CellError(f"command failed, log {log_path}:\n{tail}")


def cell_transform(pair: PreparedPair) -> str:
    """A pair's name in cells and tables: its transform, or a natural pair's languages (`en-tr`)."""
    return pair.transform or "-".join(pair.languages)


class Cell:
    def __init__(self, out: Path, objective: str, transform: str, seed: int, k: int, tasks: list):
        self.objective, self.transform, self.seed, self.k = objective, transform, seed, k
        self.tasks = tasks  # the transfer tasks with data for this cell's pair
        self.dir = out / f"{objective}__{transform.replace('+', '_')}__seed{seed}"
        self.name = f"{objective} × {transform} × seed {seed}"


def cell_settings(args, cell: Cell, fingerprints: dict) -> dict:
    return {
        "format": FORMAT,
        "objective": cell.objective,
        "transform": cell.transform,
        "seed": cell.seed,
        "pretrain": args.recipe,
        "finetune": finetune.recipe_settings(args.finetune_recipe, args.finetune_updates),
        "data": {"pair": fingerprints[("pair", cell.k)]},
        "tasks": {t: fingerprints[(t, cell.k)] for t in cell.tasks},
    }


def comparable(old: dict, new: dict) -> tuple[dict, dict]:
    """The records restricted to what both hold: a transfer task may be added to a finished
    cell (or left out of a rerun) without making its other results stale."""
    shared = set(old.get("tasks", {})) & set(new.get("tasks", {}))

    def strip(record: dict) -> dict:
        return {**record, "tasks": {t: record["tasks"][t] for t in sorted(shared)}}

    return strip(old), strip(new)


def differences(old: dict, new: dict, prefix: str = "") -> list:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a} -> {b}")
    return out


def check_out(out: Path, cells: list, wanted: dict) -> None:
    """Refuse, before anything runs, an OUT written by another version or whose cells were
    produced with other settings."""
    manifest = out / "compare.json"
    if manifest.is_file():
        found = json.loads(manifest.read_text()).get("format")
        if found != FORMAT:
            raise SystemExit(
                f"error: {out} was written by another version of compare.py "
                f"(format {found}, this one writes {FORMAT}); use another --out"
            )
    old_cells = (
        [
            d
            for d in out.iterdir()
            if d.is_dir() and (d / "pretrain.json").is_file() and not (d / "cell.json").is_file()
        ]
        if out.is_dir()
        else []
    )
    if old_cells:
        raise SystemExit(
            f"error: {out} holds results of an older compare.py without recorded "
            f"settings ({old_cells[0].name}, ...); they cannot be checked, so they "
            "are not reused: use another --out"
        )
    stale = []
    for cell in cells:
        record = cell.dir / "cell.json"
        if record.is_file():
            diff = differences(*comparable(json.loads(record.read_text()), wanted[cell.dir]))
            if diff:
                stale.append(f"  {cell.dir.name}: " + "; ".join(diff))
    if stale:
        raise SystemExit(
            f"error: {out} holds cells produced with other settings; their results "
            "are not reused and nothing was overwritten. Use another --out, or "
            "remove these cells to recompute them:\n" + "\n".join(stale)
        )


def pretrain(args, cell: Cell, pair: Path, env: dict) -> dict:
    run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "train",
            "--objective",
            cell.objective,
            "--data",
            pair,
            "--save-dir",
            cell.dir / "pretrain",
            "--seed",
            cell.seed,
            *[
                x
                for name, value in args.recipe.items()
                if name in RECIPE_FLAGS or name in RECIPE_GROUPS
                for x in (f"--{name.replace('_', '-')}", value)
            ],
            *(["--unified-output"] if args.recipe.get("unified_output") else []),
            *(
                ["--shared-layers-from", args.recipe["shared_layers_from"]]
                if args.recipe.get("shared_layers_from")
                else []
            ),
            "--save-interval-updates",
            args.recipe["max_update"],
            "--",
            "dataset.validate_interval=100000",
        ],  # validate once, at the end
        cell.dir / "pretrain.stdout",
        env,
    )
    records = read_records(cell.dir / "pretrain" / "train.log", "valid")
    if not records:
        raise CellError(
            f"{cell.dir / 'pretrain' / 'train.log'} holds no validation record: see {cell.dir / 'pretrain.stdout'}"
        )
    valid = records[-1]
    checkpoint = checkpoint_path(cell.dir)
    return {
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": checkpoint_sha256(checkpoint),  # what every later step records
        "valid_mlm_loss": float(valid.get("valid_mlm_loss", valid["valid_loss"])),
    }


def alignment(cell: Cell, pair: Path, env: dict) -> dict:
    out = cell.dir / "alignment_eval.json"
    run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "evaluate-alignment",
            "--checkpoint",
            checkpoint_path(cell.dir),
            "--pair",
            pair,
            "--output",
            out,
        ],
        cell.dir / "alignment.stdout",
        env,
    )
    return json.loads(out.read_text())


def analysis(cell: Cell, pair: Path, pos: Path | None, env: dict) -> dict:
    out = cell.dir / "analysis_eval.json"
    command = [sys.executable, "-m", "alignmlm", "analyze", "--checkpoint", checkpoint_path(cell.dir)]
    command += ["--pair", pair, "--output", out] + (["--pos", pos] if pos is not None else [])
    run(command, cell.dir / "analysis.stdout", env)
    return json.loads(out.read_text())


def analysis_scores(result: dict) -> dict:
    """ANALYSIS_COLUMNS of an `alignmlm analyze` result (probe: None without --pos)."""
    last = result["layers"]["per_layer"][-1]
    probe = result.get("probe", {}).get("per_layer")
    return {
        "procrustes_heldout_p1_nn": result["procrustes"]["after"]["heldout"]["p1_nn"],
        "procrustes_heldout_p1_csls": result["procrustes"]["after"]["heldout"]["p1_csls"],
        "cka_last_layer": last["cka"],
        "sentence_p1_last_layer": last["retrieval_p1_1to2"],
        "probe_transfer_last_layer": probe[-1]["accuracy_2"] if probe else None,
    }


def task_scores(task: str, result: dict) -> dict:
    """The row's B_S, B_Z and delta of a transfer result, in the task's metric (TASK_METRIC):
    NER is scored by entity span F1 as the paper does (its token accuracy stays in ner.json)."""
    scores = result["f1"] if task == "ner" else result
    return {f"{task}_{key}": scores[key] for key in ("B_S", "B_Z", "delta")}


def run_cell(args, cell: Cell, settings: dict, env: dict) -> dict:
    pair = args.pair[cell.k]
    cell.dir.mkdir(parents=True, exist_ok=True)
    record = cell.dir / "cell.json"
    old_tasks = json.loads(record.read_text())["tasks"] if record.is_file() else {}
    write_text_atomic(
        record, json.dumps({**settings, "tasks": {**old_tasks, **settings["tasks"]}}, indent=2) + "\n"
    )
    pre = step(cell.dir, "pretrain", f"{cell.name}: pretrain", lambda: pretrain(args, cell, pair, env))
    sha = pre["checkpoint_sha256"]
    ali = step(cell.dir, "alignment", f"{cell.name}: alignment", lambda: alignment(cell, pair, env), sha)
    from alignmlm.alignment_benchmark import flat_metrics

    scores = flat_metrics(ali)
    row = {
        "objective": cell.objective,
        "transform": cell.transform,
        "seed": cell.seed,
        **{c: scores.get(c) for c in ALIGNMENT_COLUMNS},
        "valid_mlm_loss": pre["valid_mlm_loss"],
    }
    if args.analyze:
        pos = args.pos[cell.k] if "pos" in cell.tasks else None
        res = step(
            cell.dir, "analysis", f"{cell.name}: analysis", lambda: analysis(cell, pair, pos, env), sha
        )
        row.update(analysis_scores(res))
    for task in cell.tasks:
        data = getattr(args, task)[cell.k]

        def fn(task=task, data=data):
            try:
                return finetune.transfer(
                    task,
                    data,
                    pair,
                    Path(pre["checkpoint"]),
                    cell.dir / task,
                    settings["finetune"],
                    cell.seed,
                    env,
                )
            except RuntimeError as err:
                raise CellError(str(err)) from None

        res = step(cell.dir, task, f"{cell.name}: {task.upper()} B_Z / B_S", fn, sha)
        row.update(task_scores(task, res))
    return row


# ---------------------------------------------------------------------------- reporting


def column(runs: list, key: str) -> str:
    return mean_std([r.get(key) for r in runs])


def mean_std(values: list) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.1f} (1)"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f} ({len(values)})"


def cka_column(runs: list) -> str:
    """CKA (in [0, 1]) as mean ± std with three decimals."""
    values = [r["cka_last_layer"] for r in runs if r.get("cka_last_layer") is not None]
    if len(values) > 1:
        return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f} ({len(values)})"
    return f"{values[0]:.3f}" if values else "—"


def mean_of(runs: list, key: str) -> float | None:
    values = [r.get(key) for r in runs if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def group(rows: list) -> dict:
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["objective"], r["transform"]), []).append(r)
    return groups


def paper_order(groups: dict) -> list:
    """The cells' keys in the paper's row order (its objectives, then its transformations); others
    after them, in the order they ran."""
    rank = {cell: i for i, cell in enumerate(paper_results.cells())}
    return sorted(groups, key=lambda cell: rank.get(cell, len(rank)))


def correlation_lines(groups: dict, tasks: list) -> list:
    from alignmlm.correlation import correlate

    lines = []
    for t in tasks:
        for column, label in CORRELATED:
            cells = [
                [
                    (r[column], r.get(f"{t}_delta"))
                    for r in runs
                    if r[column] is not None and r.get(f"{t}_delta") is not None
                ]
                for runs in groups.values()
            ]
            cells = [c for c in cells if c]
            if len(cells) < 3:
                lines.append(
                    f"- {t.upper()}, {label}: a correlation needs at least 3 cells with "
                    f"both figures ({len(cells)} here)"
                )
                continue
            for method in ("spearman", "pearson"):
                lines.append(f"- {t.upper()} Δ vs {label}: {correlate(cells, method).describe()}")
    return lines


def triple(runs: list, task: str) -> str:
    """'B_S / B_Z / Δ ± std' of a cell's seed means, as the paper's table prints a task."""
    if mean_of(runs, f"{task}_delta") is None:
        return "—"
    deltas = [r[f"{task}_delta"] for r in runs if r.get(f"{task}_delta") is not None]
    spread = f" ± {np.std(deltas, ddof=1):.1f}" if len(deltas) > 1 else ""
    return (
        f"{mean_of(runs, f'{task}_B_S'):.1f} / {mean_of(runs, f'{task}_B_Z'):.1f} / "
        f"{np.mean(deltas):.1f}{spread}"
    )


def paper_shape_lines(groups: dict, tasks: list) -> list:
    """The table in the paper's shape (objective x transformation rows; per task B_S / B_Z / Δ;
    alignment P@1), and beside each row the paper's own figures where it has the cell."""
    order = [t for t in paper_results.TASKS if t in tasks] + [
        t for t in tasks if t not in paper_results.TASKS
    ]
    heads = "".join(f" {t.upper()} B_S / B_Z / Δ |" for t in order)
    lines = [
        "In the paper's shape (cell means over seeds; Δ ± its std over seeds; "
        + "; ".join(f"{t.upper()}: {TASK_METRIC[t]}" for t in order)
        + "). Below each row, in italics, the paper's figures for that cell (its Table; "
        "500k updates of an 8-layer model on Wikipedia, XNLI/WikiANN/UD data).",
        "",
        f"| objective | transform |{heads} P@1 paper protocol | held-out P@1 NN |",
        "|---|---|" + "---|" * (len(order) + 2),
    ]
    for cell in paper_order(groups):
        runs = groups[cell]
        cols = "".join(f" {triple(runs, t)} |" for t in order)
        lines.append(
            f"| {cell[0]} | {cell[1]} |{cols} {column(runs, 'paper_p1_nn')} | {column(runs, 'heldout_p1_nn')} |"
        )
        if cell in paper_results.TRANSFER:
            paper = "".join(
                " *{:.1f} / {:.1f} / {:.1f}* |".format(*paper_results.scores(*cell, t))
                if paper_results.scores(*cell, t)
                else " |"
                for t in order
            )
            lines.append(f"| | *paper* |{paper} *{paper_results.ALIGNMENT_P1[cell]:.1f}* | |")
    return lines


def ordering_lines(groups: dict, tasks: list) -> list:
    """Where the objectives' order by Δ (within one transformation) agrees with the paper's."""
    lines = []
    transforms = sorted({t for _, t in groups}, key=lambda t: (t not in paper_results.TRANSFORMS, t))
    for task in [t for t in paper_results.TASKS if t in tasks]:
        for transform in transforms:
            ours = {
                o: mean_of(runs, f"{task}_delta")
                for (o, t), runs in groups.items()
                if t == transform and mean_of(runs, f"{task}_delta") is not None
            }
            theirs = {o: paper_results.scores(o, transform, task) for o in ours}
            theirs = {o: s[2] for o, s in theirs.items() if s is not None}
            if len(ours) < 2 or len(theirs) < 2:
                continue
            rank_ours = sorted(ours, key=lambda o: -ours[o])
            rank_paper = sorted(theirs, key=lambda o: -theirs[o])
            shared = [o for o in rank_ours if o in theirs]
            # pairs the paper orders (a tie in the paper has no order to agree with)
            pairs = [(a, b) for i, a in enumerate(shared) for b in shared[i + 1 :] if theirs[a] != theirs[b]]
            agree = sum((theirs[a] - theirs[b]) * (ours[a] - ours[b]) > 0 for a, b in pairs)
            lines.append(
                f"- {task.upper()} {transform}: smallest gap first, ours {' > '.join(rank_ours)}; "
                f"paper {' > '.join(rank_paper)} ({agree} of {len(pairs)} pairs of objectives in "
                "the paper's order)"
            )
    return lines


def natural_note(natural: list) -> str:
    """What results.md says of natural pairs' rows (NATURAL: their names, e.g. en-tr)."""
    return (
        f"Natural pairs ({', '.join(natural)}): language 2 is a language of its own, not one of the "
        "paper's transformations, so these rows are never compared with the paper's figures: they "
        "are left out of the table in the paper's shape and of the order against the paper. Their "
        "P@1 by the paper's protocol is undefined (it needs a script change); in the correlation "
        "they count with held-out P@1 only, pooled with any synthetic cells."
    )


def collect(out: Path, rows: list, tasks: list, seeds: list, natural: frozenset = frozenset()) -> None:
    """results.csv, results.md and the plot of ROWS; NATURAL: the transform names of natural
    pairs (cell_transform), whose rows get no paper figures."""
    fields = (
        ["objective", "transform", "seed"]
        + [f"{t}_{k}" for t in tasks for k in ("B_S", "B_Z", "delta")]
        + ALIGNMENT_COLUMNS
        + ["valid_mlm_loss"]
        + (ANALYSIS_COLUMNS if any("cka_last_layer" in r for r in rows) else [])
    )

    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "results.csv", table.getvalue())
    groups = group(rows)
    heads = "".join(f" {t.upper()} B_S | {t.upper()} B_Z | {t.upper()} Δ |" for t in tasks)
    metrics = "".join(f"; {t.upper()}: {TASK_METRIC[t]}" for t in tasks)
    lines = [
        f"Mean ± std (n seeds) over seeds {','.join(map(str, seeds))}; scores and P@1 in %{metrics}.",
        "",
        f"| objective | transform |{heads} P@1 paper protocol | held-out P@1 NN | "
        "held-out P@1 CSLS | MLM valid loss |",
        "|---|---|" + "---|" * (3 * len(tasks) + 4),
    ]
    for (objective, transform), runs in groups.items():
        scores = "".join(f" {column(runs, f'{t}_{key}')} |" for t in tasks for key in ("B_S", "B_Z", "delta"))
        loss = [r["valid_mlm_loss"] for r in runs]
        loss_text = f"{np.mean(loss):.3f} ± {np.std(loss, ddof=1):.3f}" if len(loss) > 1 else f"{loss[0]:.3f}"
        lines.append(
            f"| {objective} | {transform} |{scores} {column(runs, 'paper_p1_nn')} | "
            f"{column(runs, 'heldout_p1_nn')} | {column(runs, 'heldout_p1_csls')} | {loss_text} |"
        )
    if "cka_last_layer" in fields:
        lines += [
            "",
            "Analysis (alignmlm analyze, docs/analysis.md): held-out P@1 after an orthogonal map fit "
            "on the training pairs; at the last layer, linear CKA and sentence retrieval P@1 (1→2) on "
            "the parallel validation sentences, and the UPOS probe fit on language 1, scored on 2:",
            "",
            "| objective | transform | Procrustes P@1 NN | Procrustes P@1 CSLS | CKA | sentence P@1 | "
            "probe on language 2 |",
            "|---|---|---|---|---|---|---|",
            *(
                f"| {objective} | {transform} | "
                + " | ".join(
                    column(runs, c) if c != "cka_last_layer" else cka_column(runs) for c in ANALYSIS_COLUMNS
                )
                + " |"
                for (objective, transform), runs in groups.items()
            ),
        ]
    shown_natural = [t for t in dict.fromkeys(t for _, t in groups) if t in natural]
    if shown_natural:
        lines += ["", natural_note(shown_natural)]
    lines += [
        "",
        "Correlation of alignment with Δ = B_Z − B_S across cells (cell means; 95 % "
        "bootstrap interval over cells and seeds; positive: better alignment, smaller "
        "transfer gap — the paper's sign):",
        *correlation_lines(groups, tasks),
    ]
    synthetic = {cell: runs for cell, runs in groups.items() if cell[1] not in natural}
    if synthetic and (len({t for _, t in groups}) > 1 or len(tasks) > 1):  # a grid: the paper's table too
        lines += ["", *paper_shape_lines(synthetic, tasks)]
        ordering = ordering_lines(synthetic, tasks)
        if ordering:
            lines += ["", "The objectives' order by Δ against the paper's:", *ordering]
    write_text_atomic(out / "results.md", "\n".join(lines) + "\n")
    plot(out / "alignment_vs_transfer.png", groups, tasks)


def plot(path: Path, groups: dict, tasks: list) -> None:
    import logging

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # fairseq's imports set DEBUG
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column, label = next(
        (
            (c, name)
            for c, name in CORRELATED
            if all(r[c] is not None for runs in groups.values() for r in runs)
        ),
        CORRELATED[-1],
    )
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for t, marker in zip(tasks, "os^"):
        for (objective, transform), runs in groups.items():
            runs = [r for r in runs if r.get(f"{t}_delta") is not None]
            if not runs:  # no data for this task on this pair
                continue
            x = [r[column] for r in runs]
            y = [r[f"{t}_delta"] for r in runs]
            ax.errorbar(
                np.mean(x),
                np.mean(y),
                xerr=np.std(x, ddof=1) if len(x) > 1 else None,
                yerr=np.std(y, ddof=1) if len(y) > 1 else None,
                fmt=marker,
                capsize=3,
            )
            ax.annotate(
                f"{objective} ({transform})" + (f" {t.upper()}" if len(tasks) > 1 else ""),
                (np.mean(x), np.mean(y)),
                fontsize=8,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.axhline(0, color="grey", lw=0.5)
    ax.margins(0.2)  # room for the labels
    ax.set_xlabel(f"{label} (%)")
    ax.set_ylabel(f"Δ = B_Z − B_S, {' / '.join(t.upper() for t in tasks)} (points; 0 = no gap)")
    ax.set_title("Alignment against the zero-shot transfer gap\n(mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------- driver


def plot_cell_layers(path: Path, cells: list) -> None:
    """analyze's per-layer figures, one line per objective x pair (the mean over its seeds)."""
    from alignmlm.cli.analyze import plot_layers

    by_line: dict = {}
    for cell in cells:
        result = json.loads((cell.dir / "analysis.json").read_text())
        by_line.setdefault(f"{cell.objective} ({cell.transform})", []).append(result)
    plot_layers(path, {label: mean_layers(results) for label, results in by_line.items()})


def mean_layers(results: list) -> dict:
    """The per-layer figures of several analyze results (seeds), averaged layer by layer."""
    mean = {}
    for group in ("layers", "probe"):
        if all(group in r for r in results):
            rows = [r[group]["per_layer"] for r in results]
            mean[group] = {
                "per_layer": [
                    {key: float(np.mean([run[k][key] for run in rows])) for key in rows[0][k]}
                    for k in range(len(rows[0]))
                ]
            }
    return mean


def finished(cell: Cell) -> bool:
    """Every step's result is there and was computed from the cell's checkpoint."""
    pre, _ = reusable(cell.dir, "pretrain")
    return pre is not None and all(
        reusable(cell.dir, name, pre["checkpoint_sha256"])[0] is not None
        for name in ["alignment", *cell.tasks]
    )


def run_on_slurm(args, argv: list, cells: list) -> bool:
    """Submit each unfinished cell as a job running this command with --only-cell; True when
    every cell has finished and the results can be collected."""
    jobs = {}
    for cell in cells:
        if not finished(cell):
            cell.dir.mkdir(exist_ok=True)
            command = [sys.executable, Path(__file__).resolve(), *argv, "--only-cell", cell.dir.name]
            jobs[cell.dir.name] = slurm_cells.submit(cell.dir, command, args.slurm_args, log)
    if jobs and not args.wait:
        log(
            f"{len(jobs)} cells queued or running on SLURM; run this command again when they "
            "have ended to collect the results (or pass --wait)"
        )
        return False
    slurm_cells.wait(jobs, log)
    failed = [cell for cell in cells if not finished(cell)]
    if failed:
        raise SystemExit(
            "error: these cells' jobs ended without finishing them; see their logs "
            "and run again to resubmit: "
            + ", ".join(f"{c.dir.name} ({c.dir}/slurm-{jobs[c.dir.name]}.out)" for c in failed)
        )
    return True


class Progress:
    """One line per finished cell: how many are done, the time so far and an estimate of the rest
    (the mean time of the cells done so far, over the cells still to run, side by side)."""

    def __init__(self, total: int):
        self.total, self.done, self.start = total, 0, time.perf_counter()
        self.lock = threading.Lock()

    def track(self, cell: Cell, fn, *args):
        try:
            return fn(*args)
        finally:
            with self.lock:
                self.done += 1
                elapsed = time.perf_counter() - self.start
                left = elapsed / self.done * (self.total - self.done)
                log(
                    f"{self.done}/{self.total} cells done ({cell.name} ended); {elapsed / 60:.1f} min "
                    f"so far, about {left / 60:.0f} min to go"
                )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--pair",
        type=Path,
        action="append",
        required=True,
        help="prepared pair directory, synthetic or natural (repeat for several transforms or pairs)",
    )
    for task, what in (("pos", "POS"), ("ner", "NER"), ("nli", "NLI")):
        p.add_argument(
            f"--{task}",
            type=Path,
            action="append",
            help=f"{what} directory of each --pair, in the same order ({TASK_PREPARE[task]}); "
            f"'{NO_DATA}' for a pair without {what} data (e.g. text without trees for syn); "
            f"without --{task}, no {what}",
        )
    p.add_argument(
        "--objectives",
        default="mlm,align_mlm,xlm,dict_mlm",
        help="comma-separated objectives (alignmlm train names)",
    )
    p.add_argument(
        "--seeds",
        default="1",
        help="comma-separated seeds, each a pretraining and fine-tuning run of every cell (e.g. 1,2,3)",
    )
    p.add_argument("--jobs", type=int, default=1, help="cells run side by side on this machine")
    p.add_argument("--out", type=Path, required=True, help="results directory")
    train.add_setting_flags(p, RECIPE_FLAGS)  # as alignmlm train's, for every cell
    p.add_argument("--unified-output", action="store_true", help=train.UNIFIED_OUTPUT_HELP + " (every cell)")
    p.add_argument(
        "--shared-layers-from",
        type=int,
        default=0,
        metavar="K",
        help=train.SHARED_LAYERS_HELP + " (every cell)",
    )
    for group, what in (
        ("run", "devices of each cell's pretraining (e.g. gpu1 on a SLURM GPU node)"),
        ("size", "the paper's model, batch and schedule for every cell (default: the tiny CPU recipe)"),
        ("precision", "fp16 / bf16 / amp / fp32 on GPUs (default: the run config's)"),
    ):
        p.add_argument(f"--{group}", choices=choices(group), help=f"configs/{group}/: {what}")
    p.add_argument(
        "--finetune-recipe",
        default="quick",
        choices=sorted(finetune.RECIPES),
        help="alignmlm finetune's recipe: quick (CPU demo) or paper",
    )
    p.add_argument(
        "--finetune-updates",
        type=int,
        help="quick recipe: fine-tuning updates per run (default: the recipe's "
        f"{finetune.RECIPES['quick'].updates})",
    )
    p.add_argument(
        "--analyze",
        action="store_true",
        help="also run alignmlm analyze on every cell (post-hoc Procrustes P@1, CKA and sentence "
        "retrieval by layer, the UPOS probe across languages with --pos): a table in results.md, "
        "columns in results.csv, OUT/layers.png with one line per objective",
    )
    p.add_argument(
        "--slurm",
        action="store_true",
        help="submit each unfinished cell as a SLURM job instead of running it here",
    )
    p.add_argument(
        "--slurm-args",
        default="",
        help="sbatch options for each cell's job, one value, e.g. --slurm-args "
        '"--partition=gpu --gpus=1 --time=12:00:00" (a value starting with a dash is taken as it is)',
    )
    p.add_argument("--wait", action="store_true", help="with --slurm: wait for the jobs, then collect")
    p.add_argument(
        "--only-cell",
        metavar="NAME",
        help="run one cell (OBJECTIVE__TRANSFORM__seedS) and do not collect; what each SLURM job runs",
    )
    return p


@reported
def main(argv=None) -> int:
    argv = slurm_args_value(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(argv)
    tasks = [t for t in TASK_FILES if getattr(args, t)]
    for t in tasks:
        if len(getattr(args, t)) != len(args.pair):
            raise SystemExit(
                f"error: {len(getattr(args, t))} --{t} for {len(args.pair)} --pair: give one --{t} "
                f"for each --pair, in the same order ('{NO_DATA}' where a pair has no {t.upper()} data)"
            )
        setattr(args, t, [None if str(d) == NO_DATA else d for d in getattr(args, t)])
    if args.out.exists() and not args.out.is_dir():
        raise SystemExit(f"error: --out {args.out} is a file; give a directory (it is created if missing)")
    seeds = parse_seeds(args.seeds)
    objectives = parse_objectives(args.objectives)
    if args.jobs < 1:
        raise SystemExit(f"error: --jobs must be at least 1, got {args.jobs}")
    if args.slurm and not args.only_cell:
        try:
            shlex.split(args.slurm_args)
        except ValueError as err:
            raise SystemExit(
                f"error: --slurm-args {args.slurm_args!r}: {err}; quote it as for a shell"
            ) from None
        if shutil.which("sbatch") is None:
            raise SystemExit(
                "error: --slurm: sbatch not found; run this on a SLURM login node (or leave out --slurm)"
            )
    fingerprints, cells, pair_of_transform, pairs = {}, [], {}, []
    for k, pair in enumerate(args.pair):
        try:
            prepared = PreparedPair.load(pair)
        except PairError as err:
            raise SystemExit(f"error: --pair {err}") from None
        transform = cell_transform(prepared)
        if transform in pair_of_transform:  # its cells would be the other pair's directories
            raise SystemExit(
                f"error: --pair {pair} and --pair {pair_of_transform[transform]} are both "
                f"{transform!r}: a cell is objective x transform x seed, so the second pair's "
                "results would be the first's; compare them in separate --out directories"
            )
        pair_of_transform[transform] = pair
        fingerprints[("pair", k)] = prepared.fingerprint()
        pairs.append(prepared)
        with_data = [t for t in tasks if getattr(args, t)[k] is not None]
        cells += [Cell(args.out, o, transform, s, k, with_data) for o in objectives for s in seeds]
    for k, prepared in enumerate(pairs):  # every pair first: a clash of two pairs is the first problem
        for t in tasks:
            data = getattr(args, t)[k]
            if data is None:
                continue
            if not data.is_dir():
                raise SystemExit(f"error: --{t} {data}: directory not found")
            try:
                warning = check_matches_pair(data, prepared)
            except ValueError as err:
                raise SystemExit(f"error: --{t} {err}") from None
            check_task_data(t, data)
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
            fingerprints[(t, k)] = fingerprint(data)
    if args.only_cell:
        cells = [c for c in cells if c.dir.name == args.only_cell]
        if not cells:
            raise SystemExit(f"error: --only-cell {args.only_cell}: no such cell in this grid")
    args.recipe = pretraining_recipe(args)
    wanted = {c.dir: cell_settings(args, c, fingerprints) for c in cells}
    check_out(args.out, cells, wanted)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "compare.json", json.dumps({"format": FORMAT}) + "\n")
    if not args.only_cell and args.slurm and not run_on_slurm(args, argv, cells):
        return 0

    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    progress = Progress(len(cells))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [(c, pool.submit(progress.track, c, run_cell, args, c, wanted[c.dir], env)) for c in cells]
    rows, failures = [], []
    for cell, future in futures:
        try:
            rows.append(future.result())
        except CellError as err:
            failures.append(f"{cell.name}: {err}")
    if failures:
        raise SystemExit(
            "error: some cells failed (the others are kept; run again to retry):\n" + "\n".join(failures)
        )
    if args.only_cell:
        return 0
    collect(args.out, rows, tasks, seeds, frozenset(cell_transform(p) for p in pairs if p.transform is None))
    if args.analyze:
        plot_cell_layers(args.out / "layers.png", cells)
    print((args.out / "results.md").read_text())
    print(
        f"results: {args.out / 'results.csv'}, {args.out / 'results.md'}, "
        f"{args.out / 'alignment_vs_transfer.png'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
