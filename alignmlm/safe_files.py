"""Writes that cannot leave a half-written product behind: a file is written beside its target and
renamed over it (atomic on POSIX file systems); a directory of products is built in a hidden
staging directory next to it and moved in only once everything succeeded. A run that fails or is
killed leaves the previous products as they were (and at most a staging directory, which the
next run removes)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path


def write_text_atomic(path: Path | str, text: str) -> None:
    """Write `text` to `path` (UTF-8) so that readers see the old file or the new, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def staging_path(out: Path) -> Path:
    """The staging directory of `out`: hidden, inside it, so on the same file system."""
    return out / ".partial"


@contextmanager
def staged(out: Path):
    """Yield an empty staging directory for the entries of `out`; when the block succeeds, move
    each entry into `out` (replacing an entry of the same name, nothing else), else remove it."""
    out.mkdir(parents=True, exist_ok=True)
    staging = staging_path(out)
    if staging.exists():  # left by a run that was killed
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        yield staging
        for entry in sorted(staging.iterdir()):
            target = out / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
