"""alignmlm analyze: post-hoc Procrustes on a pair's dictionary, layer-wise similarity of parallel
sentences, the UPOS probe across languages; against constructed embeddings and independent
computations (evaluate-alignment, a count of the CoNLL-U words, the model's own forward pass)."""

import json
import sys

import numpy as np
import pytest
import torch
from conftest import refusal, run
from fairseq.data import Dictionary
from test_alignment_metrics import FakeModel

from alignmlm.alignment_benchmark import AlignmentBenchmark
from alignmlm.analysis import layer_similarity, procrustes_alignment
from alignmlm.pair import PreparedPair


def benchmark(pair_dir):
    d = Dictionary.load(str(pair_dir / "bin" / "dict.txt"))
    d.add_symbol("<mask>")
    return AlignmentBenchmark(PreparedPair.load(pair_dir), d), d


@pytest.mark.slow
def test_procrustes_undoes_a_random_rotation_of_one_side(tiny_pair):
    """Twins (language 2) are the original pieces' rows under a random rotation Q: retrieval as
    they are is near chance; after the map fit on the training pairs every held-out word
    retrieves its translation, and the map is orthogonal."""
    bench, d = benchmark(tiny_pair)
    v, first = bench.twin_offset, d.nspecial
    generator = torch.Generator().manual_seed(0)
    e = torch.randn(len(d), 32, generator=generator)
    q, _ = torch.linalg.qr(torch.randn(32, 32, generator=generator))
    e[first + v : first + 2 * v] = e[first : first + v] @ q
    rows = FakeModel(e).encoder.sentence_encoder.embed_tokens.weight
    result = procrustes_alignment(bench, rows, rows)
    heldout = bench.queries["heldout"][0]
    assert result["fit_pairs"] == len(bench.pair_rows["train"][0]) > 50
    assert result["orthogonality_error"] < 1e-5
    assert result["before"]["heldout"]["queries"] == len(heldout) > 50
    assert result["before"]["heldout"]["p1_nn"] < 20
    assert result["after"]["heldout"]["p1_nn"] == 100.0 and result["after"]["heldout"]["p1_csls"] == 100.0
    # without the rotation (Q = I) the two sides are already aligned: the map changes nothing
    e[first + v : first + 2 * v] = e[first : first + v]
    same = procrustes_alignment(bench, e, e)
    assert same["before"]["heldout"]["p1_nn"] == 100.0 == same["after"]["heldout"]["p1_nn"]


@pytest.mark.slow
def test_layer_similarity_of_sentences_with_themselves(pretrained, tiny_pair):
    """The same sentences on both sides through one model: CKA 1 and retrieval 100 % at every
    layer; against another order of the sentences, retrieval counts only the fixed points."""
    from alignmlm.checkpoint import load_checkpoint
    from alignmlm.cli.analyze import parallel_sentences

    model, task = load_checkpoint(pretrained, data=tiny_pair / "bin")
    d = task.dictionary
    side1, side2, too_long = parallel_sentences(PreparedPair.load(tiny_pair), d, 60, 64)
    assert len(side1) == 60 and all(s[0] == d.bos() and s[-1] == d.eos() for s in side1 + side2)
    specials = {d.bos(), d.eos(), d.unk()}
    rows = layer_similarity(model, model, side1, side1, specials, d.pad())
    layers = model.encoder.sentence_encoder.layers
    assert [r["layer"] for r in rows] == list(range(len(layers) + 1))
    for r in rows:
        assert r["cka"] == pytest.approx(1.0, abs=1e-4)
        assert r["retrieval_p1_1to2"] == 100.0 == r["retrieval_p1_2to1"]
    shifted = side1[1:] + side1[:1]  # nobody's own sentence in its place
    rows = layer_similarity(model, model, side1, shifted, specials, d.pad())
    assert all(r["retrieval_p1_1to2"] == 0.0 for r in rows)
    # the pooled states are the model's own: layer 2 of sentence 0 against a direct forward pass
    from alignmlm.layer_states import sentence_vectors

    tokens = side1[0]
    _, extra = model.encoder.extract_features(tokens[None], return_all_hiddens=True)
    keep = ~torch.isin(tokens, torch.tensor(sorted(specials)))
    direct = extra["inner_states"][2][:, 0][keep].mean(0)
    pooled = sentence_vectors(model, side1[:5], 0, specials, d.pad(), batch_size=2)[2][0]
    assert torch.allclose(pooled, direct, atol=1e-5)


def conllu_words(path) -> int:
    """Words (integer ids) of a CoNLL-U file, counted without the toolkit's reader."""
    count = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) == 10 and fields[0].isdigit():
            count += 1
    return count


@pytest.mark.slow
def test_analyze_command(pretrained, tiny_pair, tiny_pos, tmp_path):
    out = tmp_path / "analysis.json"
    proc = run(
        [sys.executable, "-m", "alignmlm", "analyze", "--checkpoint", pretrained, "--pair", tiny_pair,
         "--pos", tiny_pos, "--sentences", "50", "--output", out]
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert json.loads(proc.stdout[proc.stdout.index("{") :]) == result
    # before the map: exactly what evaluate-alignment reports for the checkpoint
    evaluated = tmp_path / "alignment.json"
    run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "evaluate-alignment",
            "--checkpoint",
            pretrained,
            "--output",
            evaluated,
        ]
    )
    alignment = json.loads(evaluated.read_text())
    assert (
        set(result["procrustes"]["before"])
        == {"heldout", "heldout_identical"}
        == set(result["procrustes"]["after"])
    )
    assert result["procrustes"]["before"]["heldout"] == alignment["heldout"]
    assert result["procrustes"]["orthogonality_error"] < 1e-5
    assert result["layers"]["sentences"] == 50
    assert len(result["layers"]["per_layer"]) == 3 == len(result["probe"]["per_layer"])  # tiny: 2 layers
    # the probe reads every word of the three splits (100 sentences each) that fits in the model
    words, cut = result["probe"]["words"], result["probe"]["words_cut_by_the_model_length"]
    assert cut["train"] > 0  # the checkpoint has 64 positions: some sentences are longer
    assert {name: words[name] + cut[name] for name in words} == {
        "train": conllu_words(tiny_pos / "train.conllu"),
        "test1": conllu_words(tiny_pos / "test.conllu"),
        "test2": conllu_words(tiny_pos / "test_derived.conllu"),
    }
    # majority tag of the test words: a probe on layer 0 of language 1 must beat it
    tags = [
        line.split("\t")[3]
        for line in (tiny_pos / "test.conllu").read_text(encoding="utf-8").splitlines()
        if line.count("\t") == 9 and line.split("\t")[0].isdigit()
    ]
    majority = 100.0 * max(np.unique(tags, return_counts=True)[1]) / len(tags)
    assert result["probe"]["per_layer"][0]["accuracy_1"] > majority + 10
    assert out.with_suffix(".png").stat().st_size > 0
    # a second model for language 2 (here the same checkpoint): the same figures
    again = tmp_path / "again.json"
    run(
        [sys.executable, "-m", "alignmlm", "analyze", "--checkpoint", pretrained, "--target-checkpoint",
         pretrained, "--sentences", "50", "--output", again]
    )  # fmt: skip
    second = json.loads(again.read_text())
    assert second["procrustes"] == result["procrustes"] and second["layers"] == result["layers"]


def test_analyze_refuses_bad_arguments(tmp_path):
    error = refusal("analyze", "--checkpoint", tmp_path / "none.pt", "--output", tmp_path / "no" / "a.json")
    assert (
        error
        == f"error: --output {tmp_path / 'no' / 'a.json'}: its directory {tmp_path / 'no'} does not exist; create it or choose another path"
    )
    error = refusal(
        "analyze", "--checkpoint", tmp_path / "none.pt", "--sentences", "1", "--output", tmp_path / "a.json"
    )
    assert error == "error: --sentences must be at least 2, got 1"


def test_compare_reports_the_analysis_of_each_cell(tmp_path):
    """compare --analyze's columns: in results.csv as given, in results.md as mean ± std over
    seeds (CKA with three decimals); layers averaged over seeds layer by layer for the plot."""
    import csv

    from alignmlm.cli import compare

    rows = []
    for seed, (p1, cka) in enumerate([(10.0, 0.5), (20.0, 0.7)], start=1):
        rows.append(
            {**dict.fromkeys(compare.ALIGNMENT_COLUMNS), "objective": "mlm", "transform": "trans+inv", "seed": seed, "heldout_p1_nn": 1.0,
             "valid_mlm_loss": 7.0, "pos_B_S": 70.0, "pos_B_Z": 20.0, "pos_delta": -50.0,
             "procrustes_heldout_p1_nn": p1, "procrustes_heldout_p1_csls": p1 + 1, "cka_last_layer": cka,
             "sentence_p1_last_layer": 3.0, "probe_transfer_last_layer": None}
        )  # fmt: skip
    compare.collect(tmp_path, rows, ["pos"], [1, 2])
    written = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [r["cka_last_layer"] for r in written] == ["0.5", "0.7"]
    table = (tmp_path / "results.md").read_text()
    line = next(
        x
        for x in table.splitlines()[table.splitlines().index("|---|---|---|---|---|---|---|") :]
        if "mlm" in x
    )
    assert (
        line
        == "| mlm | trans+inv | 15.0 ± 7.1 (2) | 16.0 ± 7.1 (2) | 0.600 ± 0.141 (2) | 3.0 ± 0.0 (2) | — |"
    )
    runs = [
        {"layers": {"per_layer": [{"layer": 0, "cka": 0.2}, {"layer": 1, "cka": 0.4}]}},
        {"layers": {"per_layer": [{"layer": 0, "cka": 0.4}, {"layer": 1, "cka": 0.8}]}},
    ]
    mean = compare.mean_layers(runs)
    assert (
        mean["layers"]["per_layer"]
        == [
            {"layer": 0.0, "cka": pytest.approx(0.3)},
            {"layer": 1.0, "cka": pytest.approx(0.6)},
        ]
        and "probe" not in mean
    )


@pytest.mark.slow
def test_two_monolingual_models(tiny_pair, tmp_path):
    """Conneau et al.'s setting: one MLM trained on each language alone (`-- task.langs=L`, the
    same pair's data and vocabulary); analyze --target-checkpoint takes language 2's rows from the
    second model: its figures before the map are those of one table made of the two models'
    rows (language 1's from the first, language 2's from the second)."""
    from conftest import train

    from alignmlm.checkpoint import load_checkpoint
    from alignmlm.models.embeddings import input_embedding_matrix

    first, second = tmp_path / "mlm_en", tmp_path / "mlm_derived"
    train("mlm", tiny_pair, first, "--max-update", "20", overrides=["task.langs=en"])
    train("mlm", tiny_pair, second, "--max-update", "20", overrides=["task.langs=en_trans_inv"])
    out = tmp_path / "two.json"
    run([sys.executable, "-m", "alignmlm", "analyze", "--checkpoint", first / "checkpoint_last.pt",
         "--target-checkpoint", second / "checkpoint_last.pt", "--sentences", "20", "--output", out])  # fmt: skip
    result = json.loads(out.read_text())
    bench, d = benchmark(tiny_pair)
    v, start = bench.twin_offset, d.nspecial
    rows = input_embedding_matrix(load_checkpoint(first / "checkpoint_last.pt")[0]).detach().clone()
    rows2 = input_embedding_matrix(load_checkpoint(second / "checkpoint_last.pt")[0]).detach()
    rows[start + v : start + 2 * v] = rows2[start + v : start + 2 * v]
    combined = bench.evaluate(FakeModel(rows))
    assert result["procrustes"]["before"]["heldout"] == combined["heldout"]
    assert result["target_checkpoint"] == str(second / "checkpoint_last.pt")
