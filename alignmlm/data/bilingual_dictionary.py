"""Bilingual dictionaries in MUSE format: one `word translation` pair per line.

Used by data_prep (coverage, train/held-out split) and by the training objectives (ALIGN-MLM's
loss, DICT-MLM's substitutions).
"""
from __future__ import annotations

from pathlib import Path

from .text_file import read_utf8
from ..errors import InputError


def read_word_pairs(path: Path | str) -> list[tuple[str, str]]:
    """Pairs of a MUSE-format file; blank lines skipped; anything but two fields is an error."""
    pairs = []
    for lineno, line in enumerate(read_utf8(path, "bilingual dictionary").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise InputError(
                f"{path}:{lineno}: expected 2 whitespace-separated fields 'word translation', "
                f"got {len(fields)}: {line.strip()[:80]!r}"
            )
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise InputError(f"{path}: bilingual dictionary is empty")
    return pairs


def write_word_pairs(path: Path | str, pairs) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{a} {b}\n" for a, b in pairs)
