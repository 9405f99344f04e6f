"""prepare-pair --anchor-fraction F: a seeded share F of the pieces stays shared by both languages
under trans (anchor points); the rest keep their twins, bijectively; anchors are left out of the
bilingual dictionary and of every P@1."""

import numpy as np
import pytest
import torch
from conftest import prepare_pair, refusal
from fairseq.data import Dictionary, data_utils
from test_alignment_metrics import FakeModel

from alignmlm.alignment_benchmark import AlignmentBenchmark
from alignmlm.data.twins import TWIN_MARK, word_pieces
from alignmlm.data_prep.dictionary import choose_anchors, synthetic_pairs
from alignmlm.pair import PreparedPair


def test_choose_anchors_is_a_seeded_share_of_the_pieces():
    anchors = choose_anchors(501, 0.1, seed=1)
    assert len(anchors) == 50 and anchors == sorted(set(anchors))
    assert 0 not in anchors and max(anchors) <= 500  # <unk> (id 0) is never an anchor
    assert anchors == choose_anchors(501, 0.1, seed=1) != choose_anchors(501, 0.1, seed=2)
    assert choose_anchors(501, 0.0, seed=1) == []


def test_anchors_are_out_of_the_dictionary_and_keep_their_form():
    pieces = ["<unk>", "▁a", "▁b", "c"]
    assert synthetic_pairs(pieces, trans=True, anchors=[2]) == [("▁a", "§▁a"), ("c", "§c")]
    encode = {"abc": ["▁a", "▁b", "c"]}.__getitem__
    assert word_pieces(f"{TWIN_MARK}abc", encode, frozenset({"▁b"})) == ["§▁a", "▁b", "§c"]
    assert word_pieces("abc", encode, frozenset({"▁b"})) == ["▁a", "▁b", "c"]


@pytest.fixture(scope="module")
def anchored_pair(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "anchored"
    prepare_pair(
        *("--corpus", tiny_corpus, "--transform", "trans+inv", "--anchor-fraction", "0.1", "--out", out),
        *("--vocab-size", "500", "--valid-size", "100", "--workers", "2"),
    )
    return out


@pytest.mark.slow
def test_a_share_f_of_the_pieces_is_shared_and_the_rest_have_twins(anchored_pair):
    pair = PreparedPair.load(anchored_pair)
    v = pair.twin_offset
    anchors = pair.anchors
    assert pair.settings["anchor_fraction"] == 0.1 and pair.manifest["anchors"] == len(anchors)
    assert abs(len(anchors) - 0.1 * v) <= 1  # F of the pieces, within one piece
    # language 2's text: anchors as they are, every other piece a twin
    derived = (anchored_pair / "text" / "train.en_trans_inv").read_text(encoding="utf-8").split()
    plain = {p for p in derived if not p.startswith(TWIN_MARK)} - {"<unk>"}  # <unk> has no twin
    assert plain <= anchors and len(plain) > len(anchors) // 2
    assert not {p[len(TWIN_MARK) :] for p in derived if p.startswith(TWIN_MARK)} & anchors
    # the dictionary: the other pieces, each with its own twin (a bijection), no anchor
    pairs = [
        line.split() for line in pair.bilingual_dictionary("all").read_text(encoding="utf-8").splitlines()
    ]
    assert len(pairs) == v - len(anchors)
    assert all(t == TWIN_MARK + s and s not in anchors for s, t in pairs)
    assert len({s for s, _ in pairs}) == len({t for _, t in pairs}) == len(pairs)
    # the binarized stream of language 2: anchors by their own ids, never by their twins'
    d = Dictionary.load(str(anchored_pair / "bin" / "dict.txt"))
    stream = data_utils.load_indexed_dataset(str(anchored_pair / "bin" / "en_trans_inv" / "train"), d)
    ids = torch.cat([stream[i] for i in range(len(stream))])
    anchor_ids = torch.tensor(sorted(d.index(p) for p in anchors))
    assert torch.isin(anchor_ids, ids).sum() == len(plain)
    assert not torch.isin(anchor_ids + v, ids).any()


@pytest.mark.slow
def test_the_papers_protocol_leaves_anchors_out(anchored_pair):
    d = Dictionary.load(str(anchored_pair / "bin" / "dict.txt"))
    d.add_symbol("<mask>")
    pair = PreparedPair.load(anchored_pair)
    bench = AlignmentBenchmark(pair, d)
    e = torch.randn(len(d), 16, generator=torch.Generator().manual_seed(0))
    first, v = d.nspecial, bench.twin_offset
    e[first + v : first + 2 * v] = e[first : first + v]  # every twin a copy: all queries right
    paper = bench.evaluate(FakeModel(e))["paper"]
    order = list(range(v))
    np.random.RandomState(42).shuffle(order)
    last = order[-int(v * 0.4) :]
    anchor_rows = {d.index(p) - first for p in pair.anchors}
    assert paper["anchors_left_out"] == len(set(last) & anchor_rows) > 0
    assert paper["queries"] == len(last) - paper["anchors_left_out"] and paper["p1_nn"] == 100.0


def test_anchor_fraction_needs_trans(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c .\n" * 20)
    error = refusal("prepare-pair", "--corpus", corpus, "--transform", "inv", "--anchor-fraction", "0.1",
                    "--out", tmp_path / "o")  # fmt: skip
    assert error.startswith("error: --anchor-fraction needs a synthetic pair with a script change")
    error = refusal("prepare-pair", "--corpus", corpus, "--transform", "trans", "--anchor-fraction", "1",
                    "--out", tmp_path / "o")  # fmt: skip
    assert (
        error
        == "error: --anchor-fraction must be in [0, 1) (the share of pieces shared by both languages), got 1.0"
    )
