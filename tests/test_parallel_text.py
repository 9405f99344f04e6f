"""The reader of sentence-aligned parallel text (alignmlm/data/parallel_text.py): two aligned
files or one TSV file read alike, and errors that name the file, the line and what was expected."""

import re

import pytest

from alignmlm.data.parallel_text import read_parallel
from alignmlm.errors import InputError

PAIRS = [("the cat sleeps .", "kedi uyuyor ."), ("a dog\u2028barks", "bir köpek havlıyor"), ("yes", "evet")]


def write(path, text: str):
    path.write_text(text, encoding="utf-8", newline="")
    return path


def error(paths) -> str:
    with pytest.raises(InputError) as raised:
        read_parallel(paths)
    return str(raised.value)


def test_a_tsv_and_a_file_pair_read_identically(tmp_path):
    en = write(tmp_path / "p.en", "".join(f"{a}\n" for a, _ in PAIRS))
    tr = write(tmp_path / "p.tr", "".join(f"  {b}\r\n" for _, b in PAIRS))  # CRLF, leading spaces
    tsv = write(tmp_path / "p.tsv", "".join(f"{a}\t{b}\n" for a, b in PAIRS)[:-1])  # no final newline
    assert read_parallel([en, tr]) == read_parallel([tsv]) == PAIRS  # U+2028 does not end a line
    assert read_parallel([tr, en]) == [(b, a) for a, b in PAIRS]  # the order given


def test_unequal_line_counts_name_both_counts_and_the_first_line_without_partner(tmp_path):
    en = write(tmp_path / "p.en", "one\ntwo\nthree\n")
    tr = write(tmp_path / "p.tr", "bir\niki\n")
    message = error([en, tr])
    assert f"{en} has 3 lines, {tr} has 2: line 3 of {en} has no partner in {tr}" in message
    message = error([tr, en])
    assert f"{tr} has 2 lines, {en} has 3: line 3 of {en} has no partner in {tr}" in message


def test_an_empty_line_names_its_file_line_and_partner(tmp_path):
    en = write(tmp_path / "p.en", "one\n  \nthree\n")
    tr = write(tmp_path / "p.tr", "bir\niki\nüç\n")
    assert f"{en}:2: empty line in parallel text" in error([en, tr])
    assert f"its translation is line 2 of {tr}" in error([en, tr])
    assert f"{en}:2: empty line" in error([tr, en])


@pytest.mark.parametrize(
    "line, expected",
    [
        ("no tab here", r"expected 'source<TAB>target' \(exactly one tab\), got 0 tabs: 'no tab here'"),
        ("a\tb\tc", "got 2 tabs"),
        ("a\t  ", r"the target \(after the tab\) is empty"),
        ("\tb", r"the source \(before the tab\) is empty"),
        ("   ", "empty line in parallel text"),
    ],
)
def test_a_bad_tsv_line_names_file_and_line(tmp_path, line, expected):
    tsv = write(tmp_path / "p.tsv", f"one\tbir\n{line}\nthree\tüç\n")
    message = error([tsv])
    assert message.startswith(f"{tsv}:2: ") and re.search(expected, message), message


def test_invalid_utf8_names_file_line_and_column(tmp_path):
    en = write(tmp_path / "p.en", "one\ntwo\n")
    tr = tmp_path / "p.tr"
    tr.write_bytes(b"bir\ncaf\xe9\n")
    assert f"{tr}:2: parallel text is not valid UTF-8 (byte 0xe9 at column 4)" in error([en, tr])


def test_empty_files_and_wrong_file_counts(tmp_path):
    en, tr = write(tmp_path / "p.en", ""), write(tmp_path / "p.tr", "")
    assert "are empty" in error([en, tr])
    assert "is empty" in error([write(tmp_path / "p.tsv", "")])
    assert "got 3 files" in error([en, tr, en])
