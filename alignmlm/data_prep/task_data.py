"""What the task-data converters (prepare_pos, prepare_nli) share: the flags of the derived
language and of the output folder, and how they fail (a message naming the file, status 2)."""

import argparse
import sys
from pathlib import Path


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
    return 0
