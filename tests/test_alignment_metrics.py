"""The metrics a reviewer reads: retrieval (NN, CSLS, P@k) against independent computations, the
paper's correlations from its own cells, the paper's alignment protocol, and word-level retrieval
on a natural pair (near-identical rows score ~100 %, shuffled rows chance)."""

import json
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from conftest import BUNDLED_CORPUS, checkpoint_state, prepare_pair, run, train, upper_case_corpora

from alignmlm import paper_results
from alignmlm.correlation import correlate
from alignmlm.pair import PreparedPair
from alignmlm.retrieval import precision_at_k, retrieve


def reference_csls(q: np.ndarray, c: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    """CSLS written from its definition, one query and one candidate at a time."""

    def unit(m):
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    q, c, pool = unit(q), unit(c), unit(pool)
    scores = np.zeros((len(q), len(c)))
    for i in range(len(q)):
        r_t = np.mean(sorted(q[i] @ c.T, reverse=True)[:k])
        for j in range(len(c)):
            r_s = np.mean(sorted(c[j] @ pool.T, reverse=True)[:k])
            scores[i, j] = 2 * float(q[i] @ c[j]) - r_t - r_s
    return scores


def test_nn_and_csls_retrieval_match_their_definitions():
    rng = np.random.default_rng(0)
    base = rng.normal(size=8)
    q, c, pool = base + rng.normal(size=(30, 8)), rng.normal(size=(50, 8)), base + rng.normal(size=(70, 8))
    c[7] = base  # a hub: close to every query and to the whole source pool
    top_nn = retrieve(torch.tensor(q), torch.tensor(c), k=5, method="nn", chunk_bytes=4 * 50 * 7)

    def unit(m):
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    expected_nn = np.argsort(-(unit(q) @ unit(c).T), axis=1)[:, :5]
    assert np.array_equal(top_nn.numpy(), expected_nn)
    top_csls = retrieve(
        torch.tensor(q),
        torch.tensor(c),
        k=5,
        method="csls",
        source_pool=torch.tensor(pool),
        csls_k=10,
        chunk_bytes=4 * 50 * 7,
    )
    expected_csls = np.argsort(-reference_csls(q, c, pool, 10), axis=1)[:, :5]
    assert np.array_equal(top_csls.numpy(), expected_csls)
    from alignmlm.retrieval import mean_top_k_cosine

    r_source = mean_top_k_cosine(torch.tensor(c), torch.tensor(pool), 10)  # reused across calls
    assert torch.equal(
        retrieve(torch.tensor(q), torch.tensor(c), k=5, method="csls", r_source=r_source), top_csls
    )
    assert (top_nn[:, 0] == 7).sum() > (top_csls[:, 0] == 7).sum()  # CSLS demotes the hub
    from alignmlm.retrieval import retrieve_nn_and_csls

    both = retrieve_nn_and_csls(torch.tensor(q), torch.tensor(c), r_source, k=5, chunk_bytes=4 * 50 * 7)
    assert torch.equal(both[0], top_nn) and torch.equal(both[1], top_csls)  # one product, both methods


def test_precision_at_k_counts_any_gold_translation():
    retrieved = torch.tensor([[3, 1, 0], [2, 0, 1], [0, 1, 2], [1, 2, 3]])
    gold = torch.tensor([[0, 3], [1, 0], [1, 1], [2, 2], [3, 0]])  # query 1 has two translations
    assert precision_at_k(retrieved, gold, ks=(1, 2, 3)) == {1: 0.25, 2: 0.5, 3: 0.75}
    with pytest.raises(ValueError, match="P@5 needs at least 5"):
        precision_at_k(retrieved, gold, ks=(1, 5))


# the paper's 12 cells (MLM/XLM/DICT-MLM/ALIGN-MLM x Trans/Trans+Inv/Trans+Syn), as printed
PAPER_P1 = [paper_results.ALIGNMENT_P1[cell] for cell in paper_results.cells()]
PAPER_DELTA = {
    name: [paper_results.scores(*cell, task)[2] for cell in paper_results.cells()]
    for name, task in (("XNLI", "nli"), ("NER", "ner"), ("POS", "pos"))
}


def test_the_papers_table_is_the_one_in_the_design_notes():
    assert PAPER_P1 == [90.0, 0.3, 57.3, 97.7, 85.6, 98.6, 95.7, 64.2, 93.7, 98.4, 95.2, 98.2]
    assert PAPER_DELTA["POS"] == [-0.4, -38.5, -2.0, -0.2, -33.2, -0.9, -0.3, -19.0, -1.0, -0.1, -3.0, -0.8]
    assert PAPER_DELTA["NER"][:3] == [-2.6, -43.3, -19.0] and PAPER_DELTA["XNLI"][9] == 0.5
    for cell in paper_results.cells():  # delta is B_Z - B_S of the unrounded scores
        for task in paper_results.TASKS:
            b_s, b_z, delta = paper_results.scores(*cell, task)
            assert abs((b_z - b_s) - delta) <= 0.11


@pytest.mark.parametrize("task, rho", [("XNLI", 0.727), ("NER", 0.781), ("POS", 0.734)])
def test_the_papers_cells_give_the_papers_correlations(task, rho):
    result = correlate([[(p, d)] for p, d in zip(PAPER_P1, PAPER_DELTA[task])], "spearman")
    assert round(result.value, 3) == rho == paper_results.CORRELATION[{"XNLI": "nli"}.get(task, task.lower())]
    assert result.low < result.value < result.high and result.cells == 12 and result.seeds == 12
    from scipy.stats import pearsonr

    pearson = correlate([[(p, d)] for p, d in zip(PAPER_P1, PAPER_DELTA[task])], "pearson")
    assert pearson.value == pytest.approx(pearsonr(PAPER_P1, PAPER_DELTA[task])[0])


def test_correlation_uses_cell_means_and_seeds_widen_the_interval():
    rng = np.random.default_rng(1)
    x = np.arange(8.0)
    y = 2 * x
    exact = [[(a, b)] for a, b in zip(x, y)]
    noisy = [[(a + e1, b + e2) for e1, e2 in rng.normal(scale=3, size=(3, 2))] for a, b in zip(x, y)]
    means = [tuple(np.mean(cell, axis=0)) for cell in noisy]
    from scipy.stats import spearmanr

    assert correlate(noisy).value == pytest.approx(spearmanr(*zip(*means))[0])
    tight, loose = correlate(exact, "pearson"), correlate(noisy, "pearson")
    assert tight.low == pytest.approx(1.0) and loose.low < 0.95  # seed noise enters the interval
    with pytest.raises(ValueError, match="at least 3 cells"):
        correlate(exact[:2])


@pytest.mark.slow
def test_paper_protocol_is_the_authors_procedure(tiny_pair):
    """Against their script's steps (numpy seed 42, shuffle, last 40 %, argmax over the whole
    derived block) written out independently on a constructed embedding matrix."""
    from fairseq.data import Dictionary

    from alignmlm.alignment_benchmark import AlignmentBenchmark

    d = Dictionary.load(str(tiny_pair / "bin" / "dict.txt"))
    d.add_symbol("<mask>")
    bench = AlignmentBenchmark(PreparedPair.load(tiny_pair), d)
    v, first = bench.twin_offset, d.nspecial
    rng = np.random.default_rng(0)
    E = rng.normal(size=(len(d), 16)).astype(np.float32)
    aligned = rng.random(v) < 0.6  # 60 % of the twins are near-copies
    E[first + v : first + 2 * v][aligned] = E[first : first + v][aligned] + 0.01 * rng.normal(
        size=(aligned.sum(), 16)
    )
    np.random.seed(42)
    indices = list(range(v))
    np.random.shuffle(indices)
    validation = indices[-int(v * 0.4) :]
    src = E[first : first + v] / np.linalg.norm(E[first : first + v], axis=1, keepdims=True)
    tgt = E[first + v : first + 2 * v] / np.linalg.norm(E[first + v : first + 2 * v], axis=1, keepdims=True)
    theirs = np.mean(np.argmax(src[validation] @ tgt.T, axis=1) == np.array(validation)) * 100
    model = FakeModel(torch.tensor(E))
    ours = bench.evaluate(model)["paper"]
    assert ours["queries"] == len(validation) and ours["p1_nn"] == pytest.approx(theirs, abs=0.01)
    assert 50 < ours["p1_nn"] < 70


class FakeModel(torch.nn.Module):
    """Just the embedding table where a RoBERTa keeps it."""

    def __init__(self, weight):
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.sentence_encoder = torch.nn.Module()
        self.encoder.sentence_encoder.embed_tokens = torch.nn.Embedding.from_pretrained(weight)


@pytest.fixture(scope="module")
def natural_pair(tmp_path_factory):
    """English and UPPER-CASED English as a natural pair with a joint vocabulary, and a MUSE
    dictionary of frequent words that are single pieces (so that rows can be set per word) plus
    a few words whose two sides are the same string (digits)."""
    tmp = tmp_path_factory.mktemp("natural")
    en, up = upper_case_corpora(tmp, 1500, 1500)
    lines = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()
    words = [
        w
        for w, _ in Counter(
            w for line in lines[:1500] for w in line.split() if w.isalpha() and w.islower()
        ).most_common(400)
    ]
    (tmp / "seed.txt").write_text("".join(f"{w} {w.upper()}\n" for w in words), encoding="utf-8")
    common = ["--corpus", en, "--corpus2", up, "--lang2", "up", "--vocab-size", "800", "--valid-size", "50"]
    prepare_pair(*common, "--dictionary", tmp / "seed.txt", "--out", tmp / "probe")
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tmp / "probe" / "spm.model"))
    single = [w for w in words if len(sp.encode(w)) == 1 and len(sp.encode(w.upper())) == 1]
    pairs = [f"{w} {w.upper()}" for w in single] + ["1 1", "2 2"]
    (tmp / "dict.txt").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    prepare_pair(*common, "--dictionary", tmp / "dict.txt", "--out", tmp / "pair")
    save = tmp / "mlm"
    train(
        "mlm",
        tmp / "pair",
        save,
        "--max-update",
        "2",
        "--max-tokens",
        "1024",
        "--warmup-updates",
        "30",
        "--lr",
        "1e-3",
    )
    return tmp / "pair", save / "checkpoint_last.pt", len(single)


def evaluate_with_rows(pair, checkpoint, out, set_rows):
    """evaluate_alignment.py on a copy of the checkpoint whose target rows `set_rows` rewrote."""
    from fairseq.data import Dictionary

    state = checkpoint_state(checkpoint)
    d = Dictionary.load(str(pair / "bin" / "dict.txt"))
    E = state["model"]["encoder.sentence_encoder.embed_tokens.weight"]
    from alignmlm.data.bilingual_dictionary import read_word_pairs

    heldout = [
        (d.index("▁" + s), d.index("▁" + t))
        for s, t in read_word_pairs(pair / "dict" / "heldout.txt")
        if s != t
    ]
    set_rows(E, heldout)
    torch.save(state, out)
    proc = run([sys.executable, "-m", "alignmlm", "evaluate-alignment", "--checkpoint", out, "--pair", pair])
    return json.loads(proc.stdout), heldout


@pytest.mark.slow
def test_natural_pair_near_identical_rows_score_high_and_shuffled_rows_chance(natural_pair, tmp_path):
    pair, checkpoint, n_words = natural_pair
    manifest = json.loads((pair / "pair.json").read_text())
    assert manifest["dictionary_split"]["by"] == "source word"

    def near_copies(E, heldout):
        for s, t in heldout:
            E[t] = E[s] + 0.01 * torch.randn_like(E[s])

    result, heldout = evaluate_with_rows(pair, checkpoint, tmp_path / "copies.pt", near_copies)
    assert result["heldout"]["queries"] == len(heldout) >= 0.4 * n_words
    assert result["candidates"] == n_words + 2  # target words only: never the query's own row
    for metric in ("p1_nn", "p1_csls"):
        assert result["heldout"][metric] >= 95.0, result["heldout"]
    assert result["paper"]["queries"] == 0  # no script change: the paper's protocol is undefined
    identical = result["heldout_identical"]["queries"] + result["train_identical"]["queries"]
    assert identical == 2  # "1 1" and "2 2", reported apart

    def wrong_copies(E, heldout):  # the held-out rows shuffled: each target copies a wrong source
        sources = [s for s, _ in heldout]
        rolled = sources[1:] + sources[:1]
        for (_, t), wrong in zip(heldout, rolled):
            E[t] = E[wrong] + 0.01 * torch.randn_like(E[wrong])

    result, heldout = evaluate_with_rows(pair, checkpoint, tmp_path / "wrong.pt", wrong_copies)
    assert result["heldout"]["p1_nn"] <= 100.0 / result["candidates"] * 3
