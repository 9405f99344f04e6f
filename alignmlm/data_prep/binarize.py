"""Binarizing piece text with the real fairseq-preprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def fairseq_preprocess(args: list[str], log_name: str) -> float:
    """Run fairseq-preprocess with `args`; returns its wall time. Its output goes to the log
    file in the destination directory; on failure the tail of that log is in the error."""
    dest = Path(args[args.index("--destdir") + 1])
    dest.mkdir(parents=True, exist_ok=True)
    log_path = dest / log_name
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "fairseq_cli.preprocess", *args], stdout=log, stderr=subprocess.STDOUT
        )
    if proc.returncode != 0:
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise RuntimeError(f"fairseq-preprocess failed (log: {log_path}):\n{tail}")
    return time.perf_counter() - start


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link (same bytes, no extra disk) where possible, else copy."""
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
