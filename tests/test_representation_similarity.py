"""Linear CKA against its invariances and the HSIC definition, mean pooling against a loop, and
sentence retrieval P@1 against counts made by hand."""

import numpy as np
import pytest
import torch

from alignmlm.representation_similarity import linear_cka, mean_pool, sentence_retrieval_p1


def reference_cka(x: np.ndarray, y: np.ndarray) -> float:
    """CKA from the HSIC definition with linear kernels and the centering matrix H = I - 11^T / n."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = x @ x.T, y @ y.T  # noqa: E741

    def hsic(a, b):
        return np.trace(a @ h @ b @ h)

    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


def gaussian(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_cka_is_one_for_the_same_data_up_to_rotation_scale_and_shift():
    x = gaussian(300, 32, seed=0)
    q, _ = torch.linalg.qr(gaussian(32, 32, seed=1).double())
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-6)
    assert linear_cka(x, x @ q.float()) == pytest.approx(1.0, abs=1e-5)
    assert linear_cka(x, 7.5 * x) == pytest.approx(1.0, abs=1e-6)
    assert linear_cka(x, x - 4.0) == pytest.approx(1.0, abs=1e-6)


def test_cka_of_independent_noise_is_small():
    value = linear_cka(gaussian(2000, 16, seed=2), gaussian(2000, 16, seed=3))
    assert 0 <= value < 0.05


def test_cka_matches_the_hsic_definition():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(120, 20)) + 1.5
    y = x[:, :12] @ rng.normal(size=(12, 9)) + rng.normal(size=(120, 9))  # D1 != D2, related
    expected = reference_cka(x, y)
    assert 0.1 < expected < 0.99
    assert linear_cka(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(expected, abs=1e-10)
    # fp32 inputs are promoted, not computed in fp32
    got = linear_cka(torch.from_numpy(x).float(), torch.from_numpy(y).float())
    assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "x, y, message",
    [
        (torch.zeros(5, 3), torch.zeros(6, 3), r"same N, got \[5, 3\] and \[6, 3\]"),
        (torch.zeros(5), torch.zeros(5, 3), r"same N, got \[5\] and \[5, 3\]"),
        (torch.zeros(1, 3), torch.zeros(1, 4), "at least 2 rows"),
        (torch.ones(4, 3), gaussian(4, 2, seed=0), "constant"),
    ],
)
def test_cka_refuses_what_it_cannot_compare(x, y, message):
    with pytest.raises(ValueError, match=message):
        linear_cka(x, y)


def test_mean_pool_leaves_padding_out():
    hidden = gaussian(4, 7, 5, seed=5).half()
    lengths = [7, 3, 1, 0]
    mask = torch.arange(7)[None, :] < torch.tensor(lengths)[:, None]
    mask[0, 2] = False  # a hole in the middle counts too
    expected = torch.zeros(4, 5)
    for b in range(4):
        kept = [hidden[b, t].float() for t in range(7) if mask[b, t]]
        if kept:
            expected[b] = sum(kept) / len(kept)
    got = mean_pool(hidden, mask)
    assert got.dtype == torch.float32
    assert torch.allclose(got, expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[4, 7, 5\] and \[4, 6\]"):
        mean_pool(hidden, mask[:, :6])


def test_sentence_retrieval_finds_scaled_noisy_copies():
    x = gaussian(300, 16, seed=6)
    y = 2 * x + 1e-3 * gaussian(300, 16, seed=7)
    assert sentence_retrieval_p1(x, y) == 100.0
    assert sentence_retrieval_p1(x, y, chunk_bytes=1) == 100.0  # one row at a time


def test_sentence_retrieval_of_a_permutation_scores_its_fixed_points():
    n = 60
    x = gaussian(n, 16, seed=8)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(9))
    keep = torch.arange(0, n, 4)  # force some fixed points: i -> i for every 4th row
    rest = torch.tensor([int(i) for i in perm if int(i) % 4 != 0])
    perm = torch.empty(n, dtype=torch.long)
    perm[keep] = keep
    perm[torch.tensor([i for i in range(n) if i % 4 != 0])] = rest
    fixed = sum(1 for i in range(n) if int(perm[i]) == i)
    assert fixed >= n // 4
    y = x[perm]  # row j of y is row perm[j] of x
    assert sentence_retrieval_p1(x, y) == pytest.approx(100.0 * fixed / n)


def test_sentence_retrieval_ties_go_to_the_lowest_index():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([[0.0, 1.0], [0.0, 2.0], [1.0, 1.0]])  # rows 0 and 1 of y point the same way
    # x0 is nearest y2 (miss); x1 ties between y0 and y1 and gets y0 (miss); x2 gets y2 (hit)
    assert sentence_retrieval_p1(x, y) == pytest.approx(100.0 / 3)
    with pytest.raises(ValueError, match=r"\[3, 2\] and \[2, 2\]"):
        sentence_retrieval_p1(x, y[:2])
