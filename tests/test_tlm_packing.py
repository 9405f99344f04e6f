"""XLM's TLM samples packed as the ALIGN-MLM authors pack them: several parallel pairs per block,
sources in the first half, their translations in the second (alignmlm/data/tlm_packing.py)."""

import logging
import re

import numpy as np
import pytest
import torch
from conftest import setup_task

from alignmlm.data.tlm_packing import pack_pairs
from alignmlm.errors import InputError


def test_pack_pairs_hand_worked():
    # block 8: first half <s> + 3 source tokens, second half 4 target tokens
    groups, left_out = pack_pairs([3, 1, 2, 4, 1], [4, 1, 2, 1, 3], 8)
    # pair 3's source (4) does not fit in 3; longest first: 0 fills a sample, 2 opens one
    # (room 1 + 2), 4 needs 3 target tokens so opens another, 1 goes where the source room is least
    assert [g.tolist() for g in groups] == [[0], [1, 2], [4]]
    assert left_out.tolist() == [3]
    with pytest.raises(InputError, match="--tokens-per-sample 2 is too small"):
        pack_pairs([1], [1], 2)
    with pytest.raises(InputError, match="parallel data differ in length: 2 != 1"):
        pack_pairs([1, 2], [1], 64)


def test_pack_pairs_invariants_on_random_sizes():
    rng = np.random.default_rng(0)
    source = rng.integers(1, 80, size=3000)
    target = np.maximum(1, source + rng.integers(-10, 11, size=3000))  # natural pairs differ
    groups, left_out = pack_pairs(source, target, 128)
    used = np.concatenate(groups)
    assert len(np.unique(used)) == len(used)  # no pair twice
    too_long = np.flatnonzero((source > 63) | (target > 64))
    assert np.array_equal(left_out, too_long)  # every other pair is used
    assert len(used) + len(left_out) == 3000
    for g in groups:
        assert 1 + source[g].sum() <= 64 and target[g].sum() <= 64 and np.all(np.diff(g) > 0)
    fill = np.mean([1 + source[g].sum() + target[g].sum() for g in groups]) / 128
    assert fill > 0.95, fill
    again, _ = pack_pairs(source, target, 128)
    assert all(np.array_equal(a, b) for a, b in zip(groups, again, strict=True))


def halves(sample, lang_ids, eos):
    """The sentences (tuples of ids, </s> dropped) of each half of a packed sample."""
    n_source = int((lang_ids == 0).sum())

    def sentences(ids):
        cuts = np.flatnonzero(ids == eos)
        assert cuts[-1] == len(ids) - 1  # every half ends with a sentence's </s>
        return [tuple(s[:-1]) for s in np.split(ids, cuts + 1)[:-1]]

    return n_source, sentences(sample[1:n_source]), sentences(sample[n_source:])


@pytest.mark.slow
@pytest.mark.parametrize("pair_name", ["other_pair", "tiny_pair"])
def test_packed_samples_are_translations_with_positions_restarting_at_the_half(pair_name, request, caplog):
    pair = request.getfixturevalue(pair_name)  # Trans (300 pieces) and Trans+Inv (500)
    caplog.set_level(logging.INFO)
    block = 128  # halves of 64: most sentences of the tiny pairs fit
    task = setup_task("xlm", pair, f"task.tokens_per_sample={block}")
    d = task.dictionary
    tlm = task.token_streams("train", 1, False)[-1]
    chosen, total, samples = map(
        int, re.search(r"TLM train: (\d+) of (\d+) sentence pairs in (\d+) samples", caplog.text).groups()
    )
    # the true pairs: line i of each side of the parallel files
    para = {"other_pair": "train.en-en_trans", "tiny_pair": "train.en-en_trans_inv"}[pair_name]
    langs = para.split(".")[1].split("-")
    from fairseq.data import data_utils

    sides = [
        data_utils.load_indexed_dataset(str(pair / "bin" / "para" / f"{para}.{lang}"), d) for lang in langs
    ]
    truth = {tuple(sides[0][i][:-1].tolist()): tuple(sides[1][i][:-1].tolist()) for i in range(total)}
    twin_offset = d.index("§▁the") - d.index("▁the")  # V: the derived twin of a piece
    assert twin_offset > 0
    n_pairs, lengths, most = 0, [], 0
    assert len(tlm["tokens"]) == samples
    for k in range(len(tlm["tokens"])):
        tokens, lang_ids, positions = (tlm[f][k] for f in ("tokens", "lang_ids", "positions"))
        assert tokens[0] == d.bos() and len(tokens) == len(lang_ids) == len(positions) <= block
        n_source, first, second = halves(tokens.numpy(), lang_ids.numpy(), d.eos())
        assert n_source <= block // 2 and len(tokens) - n_source <= block // 2  # each in its half
        assert lang_ids.tolist() == [0] * n_source + [1] * (len(tokens) - n_source)
        assert torch.equal(positions[:n_source], torch.arange(n_source))
        assert torch.equal(positions[n_source:], torch.arange(len(tokens) - n_source))  # restart
        assert len(first) == len(second) >= 1
        for s, t in zip(first, second, strict=True):
            assert truth[s] == t  # the k-th translation is the k-th source sentence's
            twins = np.where(np.array(s) < d.nspecial, s, np.array(s) + twin_offset)  # <unk> stays
            if pair_name == "other_pair":  # Trans: the same pieces in the twin script
                assert np.array_equal(np.array(t), twins)
            else:  # Inv reorders words: the same pieces, in another order
                assert sorted(t) == sorted(twins)
        n_pairs += len(first)
        most = max(most, len(first))
        lengths.append(len(tokens))
    assert n_pairs == chosen and samples < chosen and most >= 2  # several pairs per sample
    assert np.mean(lengths) > 0.9 * block  # blocks nearly full, as MLM's


@pytest.mark.slow
def test_tlm_selection_is_seeded(tiny_pair):
    def packed(seed):
        tlm = setup_task("xlm", tiny_pair, f"common.seed={seed}").token_streams("train", 1, False)[-1]
        return [tlm["tokens"][k].tolist() for k in range(len(tlm["tokens"]))]

    first = packed(1)
    assert packed(1) == first and packed(2) != first
