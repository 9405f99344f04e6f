"""--dict-min-count: a natural pair keeps the dictionary pairs both of whose words its training
text shows often enough (checked against counts made here from the written text files)."""

from collections import Counter

import pytest
from conftest import prepare_pair, refusal, upper_case_corpora

from alignmlm.data.bilingual_dictionary import read_word_pairs
from alignmlm.data_prep.dictionary import pairs_in_corpora


def test_pairs_in_corpora_keeps_pairs_with_both_words_frequent_enough():
    source, target = Counter({"dog": 3, "cat": 1, "house": 2}), Counter({"köpek": 2, "kedi": 5, "ev": 1})
    pairs = [("dog", "köpek"), ("cat", "kedi"), ("house", "ev"), ("zebra", "zebra"), ("dog", "it")]
    kept, report = pairs_in_corpora(pairs, source, target, 2)
    assert kept == [("dog", "köpek")]
    assert report == {"min_count": 2, "kept": 1, "dropped": 4}
    assert pairs_in_corpora(pairs, source, target, 1)[0] == pairs[:3]
    assert pairs_in_corpora(pairs, source, target, 0)[0] == pairs


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mincount")
    en, up = upper_case_corpora(tmp, 400, 400)
    words = ["the", "of", "government", "president", "antidisestablishmentarianism", "zyzzyva"]
    (tmp / "dict.txt").write_text("".join(f"{w} {w.upper()}\n" for w in words), encoding="utf-8")
    return tmp, en, up


def test_prepare_pair_writes_only_pairs_seen_in_the_training_text(corpora):
    tmp, en, up = corpora
    pair = tmp / "pair"
    prepare_pair(
        *("--corpus", en, "--corpus2", up, "--lang2", "up", "--dictionary", tmp / "dict.txt"),
        *("--out", pair, "--vocab-size", "300", "--valid-size", "40", "--dict-min-count", "3"),
    )
    # the words of the written training text, joined back from its pieces
    counts = {
        lang: Counter(
            word
            for line in (pair / "text" / f"train.{lang}").read_text(encoding="utf-8").splitlines()
            for word in "".join(line.split()).replace("▁", " ").split()
        )
        for lang in ("en", "up")
    }
    written = read_word_pairs(pair / "dict" / "all.txt")
    expected = [
        (w, w.upper())
        for w in ["the", "of", "government", "president", "antidisestablishmentarianism", "zyzzyva"]
        if min(counts["en"][w], counts["up"][w.upper()]) >= 3
    ]
    assert written and written == expected
    assert ("zyzzyva", "ZYZZYVA") not in written


def test_dict_min_count_is_refused_for_a_synthetic_pair(tmp_path, corpora):
    _, en, _ = corpora
    message = refusal(
        "prepare-pair",
        "--corpus",
        str(en),
        "--transform",
        "trans",
        "--dict-min-count",
        "2",
        "--out",
        str(tmp_path / "p"),
    )
    assert "--dict-min-count filters a natural pair's dictionary" in message
