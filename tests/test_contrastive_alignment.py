"""The contrastive alignment loss and the anisotropy figure against independent computations."""

import math

import pytest
import torch

from alignmlm.alignment import contrastive_loss, pair_loss, word_ids
from alignmlm.alignment_benchmark import anisotropy
from alignmlm.data.alignment_pairs import PairBags


def reference_infonce(source, target, temperature, source_word, target_word):
    """Loops over rows: -log softmax of the matched pair among the admissible candidates (the
    row's own, and those sharing neither its source nor its target word), both directions."""
    n = len(source)

    def cos(a, b):
        return float(a @ b) / (float(a.norm()) * float(b.norm()))

    def direction(queries, keys):
        total = 0.0
        for i in range(n):
            admissible = [
                j
                for j in range(n)
                if j == i or (source_word[i] != source_word[j] and target_word[i] != target_word[j])
            ]
            scores = [cos(queries[i], keys[j]) / temperature for j in admissible]
            total += -(cos(queries[i], keys[i]) / temperature - math.log(sum(math.exp(s) for s in scores)))
        return total / n

    return 0.5 * (direction(source, target) + direction(target, source))


def test_contrastive_matches_a_loop_with_shared_words_kept_out_of_the_negatives():
    torch.manual_seed(0)
    source, target = torch.randn(7, 5), torch.randn(7, 5)
    source_word = torch.tensor([0, 0, 1, 2, 3, 4, 5])  # pairs 0 and 1: one word, two translations
    target_word = torch.tensor([0, 1, 2, 3, 3, 4, 5])  # pairs 3 and 4: two words, one translation
    got = contrastive_loss(source, target, 0.2, source_word, target_word).item()
    expected = reference_infonce(source, target, 0.2, source_word.tolist(), target_word.tolist())
    assert got == pytest.approx(expected, rel=1e-5)
    plain = reference_infonce(source, target, 0.2, list(range(7)), list(range(7)))
    assert contrastive_loss(source, target, 0.2).item() == pytest.approx(plain, rel=1e-5)
    assert pair_loss(source, target, "contrastive", 0.2, source_word, target_word).item() == pytest.approx(
        expected
    )


def test_contrastive_is_small_for_aligned_distinct_pairs_and_log_n_for_collapse():
    """Aligned, well-separated pairs: loss near 0. Every embedding the same vector (the collapse
    the cosine loss rewards with its best value): log N, no better than chance."""
    eye = torch.eye(8)
    assert contrastive_loss(eye, eye.clone(), 0.05).item() < 1e-6
    collapsed = torch.ones(8, 4)
    assert contrastive_loss(collapsed, collapsed.clone(), 0.05).item() == pytest.approx(math.log(8), rel=1e-5)
    assert pair_loss(collapsed, collapsed.clone(), "cosine").item() == pytest.approx(-1.0)


def test_word_ids_give_equal_ids_to_equal_bags_and_survive_subsets():
    bags = torch.tensor([[4, -1], [5, 6], [4, -1], [7, -1]])
    ids = word_ids(bags).tolist()
    assert ids[0] == ids[2] and len({ids[0], ids[1], ids[3]}) == 3
    pairs = PairBags(bags, torch.tensor([[9, -1], [10, -1], [11, -1], [9, -1]]))
    part = pairs.subset(torch.tensor([3, 0]))
    assert part.target_word[0] == part.target_word[1]  # both translate to piece 9
    assert part.source_word[0] != part.source_word[1]


def test_anisotropy_is_near_0_for_random_and_1_for_a_shared_direction():
    torch.manual_seed(0)
    spread = torch.randn(500, 64)
    assert abs(anisotropy(spread)) < 0.01
    collapsed = torch.randn(500, 64) * 0.01 + torch.ones(64)
    assert anisotropy(collapsed) > 0.99
    # against an independent computation on the same pairs: all pairs of 3 rows, averaged
    rows = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    all_pairs = [(0, 1), (0, 2), (1, 2)]
    expected = sum(float(rows[i] @ rows[j] / (rows[i].norm() * rows[j].norm())) for i, j in all_pairs) / 3
    assert anisotropy(rows, pairs=30_000) == pytest.approx(expected, abs=0.01)
