"""Joint dictionary twin mapping, ground-truth pairs and their split, the MUSE reader."""

import numpy as np
import pytest
from fairseq.data import Dictionary

from alignmlm.data.bilingual_dictionary import read_word_pairs
from alignmlm.data_prep.dictionary import (
    joint_tokens,
    parse_band,
    split_by_source_word,
    synthetic_pairs,
    write_fairseq_dictionary,
)
from alignmlm.data_prep.transforms import twin_piece
from alignmlm.errors import InputError

PIECES = ["<unk>", "▁the", "▁cat", "s", "."]


def test_twin_of_fairseq_id_i_is_i_plus_v(tmp_path):
    tokens = joint_tokens(PIECES, np.array([0, 5, 3, 2, 1]), trans=True)
    path = tmp_path / "dict.txt"
    write_fairseq_dictionary(path, tokens)
    d = Dictionary.load(str(path))
    V = len(PIECES) - 1
    assert len(d) == d.nspecial + 2 * V
    for piece in PIECES[1:]:
        assert d.index(twin_piece(piece)) == d.index(piece) + V
        assert d.index(piece) != d.unk()
    assert d.count[d.index("▁the")] == 5 and d.count[d.index(twin_piece("▁the"))] == 5


def test_joint_tokens_refuses_pieces_clashing_with_the_twin_mark():
    with pytest.raises(ValueError, match="would not be disjoint"):
        joint_tokens(["<unk>", "§x", "y"], np.array([0, 1, 1]), trans=True)


def test_synthetic_pairs_exclude_unk():
    assert synthetic_pairs(PIECES, trans=True) == [(p, twin_piece(p)) for p in PIECES[1:]]
    assert synthetic_pairs(PIECES, trans=False) == [(p, p) for p in PIECES[1:]]


def test_split_is_seeded_disjoint_and_complete():
    pairs = [(str(i), f"t{i}") for i in range(1001)]
    train, heldout, summary = split_by_source_word(pairs, 0.5, seed=3)
    assert len(train) == 500 and len(heldout) == 501  # round(500.5) == 500
    assert set(train).isdisjoint(heldout) and set(train) | set(heldout) == set(pairs)
    assert split_by_source_word(pairs, 0.5, seed=3)[:2] == (train, heldout)
    assert split_by_source_word(pairs, 0.5, seed=4)[0] != train
    assert summary["train_sources"] == 500 and summary["unused_pairs"] == 0
    with pytest.raises(ValueError, match="dict-train-fraction"):
        split_by_source_word(pairs, 0.0, seed=1)


def test_split_keeps_every_translation_of_a_word_on_one_side():
    # 300 source words with 1 to 4 translations each, listed in scattered order (as MUSE does)
    rng = np.random.default_rng(0)
    pairs = [(f"w{i}", f"t{i}_{j}") for i in range(300) for j in range(1 + i % 4)]
    pairs = [pairs[k] for k in rng.permutation(len(pairs))]
    for seed in range(5):
        train, heldout, summary = split_by_source_word(pairs, 0.5, seed=seed)
        assert {s for s, _ in train}.isdisjoint({s for s, _ in heldout})
        assert sorted(train + heldout) == sorted(pairs)
        assert summary["train_sources"] + summary["heldout_sources"] == 300


def test_split_by_frequency_band_holds_out_exactly_the_band():
    pairs = [(f"w{i}", f"t{i}") for i in range(100)] + [("w5", "t5b")]
    frequency = {f"w{i}": 1000 - i for i in range(100)}  # w0 most frequent
    train, heldout, summary = split_by_source_word(
        pairs, 1.0, seed=1, band=parse_band("10-20"), frequency=frequency
    )
    assert {s for s, _ in heldout} == {f"w{i}" for i in range(10, 20)}
    assert {s for s, _ in train} == {f"w{i}" for i in range(100)} - {f"w{i}" for i in range(10, 20)}
    assert summary["band"] == [10, 20] and summary["unused_pairs"] == 0
    train, heldout, summary = split_by_source_word(pairs, 0.5, seed=1, band=(10, 20), frequency=frequency)
    assert len({s for s, _ in train}) == 45 and summary["unused_pairs"] == 46  # 45 words, w5 twice
    with pytest.raises(ValueError, match="expected two ranks FIRST-LAST"):
        parse_band("5000")
    with pytest.raises(ValueError, match="only 100 source words"):
        split_by_source_word(pairs, 1.0, seed=1, band=(200, 300), frequency=frequency)


def test_muse_reader(tmp_path):
    path = tmp_path / "en-fr.txt"
    path.write_text("the le\ncat\tchat\n\nhouse maison\n", encoding="utf-8")
    assert read_word_pairs(path) == [("the", "le"), ("cat", "chat"), ("house", "maison")]


@pytest.mark.parametrize("content, line", [("the le\nbad line here\n", 2), ("the\n", 1)])
def test_muse_reader_rejects_lines_without_two_fields(tmp_path, content, line):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"bad.txt:{line}: expected 2 whitespace-separated"):
        read_word_pairs(path)


def test_muse_reader_missing_empty_and_undecodable(tmp_path):
    with pytest.raises(InputError, match="nope.txt: bilingual dictionary not found"):
        read_word_pairs(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="empty.txt: bilingual dictionary is empty"):
        read_word_pairs(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("a b\nca\xe7a cela\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt:2: bilingual dictionary is not valid UTF-8"):
        read_word_pairs(tmp_path / "latin1.txt")
