"""The comparison runner on a 2-objective x 1-transform grid of tiny models."""
import csv
import json
import sys

import pytest

from conftest import REPO, run


@pytest.fixture(scope="module")
def tiny_pos(tmp_path_factory):
    source = tmp_path_factory.mktemp("pos_source")
    for name, n in (("train", 300), ("dev", 100), ("test", 100)):
        text = (REPO / "data" / "en_ewt" / "pos" / f"{name}.conllu").read_text(encoding="utf-8")
        (source / f"{name}.conllu").write_text("\n\n".join(text.split("\n\n")[:n]) + "\n\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("pos")
    run([sys.executable, "-m", "data_prep.prepare_pos", "--conllu-dir", source, "--transform",
         "trans+inv", "--out", out, "--overwrite"])
    return out


@pytest.mark.slow
def test_compare_writes_table_csv_plot_and_resumes(tiny_pair, tiny_pos, nli_data, tmp_path):
    compare = lambda *more: [sys.executable, "scripts/compare.py", "--pair", tiny_pair, "--pos", tiny_pos,
                             "--out", tmp_path, "--max-update", "20", "--finetune-updates", "20", *more]
    command = compare("--objectives", "mlm,align_mlm")
    first = run(command)
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [(r["objective"], r["transform"]) for r in rows] == [("mlm", "trans+inv"), ("align_mlm", "trans+inv")]
    for r in rows:
        assert 0 <= float(r["pos_B_S"]) <= 100 and 0 <= float(r["pos_B_Z"]) <= 100
        assert float(r["pos_delta"]) == pytest.approx(float(r["pos_B_Z"]) - float(r["pos_B_S"]), abs=0.01)
    assert float(rows[1]["p1_paper"]) > float(rows[0]["p1_paper"]) + 20  # ALIGN-MLM aligns
    table = (tmp_path / "results.md").read_text()
    assert table.startswith("| objective | transform | POS B_S / B_Z / Δ |")
    assert "| align_mlm | trans+inv |" in table and "Spearman" in table
    import matplotlib.image
    png = tmp_path / "alignment_vs_transfer.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(png).shape[:2] == (480, 600)  # 5 x 4 inches at 120 dpi
    assert "done before" not in first.stdout

    second = run(command)
    assert second.stdout.count("done before, reusing") == 6  # 3 steps x 2 cells
    assert list(csv.DictReader(open(tmp_path / "results.csv"))) == rows
    assert "nli_B_S" not in rows[0]

    # --nli adds the NLI step to a finished cell (one cell, to keep the test short)
    third = run(compare("--objectives", "mlm", "--nli", nli_data))
    assert third.stdout.count("done before, reusing") == 3 and third.stdout.count("NLI B_Z / B_S ...") == 1
    [r] = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert {k: r[k] for k in rows[0]} == rows[0]
    assert float(r["nli_delta"]) == pytest.approx(float(r["nli_B_Z"]) - float(r["nli_B_S"]), abs=0.01)
    assert 0 <= float(r["nli_B_S"]) <= 100 and 0 <= float(r["nli_B_Z"]) <= 100
    assert (tmp_path / "results.md").read_text().startswith(
        "| objective | transform | POS B_S / B_Z / Δ | NLI B_S / B_Z / Δ | alignment P@1")


@pytest.mark.slow
def test_compare_submits_each_cell_to_slurm_and_collects(localhost_cluster, tiny_pair, tiny_pos, tmp_path):
    command = [sys.executable, "scripts/compare.py", "--pair", tiny_pair, "--pos", tiny_pos,
               "--out", tmp_path, "--objectives", "mlm,align_mlm", "--max-update", "20",
               "--finetune-updates", "20", "--slurm", "--slurm-args", "--cpus-per-task=1 --time=10:00"]
    first = run(command, env=localhost_cluster)
    assert first.stdout.count("submitted job") == 2 and "run this command again" in first.stdout
    assert not (tmp_path / "results.csv").exists()
    again = run(command, env=localhost_cluster)  # the jobs take ~30 s: still queued or running
    assert again.stdout.count("not submitted again") == 2 and "submitted job" not in again.stdout

    last = run(command + ["--wait"], env=localhost_cluster)
    assert last.stdout.count("done before, reusing") == 6  # every step ran in the jobs
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [r["objective"] for r in rows] == ["mlm", "align_mlm"]
    assert float(rows[1]["p1_paper"]) > float(rows[0]["p1_paper"]) + 20
    for objective, other in (("mlm", "align_mlm"), ("align_mlm", "mlm")):
        cell = tmp_path / f"{objective}__trans_inv"
        job_id = json.loads((cell / "slurm_job.json").read_text())["job_id"]
        job_log = (cell / f"slurm-{job_id}.out").read_text()  # each job ran its own cell only
        assert f"] {objective} × trans+inv: pretrain: " in job_log and f"] {objective} × trans+inv: POS B_Z / B_S: " in job_log
        assert f"] {other} × trans+inv" not in job_log
