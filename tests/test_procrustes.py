"""Orthogonal Procrustes against independent computations: a known rotation is recovered and
retrieval through it is perfect, scipy's solver agrees on arbitrary data, and row normalisation
follows MUSE's recipe."""

import numpy as np
import pytest
import scipy.linalg
import torch

from alignmlm.procrustes import normalize_rows, orthogonal_map, orthogonality_error
from alignmlm.retrieval import precision_at_k, retrieve


def random_rotation(d: int, seed: int) -> torch.Tensor:
    """A random orthogonal [d, d] matrix: the Q of a seeded Gaussian's QR decomposition."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    return q.float()


def test_a_known_rotation_is_recovered_and_retrieval_through_it_is_perfect():
    gen = torch.Generator().manual_seed(0)
    source = torch.randn(500, 32, generator=gen)
    q = random_rotation(32, seed=1)
    target = source @ q
    w = orthogonal_map(source, target)
    assert w.dtype == torch.float32 and w.shape == (32, 32)
    assert torch.allclose(w, q, atol=1e-4)
    assert orthogonality_error(w) < 1e-5
    retrieved = retrieve(source @ w, target, k=1)
    gold = torch.arange(500)[:, None].repeat(1, 2)
    assert precision_at_k(retrieved, gold, ks=(1,)) == {1: 1.0}
    # without the map, the rotated rows are not each other's neighbours
    assert precision_at_k(retrieve(source, target, k=1), gold, ks=(1,))[1] < 0.2


def test_the_map_is_still_found_on_normalised_and_noisy_rows():
    gen = torch.Generator().manual_seed(2)
    source = torch.randn(500, 32, generator=gen) + 3.0  # an offset that centring removes
    q = random_rotation(32, seed=3)
    target = source @ q + 0.01 * torch.randn(500, 32, generator=gen)
    # centring commutes with the rotation and the row norms are preserved, so Q is still the answer
    w = orthogonal_map(normalize_rows(source, center=True), normalize_rows(target, center=True))
    assert torch.allclose(w, q, atol=1e-2)
    assert orthogonality_error(w) < 1e-5


def test_agrees_with_scipy_on_arbitrary_data():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(200, 24))
    b = a @ rng.normal(size=(24, 24)) + rng.normal(size=(200, 24))  # no rotation maps a onto b
    expected, _ = scipy.linalg.orthogonal_procrustes(a, b)  # min ||a R - b||_F: the same convention
    w = orthogonal_map(torch.from_numpy(a), torch.from_numpy(b))
    np.testing.assert_allclose(w.numpy(), expected, atol=1e-5)
    # and it is the minimum: no other rotation does better
    best = np.linalg.norm(a @ w.double().numpy() - b)
    for seed in range(5):
        other = random_rotation(24, seed=10 + seed).double().numpy()
        assert best <= np.linalg.norm(a @ other - b)


def test_orthogonality_error_measures_the_departure_from_a_rotation():
    assert orthogonality_error(torch.eye(8)) == 0.0
    w = torch.eye(8)
    w[2, 2] = 1.1  # column 2 has squared length 1.21
    assert orthogonality_error(w) == pytest.approx(0.21, abs=1e-6)


@pytest.mark.parametrize(
    "source, target, shapes",
    [
        (torch.zeros(5, 3), torch.zeros(5, 4), r"\[5, 3\] and \[5, 4\]"),
        (torch.zeros(5, 3), torch.zeros(6, 3), r"\[5, 3\] and \[6, 3\]"),
        (torch.zeros(3), torch.zeros(3), r"\[3\] and \[3\]"),
        (torch.zeros(0, 3), torch.zeros(0, 3), r"at least one pair .*\[0, 3\]"),
    ],
)
def test_shape_errors_name_the_shapes(source, target, shapes):
    with pytest.raises(ValueError, match=shapes):
        orthogonal_map(source, target)


def test_normalize_rows_follows_renorm_center_renorm():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 6)) * rng.uniform(0.1, 10, size=(50, 1)) + 2.0

    def unit(m):
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    expected = unit(unit(x) - unit(x).mean(axis=0))
    got = normalize_rows(torch.from_numpy(x), center=True)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(normalize_rows(torch.from_numpy(x)).numpy(), unit(x), atol=1e-6)
