"""Reading plain-text corpora (one sentence per line) with errors that name file and line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from alignmlm.data.text_file import read_utf8

from ..errors import InputError


def read_sentences(path: Path) -> list[str]:
    """The non-blank lines of a UTF-8 file, stripped. Blank lines are skipped."""
    text = read_utf8(path, "corpus")
    sentences = [line.strip() for line in text.splitlines()]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise InputError(f"{path}: corpus is empty (no non-blank lines)")
    return sentences


def valid_mask(n_lines: int, valid_size: int, seed: int) -> np.ndarray:
    """Boolean mask of the lines held out for validation: a seeded random min(valid_size,
    n_lines // 10) lines, at least one, and never all of them."""
    if n_lines < 2:
        raise InputError(f"need at least 2 sentences to split train/valid, got {n_lines}")
    n_valid = max(1, min(valid_size, n_lines // 10))
    mask = np.zeros(n_lines, dtype=bool)
    mask[np.random.default_rng(seed).choice(n_lines, size=n_valid, replace=False)] = True
    return mask


def fingerprint(path: Path, edge_bytes: int = 4 << 20) -> str:
    """Cheap identity of an input file: its size and a hash of its first and last 4 MB."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(edge_bytes))
        if size > 2 * edge_bytes:
            f.seek(size - edge_bytes)
        digest.update(f.read(edge_bytes))
    return f"{size}:{digest.hexdigest()[:16]}"
