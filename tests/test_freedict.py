"""The FreeDict (dictd) -> MUSE converter, on hand-made dictd files: which pairs each rule keeps
and drops, lower-casing, the .dict and .dict.dz forms, and errors naming file and line."""

import base64
import gzip
import random

import pytest

from alignmlm.data.bilingual_dictionary import read_word_pairs
from alignmlm.data_prep import freedict

# (index key, entry text): the key is dictd's search form, the headword line is the entry's own
ENTRIES = [
    ("00databaseinfo", "00-database-info\nA test dictionary.\n1. metadata, not a sense\n"),
    ("apple", "apple /ˈapəl/\n1. elma (bot.)\n2. (k.dili.) elma ağacı; Elma\n"),
    (
        "abandon",
        "abandon /ɐbˈandən/\n"
        "1. -(den.) vazgeçmek, terk etmek; bırakmak\n"
        "2. (çoğ.) -tums, -ta) kimsesiz. abandoned  terk edilmiş\n"
        "3. ABD, -de, 100, b.h, kaçmak: run away kaçıp gitmek\n"
        "4. (bak. (eski)) salmak, (yarım kalmış not\n",
    ),
    ("ackack", "ack-ack /ˈak ˈak/\n1. uçaksavar ateşi, uçaksavar\n"),
    ("a la carte", "a la carte /ˌala kˈɑːt/\n1. alakart\n"),
    ("river", "river /ɹˈɪvə/\n1. IRMAK, Nehir\n"),
    ("istanbul", "Istanbul\n1. İstanbul\n"),
    ("apple", "apple /ˈapəl/\n1. elma, alma\n"),  # the headword's second entry
]

EXPECTED = [
    ("apple", "elma"),
    ("abandon", "vazgeçmek"),
    ("abandon", "bırakmak"),
    ("abandon", "kimsesiz"),
    ("abandon", "kaçmak"),
    ("abandon", "salmak"),
    ("ack-ack", "uçaksavar"),
    ("river", "ırmak"),
    ("river", "nehir"),
    ("istanbul", "istanbul"),
    ("apple", "alma"),
]


def dictd_number(value: int) -> str:
    """Encode VALUE (< 2**24) with the standard library's base64: three bytes make four 6-bit
    digits, most significant first, in the alphabet dictd uses; leading zeros ('A') dropped."""
    return base64.b64encode(value.to_bytes(3, "big")).decode().lstrip("A") or "A"


def write_dictd(directory, entries, gzipped=False):
    """NAME.index and NAME.dict (or NAME.dict.dz) holding ENTRIES, as dictfmt lays them out."""
    data, lines = b"", []
    for key, text in entries:
        raw = text.encode("utf-8")
        lines.append(f"{key}\t{dictd_number(len(data))}\t{dictd_number(len(raw))}\n")
        data += raw
    index = directory / "test.index"
    index.write_text("".join(lines), encoding="utf-8")
    dict_path = directory / ("test.dict.dz" if gzipped else "test.dict")
    dict_path.write_bytes(gzip.compress(data) if gzipped else data)
    return index, dict_path


def test_base64_decoding_matches_the_standard_library():
    assert freedict.decode_base64("A") == 0
    assert freedict.decode_base64("Bx") == 1 * 64 + 49
    values = [0, 1, 63, 64, 4095, 4096, 2**24 - 1] + random.Random(0).sample(range(2**24), 200)
    for value in values:
        assert freedict.decode_base64(dictd_number(value)) == value
    with pytest.raises(ValueError, match="not a dictd base64 digit"):
        freedict.decode_base64("a=")


def test_turkish_lower_has_dotted_and_dotless_i():
    assert freedict.turkish_lower("IĞDIR İZMİR Işık") == "ığdır izmir ışık"
    assert "İ".lower() != "i"  # why it is needed: str.lower leaves a combining dot


def test_notes_senses_multiword_labels_and_dedup(tmp_path):
    index, dict_path = write_dictd(tmp_path, ENTRIES)
    pairs, counts = freedict.convert(index, dict_path, target_lowercase=freedict.turkish_lower)
    assert pairs == EXPECTED
    assert counts["entries"] == 7 and counts["metadata"] == 1
    assert counts["headword"] == 1  # a la carte
    # elma ağacı, terk etmek, uçaksavar ateşi: multi-word; -tums, -de: affixes; 100, b.h: not words
    assert (counts["multi-word"], counts["affix"], counts["not a word"]) == (3, 2, 2)
    assert counts["label"] == 1 and counts["duplicate"] == 2  # ABD; Elma and the second elma
    assert counts["empty"] == 1  # after salmak, what an unclosed '(' leaves


def test_default_lowercase_is_str_lower(tmp_path):
    index, dict_path = write_dictd(tmp_path, ENTRIES)
    pairs, _ = freedict.convert(index, dict_path)
    assert ("river", "irmak") in pairs  # not Turkish: I -> i


def test_max_pairs_per_word(tmp_path):
    index, dict_path = write_dictd(tmp_path, ENTRIES)
    pairs, counts = freedict.convert(index, dict_path, max_pairs_per_word=1)
    assert [t for s, t in pairs if s == "abandon"] == ["vazgeçmek"]
    assert [t for s, t in pairs if s == "apple"] == ["elma"]
    assert counts["over max"] == 6


def test_command_reads_dict_and_dict_dz_alike(tmp_path, capsys):
    outputs = []
    for gzipped in (False, True):
        directory = tmp_path / str(gzipped)
        directory.mkdir()
        index, dict_path = write_dictd(directory, ENTRIES, gzipped)
        out = directory / "en-tr.txt"
        argv = [str(index), str(dict_path), "--target-lowercase", "turkish", "--out", str(out)]
        assert freedict.main(argv) == 0
        assert read_word_pairs(out) == EXPECTED
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    err = capsys.readouterr().err
    assert "11 one-word pairs kept" in err and "multi-word translation" in err


@pytest.mark.parametrize(
    "bad_line, expected",
    [
        ("apple\tig", "expected 3 tab-separated fields 'headword<TAB>offset<TAB>length', got 2"),
        ("apple\ti=\tCH", "expected offset and length in dictd base64"),
    ],
)
def test_malformed_index_line_names_file_and_line(tmp_path, capsys, bad_line, expected):
    index, dict_path = write_dictd(tmp_path, ENTRIES[:2])
    index.write_text(index.read_text(encoding="utf-8") + bad_line + "\n", encoding="utf-8")
    assert freedict.main([str(index), str(dict_path), "--out", str(tmp_path / "out.txt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {index}:3: {expected}") and "Traceback" not in err
    assert not (tmp_path / "out.txt").exists()


def test_entry_past_the_end_of_the_dict(tmp_path, capsys):
    index, dict_path = write_dictd(tmp_path, ENTRIES[:2])
    dict_path.write_bytes(dict_path.read_bytes()[:20])  # the index of another, longer .dict
    assert freedict.main([str(index), str(dict_path), "--out", str(tmp_path / "out.txt")]) == 2
    assert f"error: {index}:2: entry 'apple' ends at byte" in capsys.readouterr().err
