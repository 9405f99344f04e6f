"""NER files: WikiANN / PAN-X (`lang:word<TAB>TAG` per line, blank line between sentences;
the `lang:` prefix is stripped) and CoNLL-2003 column files (`word POS chunk TAG`: the word is the
first column, the entity tag the last; `-DOCSTART-` lines are skipped), told apart by content: a
line holding a tab with two fields is WikiANN-style, space-separated columns are CoNLL. Our own
`.ner` files (`word<TAB>tag`) read as WikiANN without the prefix.

Tags are BIO / IOB2 (`B-PER`, `I-PER`, `O`; IOB1's `I-` starting a chunk is read as conlleval
does, see alignmlm.data.bio). A word line without a tag, or a tag that is not `O`, `B-X` or
`I-X`, is an InputError naming file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError, describe_os_error

LANG_PREFIX = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z]+)?:(?=.)")
TAG = re.compile(r"^(O|[BI]-\S+)$")


def word_and_tag(line: str, where: str) -> tuple[str, str]:
    if "\t" in line:
        fields = [f for f in line.split("\t")]
        word, tag = fields[0], fields[-1].strip()
        word = LANG_PREFIX.sub("", word, count=1)
        if len(fields) < 2 or not word.strip():
            tag = ""
    else:
        fields = line.split()
        word, tag = fields[0], (fields[-1] if len(fields) > 1 else "")
    if not tag:
        raise InputError(
            f"{where}: {line.strip()!r} has no tag; expected `word<TAB>TAG` (WikiANN: "
            "`en:word<TAB>B-PER`) or CoNLL-2003 columns with the tag last, and a blank line "
            "between sentences"
        )
    if not TAG.match(tag):
        raise InputError(f"{where}: tag {tag!r} is not a BIO tag; expected O, B-TYPE or I-TYPE (e.g. B-PER)")
    return word.strip(), tag


def read_ner(path: Path) -> list[tuple[list, list]]:
    """The sentences of a NER file as (words, tags)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(describe_os_error(err)) from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    sentences, words, tags = [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append((words, tags))
                words, tags = [], []
            continue
        word, tag = word_and_tag(line, f"{path}:{number}")
        words.append(word)
        tags.append(tag)
    if words:
        sentences.append((words, tags))
    return sentences


def write_ner(sentences, path: Path) -> None:
    """(words, tags) sentences as `word<TAB>tag` lines, a blank line after each sentence."""
    with open(path, "w", encoding="utf-8") as f:
        for words, tags in sentences:
            f.writelines(f"{w}\t{t}\n" for w, t in zip(words, tags))
            f.write("\n")
