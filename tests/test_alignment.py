"""user_dir/alignment.py and the dictionary-to-ids mapping against independent computations."""

import logging
import math

import pytest
import torch

from alignmlm.alignment import WeightSchedule, alignment_loss, bag_means, pair_loss
from alignmlm.data.alignment_pairs import build_pair_bags
from alignmlm.retrieval import precision_at_k, retrieve


def test_cosine_loss_matches_hand_computation():
    E = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]])
    pairs = torch.tensor([[0, 1], [0, 2], [0, 3]])
    # cos = 0, 1/sqrt(2), -1  ->  loss = -(0 + 0.7071 - 1) / 3
    expected = -(0.0 + 1 / math.sqrt(2) - 1.0) / 3
    assert alignment_loss(E, pairs).item() == pytest.approx(expected, abs=1e-6)
    # l2: distances sqrt(5), sqrt(4 + 9), 2
    expected_l2 = (math.sqrt(5) + math.sqrt(13) + 2.0) / 3
    assert alignment_loss(E, pairs, kind="l2").item() == pytest.approx(expected_l2, abs=1e-6)


def test_loss_equals_independent_loop_on_random_data():
    torch.manual_seed(0)
    E = torch.randn(50, 16)
    pairs = torch.randint(0, 50, (30, 2))
    loop = -sum((E[i] @ E[j]) / (E[i].norm() * E[j].norm()) for i, j in pairs.tolist()) / 30
    assert torch.allclose(alignment_loss(E, pairs), loop, atol=1e-6)


def test_gradient_touches_only_rows_in_pairs():
    E = torch.randn(20, 8, requires_grad=True)
    pairs = torch.tensor([[1, 11], [3, 13], [1, 15]])
    alignment_loss(E, pairs).backward()
    touched = (E.grad.abs().sum(dim=1) > 0).nonzero().flatten().tolist()
    assert touched == [1, 3, 11, 13, 15]


def test_loss_is_fp32_for_half_embeddings():
    E = torch.randn(10, 4).half().requires_grad_()
    loss = alignment_loss(E, torch.tensor([[0, 5], [1, 6]]))
    assert loss.dtype == torch.float32
    loss.backward()
    assert E.grad.dtype == torch.float16


@pytest.mark.parametrize("kind", ["cosine", "l2"])
def test_loss_ignores_autocast(kind):
    """--amp runs the criterion under autocast, which would compute the products in 16 bits
    (on CPU bf16 moves this loss by ~4e-3 relative): the term must stay the fp32 value."""
    torch.manual_seed(0)
    embeddings, pairs = torch.randn(1000, 64), torch.randint(0, 1000, (300, 2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = alignment_loss(embeddings, pairs, kind)
    assert under_autocast.dtype == torch.float32
    assert under_autocast.item() == alignment_loss(embeddings, pairs, kind).item()


def test_bag_means_averages_pieces_and_ignores_padding():
    E = torch.arange(12.0).view(6, 2)
    bags = torch.tensor([[0, -1, -1], [1, 2, -1], [3, 4, 5]])
    expected = torch.stack([E[0], E[1:3].mean(0), E[3:6].mean(0)])
    assert torch.equal(bag_means(E, bags), expected)
    assert torch.equal(bag_means(E, torch.tensor([[4], [2]])), E[[4, 2]])


def test_pair_loss_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown alignment loss 'dot'"):
        pair_loss(torch.ones(2, 2), torch.ones(2, 2), "dot")


def test_p1_of_scaled_twins_identity_and_shuffled():
    torch.manual_seed(0)
    V, D = 100, 32
    base = torch.randn(V, D)
    top = retrieve(base, base * 3.0, k=1)  # twin i is a scaled copy of i: same direction
    gold = torch.stack([torch.arange(V), torch.arange(V)], dim=1)
    assert precision_at_k(top, gold, ks=(1,)) == {1: 1.0}
    # swap the gold targets of the first 30 queries among themselves: those 30 are wrong
    shuffled = gold.clone()
    shuffled[:30, 1] = shuffled[:30, 1].roll(1)
    assert precision_at_k(top, shuffled, ks=(1,))[1] == pytest.approx(0.7)
    # chunking does not change the answer
    assert torch.equal(retrieve(base, base * 3.0, k=1, chunk_bytes=4 * V * 7), top)


def test_weight_schedule():
    assert WeightSchedule("10")(0) == 10.0 and WeightSchedule(2.5)(10**6) == 2.5
    s = WeightSchedule("0:0,2000:10")
    assert [s(u) for u in (0, 1000, 2000, 5000)] == [0.0, 5.0, 10.0, 10.0]
    s = WeightSchedule("100:1,200:3,300:0")
    assert [s(u) for u in (0, 150, 250, 400)] == [1.0, 2.0, 1.5, 0.0]
    for bad in ("ten", "10:1,5:2", "0:1,0:2", "0:1,x"):
        with pytest.raises(ValueError, match="invalid weight schedule"):
            WeightSchedule(bad)


VOCAB = {"<unk>": 3, "▁the": 4, "▁le": 5, "▁ca": 6, "t": 7, "▁chat": 8}


def pieces_of(word):
    """A toy tokenizer: known words are one piece, 'cat' is two, anything else unknown."""
    return {"the": [4], "le": [5], "cat": [6, 7], "chat": [8]}.get(word, [3])


def test_pair_bags_single_multi_and_oov(caplog):
    caplog.set_level(logging.INFO)
    pairs = [("the", "le"), ("cat", "chat"), ("dog", "chien"), ("the", "xx")]
    bags = build_pair_bags(pairs, pieces_of, unk=3, name="en-fr.txt")
    assert bags.source.tolist() == [[4, -1], [6, 7]]
    assert bags.target.tolist() == [[5], [8]]
    assert bags.stats["single_piece"] == 1 and bags.stats["multi_piece"] == 1
    assert bags.stats["oov"] == 2 and bags.stats["oov_examples"] == ["dog chien", "the xx"]
    assert bags.single_piece_pairs().tolist() == [[4, 5]]
    assert "en-fr.txt: 4 pairs; used: 1 single-piece, 1 multi-piece" in caplog.text

    skipped = build_pair_bags(pairs, pieces_of, unk=3, multi_piece="skip")
    assert skipped.source.tolist() == [[4]] and skipped.stats["skipped_multi_piece"] == 1


def test_zero_usable_pairs_is_an_error():
    with pytest.raises(ValueError, match=r"train.txt: none of its 2 pairs is usable \(out of vocabulary: 2"):
        build_pair_bags([("dog", "chien"), ("a", "b")], pieces_of, unk=3, name="train.txt")
