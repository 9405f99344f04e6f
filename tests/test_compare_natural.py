"""compare on a natural pair (English-Turkish): its cells are named by its languages (en-tr),
POS B_S / B_Z / Δ come from real fine-tuning on the two treebanks, and its rows are never set
beside the paper's figures (which are of synthetic transformations)."""

import csv
import json
import shutil
import sys

import pytest
from conftest import refusal, run
from test_compare_grid import paper_rows
from test_pos_natural import make_natural_pair, natural_manifest, prepare_natural_pos, record, treebanks

from alignmlm.cli import compare


@pytest.mark.slow
def test_compare_runs_a_natural_pairs_cells_with_pos_transfer(tmp_path):
    pair = make_natural_pair(tmp_path, parallel=500)  # XLM's TLM needs parallel text
    banks = treebanks(tmp_path)
    pos = prepare_natural_pos(banks["en"], banks["tr"], tmp_path / "pos", "--lang1", "en", "--lang2", "tr")
    out = tmp_path / "out"
    proc = run([sys.executable, "-m", "alignmlm", "compare", "--pair", pair, "--pos", pos, "--out", out,
                "--objectives", "mlm,xlm", "--seeds", "1", "--jobs", "2", "--max-update", "20",
                "--finetune-updates", "20", "--analyze"])  # fmt: skip
    assert "warning" not in proc.stderr  # the task data names the pair's languages
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["objective"], r["transform"]) for r in rows] == [("mlm", "en-tr"), ("xlm", "en-tr")]
    for r in rows:
        cell = out / f"{r['objective']}__en-tr__seed1"
        transfer = json.loads((cell / "pos.json").read_text())
        assert float(r["pos_B_Z"]) == transfer["B_Z"] and float(r["pos_B_S"]) == transfer["B_S"]
        assert float(r["pos_delta"]) == pytest.approx(float(r["pos_B_Z"]) - float(r["pos_B_S"]), abs=0.01)
        assert 0 < float(r["pos_B_Z"]) < 100
        # B_Z: trained on English, tested on the Turkish test split (120 sentences)
        log = (cell / "pos" / "B_Z" / "stdout").read_text()
        assert f"{pos / 'train.conllu'}: 300 sentences" in log
        assert f"{pos / 'test_derived.conllu'}: 120 sentences" in log
        alignment = json.loads((cell / "alignment.json").read_text())
        assert float(r["heldout_p1_nn"]) == alignment["heldout"]["p1_nn"]
        assert r["paper_p1_nn"] == ""  # the paper's protocol needs a script change
        # --analyze: the cell's analysis, on the pair's parallel validation text and the POS data
        analysis = json.loads((cell / "analysis.json").read_text())
        assert float(r["procrustes_heldout_p1_nn"]) == analysis["procrustes"]["after"]["heldout"]["p1_nn"]
        assert float(r["cka_last_layer"]) == analysis["layers"]["per_layer"][-1]["cka"]
        assert float(r["probe_transfer_last_layer"]) == analysis["probe"]["per_layer"][-1]["accuracy_2"]
        assert analysis["procrustes"]["before"]["heldout"] == alignment["heldout"]
        assert analysis["layers"]["sentences"] + analysis["layers"]["left_out_longer_than_the_model"] == 50
    table = (out / "results.md").read_text()
    assert "| mlm | en-tr | " in table and "| xlm | en-tr | " in table
    assert "Natural pairs (en-tr): language 2 is a language of its own" in table
    assert "*paper*" not in table and "In the paper's shape" not in table
    assert "- POS, alignment P@1, paper protocol: a correlation needs at least 3 cells" in table
    assert (out / "alignment_vs_transfer.png").stat().st_size > 0 and (out / "layers.png").stat().st_size > 0
    assert "| mlm | en-tr | " in table[table.index("Analysis (alignmlm analyze") :]


def natural_rows(seeds=(1, 2)) -> list:
    """Rows of an en-tr pair's cells (no paper-protocol P@1), one per objective and seed."""
    rows = []
    for k, objective in enumerate(("mlm", "xlm", "align_mlm")):
        for seed in seeds:
            row = {"objective": objective, "transform": "en-tr", "seed": seed, "paper_p1_nn": None,
                   "heldout_p1_nn": 10.0 * (k + 1) + seed, "heldout_p1_csls": None, "valid_mlm_loss": 6.0}  # fmt: skip
            for task in ("pos", "ner", "nli"):
                b_s, b_z = 90.0, 40.0 + 10 * k + seed
                row.update({f"{task}_B_S": b_s, f"{task}_B_Z": b_z, f"{task}_delta": b_z - b_s})
            rows.append(row)
    return rows


def test_natural_rows_are_reported_without_the_papers_figures(tmp_path):
    rows = paper_rows(seeds=(1, 2)) + natural_rows()
    compare.collect(tmp_path, rows, ["pos", "ner", "nli"], [1, 2], natural=frozenset({"en-tr"}))
    lines = (tmp_path / "results.md").read_text().splitlines()
    shape = next(i for i, line in enumerate(lines) if line.startswith("In the paper's shape"))
    # the main table has the natural cells ...
    main = [line for line in lines[:shape] if line.startswith("| ") and " | en-tr | " in line]
    assert [line.split(" | ")[0] for line in main] == ["| mlm", "| xlm", "| align_mlm"]
    assert "| 90.0 ± 0.0 (2) | 61.5 ± 0.7 (2) | -28.5 ± 0.7 (2) |" in main[2]  # align_mlm POS
    # ... the table in the paper's shape (its 12 cells, each with the paper's row) does not
    end = lines.index("", shape + 2)
    assert len([line for line in lines[shape + 4 : end] if line.startswith("| | *paper* |")]) == 12
    assert not any("en-tr" in line for line in lines[shape:end])
    ordering = [line for line in lines if "pairs of objectives in the paper's order" in line]
    assert len(ordering) == 9 and not any("en-tr" in line for line in ordering)
    note = next(line for line in lines if line.startswith("Natural pairs (en-tr)"))
    assert "never compared with the paper's figures" in note
    # the correlation: paper-protocol P@1 over the 12 synthetic cells, held-out P@1 over all 15
    pos = [line for line in lines if line.startswith("- POS Δ vs ")]
    assert all("12 cells" in line for line in pos if "paper protocol" in line)
    assert all("15 cells" in line for line in pos if "held-out" in line)


def test_a_natural_pair_alone_has_no_paper_table(tmp_path, monkeypatch):
    compare.collect(
        tmp_path, natural_rows(seeds=(1,)), ["pos", "ner", "nli"], [1], natural=frozenset({"en-tr"})
    )
    table = (tmp_path / "results.md").read_text()
    assert "In the paper's shape" not in table and "*paper*" not in table
    assert "order by Δ against the paper's" not in table
    assert "- POS Δ vs held-out P@1 (NN): Spearman" in table  # 3 cells: one per objective
    from test_compare import drawn_figure

    ax = drawn_figure(monkeypatch, tmp_path, natural_rows(seeds=(1,)))
    assert sorted(a.get_text() for a in ax.texts) == ["align_mlm (en-tr)", "mlm (en-tr)", "xlm (en-tr)"]
    assert ax.get_xlabel() == "held-out P@1 (NN) (%)"  # no paper-protocol figure for a natural pair


@pytest.fixture
def natural_pair_manifest(tmp_path):
    """A natural en-tr pair's manifest with the dictionaries its fingerprint hashes."""
    root = natural_manifest(tmp_path / "en_tr", "en", "tr")
    (root / "bin").mkdir()
    (root / "bin" / "dict.txt").write_text("▁the 10\n")
    return root


def pos_dir(path, **fields):
    """Task data with every split file compare checks for, and a record of FIELDS."""
    data = record(path, **fields)
    for split in compare.TASK_SPLITS:
        (data / f"{split}.conllu").write_text("")
    return data


def test_compare_refuses_task_data_of_the_other_kind_before_anything_runs(
    natural_pair_manifest, manifest_pair, tmp_path
):
    synthetic = pos_dir(tmp_path / "synthetic", kind="synthetic", transform="trans+inv", seed=1)
    error = refusal("compare", "--pair", natural_pair_manifest, "--pos", synthetic, "--out", tmp_path / "o")
    assert error.startswith(f"error: --pos {synthetic} was derived with --transform trans+inv (a synthetic")
    assert f"{natural_pair_manifest.resolve()} is a natural pair (en, tr)" in error
    natural = pos_dir(tmp_path / "natural", kind="natural", languages=["en", "tr"], transform=None, seed=None)
    pair = tmp_path / "trans_inv"
    shutil.copytree(manifest_pair, pair)
    (pair / "bin" / "dict.txt").write_text("▁the 10\n")
    error = refusal("compare", "--pair", pair, "--pos", natural, "--out", tmp_path / "o")
    assert (
        "holds a natural second language" in error and "is a synthetic pair (--transform trans+inv)" in error
    )
    assert not (tmp_path / "o").exists()
