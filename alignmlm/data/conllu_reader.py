"""Reading CoNLL-U files with errors that name file and line."""
from pathlib import Path

import conllu

from .text_file import read_utf8
from ..errors import InputError


def parse_conllu(path: Path) -> list:
    """Sentences of a CoNLL-U file; a malformed line is an error naming file and line."""
    text = read_utf8(path, "CoNLL-U file")
    for lineno, line in enumerate(text.splitlines(), 1):
        if line and not line.startswith("#") and len(line.split("\t")) != 10:
            raise InputError(f"{path}:{lineno}: expected 10 tab-separated CoNLL-U columns, got "
                             f"{len(line.split(chr(9)))}: {line[:80]!r}")
    try:
        return conllu.parse(text)
    except conllu.exceptions.ParseException as err:
        raise InputError(f"{path}: malformed CoNLL-U: {err}") from None


def tagged_words(path: Path, column: str = "upos") -> list:
    """[(words, labels)] of a CoNLL-U file; multi-word ranges and empty nodes skipped."""
    sentences = []
    for sentence in parse_conllu(path):
        words = [t for t in sentence if isinstance(t["id"], int)]
        sentences.append(([t["form"] for t in words], [t[column] or "_" for t in words]))
    return sentences
