"""What the task-data converters (prepare_pos, prepare_nli) share: the flags of the derived
language and of the output folder, how they fail (a message naming the file, status 2), and the
record of the transform they applied, which fine-tuning checks against the pretraining pair."""

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError

RECORD = "task_data.json"  # {"transform": ..., "seed": ...} of the derived splits


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """--transform, --seed, --out and --overwrite; the converter adds its inputs."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transform", required=True, help="e.g. trans+inv (as for prepare_pair)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--seed", type=int, default=1, help="seed of perm (as for prepare_pair)")
    p.add_argument("--overwrite", action="store_true", help="replace files in --out")
    return p


def write_splits(args: argparse.Namespace, write) -> int:
    """Run write(args) into args.out unless it holds files and --overwrite is not given; a bad
    input file (ValueError, FileNotFoundError) is reported, not raised. Exit status."""
    if args.out.exists() and any(args.out.iterdir()) and not args.overwrite:
        print(f"error: {args.out} is not empty; pass --overwrite to replace its files", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        write(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    (args.out / RECORD).write_text(json.dumps({"transform": args.transform, "seed": args.seed}) + "\n")
    return 0


def check_matches_pair(data: Path, pair) -> str | None:
    """Refuse (ValueError) task data derived with another transform or seed than the prepared
    `pair` the model was pretrained on: its "derived language" would not be the model's. Returns
    a warning for data without a record (made by hand or by an older version), else None."""
    record_path = data / RECORD
    if not record_path.is_file():
        return f"{data} has no {RECORD}: its transform cannot be checked against {pair.root}"
    record = json.loads(record_path.read_text())
    wanted = {"transform": pair.transform, "seed": pair.settings.get("seed")}
    differ = [
        f"{key} {record.get(key)} (the pair's: {wanted[key]})"
        for key in wanted
        if record.get(key) != wanted[key]
    ]
    if pair.transform is not None and differ:
        raise InputError(
            f"{data} was derived with {'; '.join(differ)}: its derived language is not the one "
            f"{pair.root} pretrains on; prepare it again with the pair's --transform and --seed"
        )
    return None
