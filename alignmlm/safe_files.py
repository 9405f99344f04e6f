"""Files that cannot be lost, half-written or mistaken for others.

- Writes: a file is written beside its target and renamed over it (atomic on POSIX file
  systems); a directory of products is built in a hidden staging directory and moved in only once
  everything succeeded. A run that fails or is killed leaves the previous products as they were
  (and at most a staging directory, which the next run removes).
- One writer per output directory: `exclusive` (a lock on the directory itself, no file added).
- Identity: `file_sha256`, the whole content read in chunks (constant memory, any size).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError

CHUNK = 1 << 20  # bytes read per step when hashing


def file_sha256(path: Path | str) -> str:
    """The sha256 (hex) of a file's whole content, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def exclusive(directory: Path, flag: str = "--out"):
    """Hold `directory` (given by option `flag`) for this run: a second run on it stops at once
    with one line instead of removing the first one's work in progress. An advisory lock on the
    directory itself, released on any exit; it adds no file."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"{flag} {directory}: another run is writing this directory; wait for it or choose "
                f"another {flag}"
            ) from None
        yield
    finally:
        os.close(fd)


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
