"""Sentence-aligned parallel text: two files, line k of one the translation of line k of the
other, or one TSV file, `source<TAB>target` per line. The first file (the first column) is the
source side, the second its translation; callers keep the order the user gave.

Lines are split at '\\n' only (a trailing '\\r' is dropped), so line k is what `sed -n kp` shows:
Unicode line separators inside a sentence do not shift the alignment. Surrounding whitespace is
stripped. Every line must hold a sentence on both sides: an empty line, files of different
lengths, a TSV line without exactly one tab or a byte that is not UTF-8 is an InputError naming
the file and the line, since any of them would silently pair sentences that are not translations.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .text_file import read_utf8

WHAT = "parallel text"  # how read_utf8's errors name these files


def file_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 file, '\r\n' read as '\n' (a final newline ends the last line, it
    opens none)."""
    lines = read_utf8(path, WHAT).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def empty_line(path: Path, lineno: int, partner: str) -> InputError:
    return InputError(
        f"{path}:{lineno}: empty line in {WHAT}; every line must hold a sentence and {partner}: "
        "remove the pair from both sides"
    )


def read_file_pair(source: Path, target: Path) -> list[tuple[str, str]]:
    """(sentence, translation) of line k of SOURCE and line k of TARGET, for every line."""
    source, target = Path(source), Path(target)
    sides = [line.strip() for line in file_lines(source)], [line.strip() for line in file_lines(target)]
    if len(sides[0]) != len(sides[1]):
        shorter, longer = (target, source) if len(sides[0]) > len(sides[1]) else (source, target)
        first_alone = min(map(len, sides)) + 1
        raise InputError(
            f"{WHAT} {source} has {len(sides[0])} lines, {target} has {len(sides[1])}: line "
            f"{first_alone} of {longer} has no partner in {shorter}; the files must be "
            "sentence-aligned (line k of one the translation of line k of the other)"
        )
    if not sides[0]:
        raise InputError(f"{WHAT} {source} and {target} are empty")
    for path, lines, partner in ((source, sides[0], target), (target, sides[1], source)):
        for lineno, line in enumerate(lines, 1):
            if not line:
                raise empty_line(path, lineno, f"its translation is line {lineno} of {partner}")
    return list(zip(*sides))


def read_tsv(path: Path) -> list[tuple[str, str]]:
    """(sentence, translation) of every `source<TAB>target` line of PATH."""
    path = Path(path)
    pairs = []
    for lineno, line in enumerate(file_lines(path), 1):
        if not line.strip():
            raise empty_line(path, lineno, "its translation, separated by one tab")
        fields = line.split("\t")
        if len(fields) != 2:
            raise InputError(
                f"{path}:{lineno}: expected 'source<TAB>target' (exactly one tab), got "
                f"{len(fields) - 1} tabs: {line.strip()[:80]!r}"
            )
        source, target = (f.strip() for f in fields)
        for side, text in (("source (before the tab)", source), ("target (after the tab)", target)):
            if not text:
                raise InputError(
                    f"{path}:{lineno}: the {side} is empty; every line must hold a sentence and "
                    "its translation"
                )
        pairs.append((source, target))
    if not pairs:
        raise InputError(f"{WHAT} {path} is empty")
    return pairs


def read_parallel(paths: list[Path]) -> list[tuple[str, str]]:
    """The sentence pairs of one TSV file or of two aligned files, in file order."""
    if len(paths) == 1:
        return read_tsv(paths[0])
    if len(paths) == 2:
        return read_file_pair(*paths)
    raise InputError(f"{WHAT}: give one TSV file or two aligned files, got {len(paths)} files")
