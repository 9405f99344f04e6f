"""Reading plain-text corpora (one sentence per line) with errors that name file and line; the
identity of input files (a full content hash) and the checks of the paths a command is given."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError, describe_os_error
from ..safe_files import file_sha256


def iter_lines(path: Path, bar=None) -> Iterator[str]:
    """The non-blank lines of a UTF-8 file, stripped (lines split where str.splitlines splits),
    read one line at a time: any size in little memory. A bad byte names file, line and column.
    BAR (a tqdm progress bar), if given, counts the bytes read."""
    pending = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(
                    f"{path}:{number}: corpus is not valid UTF-8 (byte 0x{raw[err.start]:02x} at "
                    f"column {err.start + 1}); convert it first, e.g. iconv -f latin1 -t utf-8"
                ) from None
            if bar is not None:
                pending += len(raw)
                if pending > 1 << 22:
                    bar.update(pending)
                    pending = 0
            for line in text.splitlines():
                line = line.strip()
                if line:
                    yield line
    if bar is not None:
        bar.update(pending)


def read_sentences(path: Path, flag: str = "--corpus") -> list[str]:
    """The non-blank lines of a UTF-8 file, stripped (iter_lines). Blank lines are skipped."""
    if not path.is_file():
        raise InputError(f"{path}: corpus not found")
    sentences = list(iter_lines(path))
    if not sentences:
        raise InputError(f"{flag} {path}: corpus is empty (no non-blank lines)")
    return sentences


def valid_mask(n_lines: int, valid_size: int, seed: int, where: str = "the corpus") -> np.ndarray:
    """Boolean mask of the lines held out for validation: a seeded random min(valid_size,
    n_lines // 10) lines, at least one, and never all of them."""
    if n_lines < 2:
        raise InputError(
            f"{where} has {n_lines} sentence: its train split would be empty (one sentence goes "
            "to validation); give a corpus of at least 2 sentences"
        )
    n_valid = max(1, min(valid_size, n_lines // 10))
    mask = np.zeros(n_lines, dtype=bool)
    mask[np.random.default_rng(seed).choice(n_lines, size=n_valid, replace=False)] = True
    return mask


def fingerprint(path: Path) -> str:
    """Identity of an input file: 'sha256:' and the sha256 of its whole content, read in 1 MB
    chunks. The content alone, so another spelling of the path (relative, a symlink) is the
    same input, and any edit, anywhere, is another."""
    return f"sha256:{file_sha256(path)}"


def check_input_file(path: Path, flag: str) -> None:
    """An input named by FLAG must be an existing, readable file (one line naming the flag)."""
    if path.is_dir():
        raise InputError(f"{flag} {path} is a directory; give the file itself")
    if not path.is_file():
        raise InputError(f"{flag} {path}: input file not found; check the path")
    if not os.access(path, os.R_OK):
        raise InputError(f"{flag} {path}: no permission to read it; fix its permissions")


def input_fingerprint(path: Path, flag: str) -> str:
    """fingerprint(path), with an OS error naming the flag."""
    check_input_file(path, flag)
    try:
        return fingerprint(path)
    except OSError as err:
        raise InputError(f"{flag} {path}: cannot read it ({describe_os_error(err)})") from None


def make_output_dir(path: Path, flag: str = "--out") -> None:
    """Create the output directory named by FLAG (and its parents) and check that it can be
    written; one line naming the flag when it is a file, under a file, or not writable."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {path} is a file, not a directory; give a directory path")
    for parent in path.parents:  # mkdir would blame the file with "File exists"
        if parent.exists():
            if not parent.is_dir():
                raise InputError(
                    f"{flag} {path}: {parent} is a file, not a directory; give a path under a directory"
                )
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{flag} {path}: cannot create the directory ({describe_os_error(err)})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(
            f"{flag} {path}: no permission to write in it; choose a directory you can write or fix "
            "its permissions"
        )
