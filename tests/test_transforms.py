"""The synthetic-language transforms against hand-worked examples."""

import pytest

from alignmlm.data_prep.transforms import (
    TWIN_MARK,
    FixedPermutations,
    PieceSentenceTransform,
    compose_order,
    inverted_order,
    parse_transforms,
    reorder_words,
    split_final_punctuation,
    twin_piece,
    word_order_functions,
)


def inv(words, labels=None):
    return reorder_words(words, labels, word_order_functions(("inv",), seed=1))


def test_inv_keeps_final_punctuation_in_place():
    assert inv("the cat sat .".split())[0] == "sat cat the .".split()
    assert inv("did it work ?!".split())[0] == "work it did ?!".split()
    assert inv("no full stop here".split())[0] == "here stop full no".split()
    assert inv("a , b :".split())[0] == ": b , a".split()  # only . ! ? stay put


def test_labels_move_with_their_words():
    words, labels = inv("Bush nominated two judges .".split(), ["PROPN", "VERB", "NUM", "NOUN", "PUNCT"])
    assert words == ["judges", "two", "nominated", "Bush", "."]
    assert labels == ["NOUN", "NUM", "VERB", "PROPN", "PUNCT"]


def test_inverting_twice_is_identity():
    sentence = "one two three four five !".split()
    assert inv(inv(sentence)[0])[0] == sentence


def test_perm_is_fixed_per_seed_and_length():
    perm_a, perm_b, other = FixedPermutations(7), FixedPermutations(7), FixedPermutations(8)
    for n in range(1, 30):
        order = perm_a(n, False)
        assert sorted(order) == list(range(n))  # a permutation
        assert order == perm_b(n, False)  # same seed, same rule
    assert any(perm_a(n, False) != other(n, False) for n in range(5, 30))  # seed matters
    assert perm_a(6, True)[-1] == 5 and sorted(perm_a(6, True)) == list(range(6))
    # the same length always gets the same order, in every sentence
    fns = word_order_functions(("perm",), seed=3)
    a, _ = reorder_words("a b c d e".split(), None, fns)
    b, _ = reorder_words("v w x y z".split(), None, fns)
    assert [ord(ch) - ord("a") for ch in a] == [ord(ch) - ord("v") for ch in b]


def test_compose_order_applies_transforms_in_sequence():
    fns = word_order_functions(("perm", "inv"), seed=2)
    perm_order = FixedPermutations(2)(5, False)
    assert compose_order(5, False, fns) == [perm_order[i] for i in inverted_order(5, False)]


def test_parse_transforms():
    assert parse_transforms("trans+inv") == ("trans", "inv")
    assert parse_transforms("trans,perm") == ("trans", "perm")
    for bad in ("", "trans+rev", "inv+inv"):
        with pytest.raises(ValueError, match="invalid transform spec"):
            parse_transforms(bad)


def test_split_final_punctuation():
    assert split_final_punctuation("  the  border. ") == "the border ."
    assert split_final_punctuation("Really?!") == "Really ?!"
    assert split_final_punctuation("Wait ...") == "Wait ..."
    assert split_final_punctuation("no end") == "no end"


PIECES = ["<unk>", "▁the", "▁cat", "▁sat", "s", "▁", ".", "▁on", "▁mat"]


def test_trans_is_a_bijection_onto_disjoint_pieces():
    twins = [twin_piece(p) for p in PIECES]
    assert len(set(twins)) == len(PIECES)
    assert not set(twins) & set(PIECES)
    assert all(t.startswith(TWIN_MARK) for t in twins)


def test_piece_transform_trans_inv_hand_worked():
    ids = [1, 2, 4, 3, 7, 1, 8, 5, 6]  # ▁the ▁cat s ▁sat ▁on ▁the ▁mat ▁ .
    derive = PieceSentenceTransform(PIECES, ("trans", "inv"), seed=1)
    assert derive.units(ids) == [[1], [2, 4], [3], [7], [1], [8], [5, 6]]
    # words reversed, the final '▁ .' stays last, pieces inside a word keep their order
    assert derive.derive_ids(ids) == [8, 1, 7, 3, 2, 4, 1, 5, 6]
    assert derive.derive_text(ids) == " ".join(TWIN_MARK + PIECES[i] for i in [8, 1, 7, 3, 2, 4, 1, 5, 6])


def test_piece_transform_trans_only_keeps_order_and_unk():
    derive = PieceSentenceTransform(PIECES, ("trans",), seed=1)
    assert derive.derive_ids([1, 0, 2]) == [1, 0, 2]
    assert derive.derive_text([1, 0, 2]) == f"{TWIN_MARK}▁the <unk> {TWIN_MARK}▁cat"
