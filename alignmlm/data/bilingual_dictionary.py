"""Bilingual dictionaries in MUSE format: one `word translation` pair per line.

Used by data_prep (coverage, train/held-out split) and by the training objectives (ALIGN-MLM's
loss, DICT-MLM's substitutions).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import InputError
from .text_file import read_utf8

logger = logging.getLogger(__name__)


def read_word_pairs(path: Path | str) -> list[tuple[str, str]]:
    """Pairs of a MUSE-format file in file order; blank lines skipped; anything but two fields is
    an error. A pair repeated on a later line is dropped (and the count logged): it would
    weigh twice in the losses and in the held-out scores."""
    pairs: dict[tuple[str, str], int] = {}  # pair -> first line
    duplicates = []
    for lineno, line in enumerate(read_utf8(path, "bilingual dictionary").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise InputError(
                f"{path}:{lineno}: expected 2 whitespace-separated fields 'word translation', "
                f"got {len(fields)}: {line.strip()[:80]!r}"
            )
        pair = (fields[0], fields[1])
        if pair in pairs:
            duplicates.append((lineno, pair))
        else:
            pairs[pair] = lineno
    if not pairs:
        raise InputError(f"{path}: bilingual dictionary is empty")
    if duplicates:
        lineno, pair = duplicates[0]
        logger.info(
            "%s: %d duplicate line(s) dropped (e.g. line %d, %r, first on line %d)",
            path,
            len(duplicates),
            lineno,
            " ".join(pair),
            pairs[pair],
        )
    return list(pairs)


def write_word_pairs(path: Path | str, pairs) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{a} {b}\n" for a, b in pairs)
