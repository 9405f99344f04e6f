"""The comparison runner on a 2-objective x 1-transform grid of tiny models."""

import csv
import json
import sys

import numpy as np
import pytest
from conftest import refusal, run


@pytest.mark.slow
def test_compare_seeds_side_by_side_table_csv_plot_and_resume(tiny_pair, tiny_pos, nli_data, tmp_path):
    def compare(*more):
        return [
            sys.executable,
            "-m",
            "alignmlm",
            "compare",
            "--pair",
            tiny_pair,
            "--pos",
            tiny_pos,
            "--out",
            tmp_path,
            "--max-update",
            "20",
            "--finetune-updates",
            "20",
            *more,
        ]

    command = compare("--objectives", "mlm,align_mlm", "--seeds", "1,2", "--jobs", "2")
    first = run(command)
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [(r["objective"], r["seed"]) for r in rows] == [
        ("mlm", "1"),
        ("mlm", "2"),
        ("align_mlm", "1"),
        ("align_mlm", "2"),
    ]
    for r in rows:
        assert float(r["pos_delta"]) == pytest.approx(float(r["pos_B_Z"]) - float(r["pos_B_S"]), abs=0.01)
        cell = tmp_path / f"{r['objective']}__trans_inv__seed{r['seed']}"
        # the CSV row is the cell's own results, and the cell ran with its seed
        assert (
            float(r["heldout_p1_nn"]) == json.loads((cell / "alignment.json").read_text())["heldout"]["p1_nn"]
        )
        assert f" common.seed={r['seed']} " in (cell / "pretrain.stdout").read_text()
    for objective in ("mlm", "align_mlm"):
        a, b = (r for r in rows if r["objective"] == objective)
        assert a["valid_mlm_loss"] != b["valid_mlm_loss"]  # two seeds, two different runs
    assert (
        min(float(r["paper_p1_nn"]) for r in rows[2:]) > max(float(r["paper_p1_nn"]) for r in rows[:2]) + 20
    )
    table = (tmp_path / "results.md").read_text()
    mlm = [float(r["pos_B_S"]) for r in rows[:2]]
    import statistics

    assert f"| mlm | trans+inv | {statistics.mean(mlm):.1f} ± {statistics.stdev(mlm):.1f} (2) |" in table
    assert (
        "- POS, alignment P@1, paper protocol: a correlation needs at least 3 cells with both figures (2 here)"
        in table
    )
    # the plot is drawn from these rows (what it shows: test_plot_...): drawn again here from
    # the CSV, it is the same image
    from alignmlm.cli.compare import group, plot

    read_back = [
        {k: v if k in ("objective", "transform") else float(v) if v else None for k, v in r.items()}
        for r in rows
    ]
    plot(tmp_path / "from_csv.png", group(read_back), ["pos"])
    assert (tmp_path / "from_csv.png").read_bytes() == (tmp_path / "alignment_vs_transfer.png").read_bytes()
    assert "done before" not in first.stdout

    second = run(command)
    assert second.stdout.count("done before with the same settings, reusing") == 12  # 3 steps x 4 cells
    assert list(csv.DictReader(open(tmp_path / "results.csv"))) == rows

    # other settings: refused before anything runs, nothing overwritten
    for changed, what in (
        (["--max-update", "30"], "pretrain.max_update: 20 -> 30"),
        (["--arch", "roberta_align_paper"], "pretrain.arch: roberta_tiny -> roberta_align_paper"),
        (["--finetune-updates", "25"], "finetune.updates: 20 -> 25"),
    ):
        proc = run(command + changed, check=False)
        assert proc.returncode != 0 and "holds cells produced with other settings" in proc.stderr
        assert "mlm__trans_inv__seed1: " in proc.stderr and what in proc.stderr, proc.stderr
        assert "reusing" not in proc.stdout
        assert list(csv.DictReader(open(tmp_path / "results.csv"))) == rows

    # --nli adds the NLI step to a finished cell (one cell, to keep the test short)
    third = run(compare("--objectives", "mlm", "--nli", nli_data))
    assert third.stdout.count("reusing") == 3 and third.stdout.count("NLI B_Z / B_S ...") == 1
    [r] = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert {k: r[k] for k in rows[0]} == rows[0]
    assert float(r["nli_delta"]) == pytest.approx(float(r["nli_B_Z"]) - float(r["nli_B_S"]), abs=0.01)


def cell_row(objective, seed, paper_p1, pos_delta, heldout_p1=None):
    return {
        "objective": objective,
        "transform": "trans+inv",
        "seed": seed,
        "paper_p1_nn": paper_p1,
        "heldout_p1_nn": heldout_p1,
        "pos_delta": pos_delta,
    }


def drawn_figure(monkeypatch, tmp_path, rows, tasks=("pos",)):
    """The matplotlib figure compare's plot draws for ROWS (captured where it is saved)."""
    import matplotlib.figure

    from alignmlm.cli.compare import group, plot

    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *args, **kwargs: figures.append(fig))
    plot(tmp_path / "plot.png", group(rows), list(tasks))
    [figure] = figures
    return figure.axes[0]


def test_plot_shows_each_cells_mean_and_spread_against_its_alignment(monkeypatch, tmp_path):
    rows = [
        cell_row("mlm", 1, 2.0, -30.0),
        cell_row("mlm", 2, 4.0, -20.0),
        cell_row("align_mlm", 1, 90.0, -1.0),
        cell_row("align_mlm", 2, 80.0, -3.0),
    ]
    ax = drawn_figure(monkeypatch, tmp_path, rows)
    # one point per cell at its means over seeds, with the seeds' standard deviation as error bars
    points = {a.get_text(): a.xy for a in ax.texts}
    assert points == {"mlm (trans+inv)": (3.0, -25.0), "align_mlm (trans+inv)": (85.0, -2.0)}
    bars = [
        (tuple(c.lines[0].get_xydata()[0]), [seg.get_segments() for seg in c.lines[2]]) for c in ax.containers
    ]
    assert [point for point, _ in bars] == [(3.0, -25.0), (85.0, -2.0)]
    xerr, yerr = bars[0][1]  # mlm: std of (2, 4) and of (-30, -20), ddof=1
    assert np.allclose(xerr[0], [[3.0 - 2**0.5, -25.0], [3.0 + 2**0.5, -25.0]])
    assert np.allclose(yerr[0], [[3.0, -25.0 - 50**0.5], [3.0, -25.0 + 50**0.5]])
    assert ax.get_xlabel() == "alignment P@1, paper protocol (%)" and ax.get_ylabel().startswith(
        "Δ = B_Z − B_S, POS"
    )


def test_plot_falls_back_to_held_out_p1_and_marks_tasks(monkeypatch, tmp_path):
    # a cell without the paper protocol's figure (a natural pair): every point uses held-out P@1
    rows = [cell_row("mlm", 1, None, -30.0, heldout_p1=10.0), cell_row("xlm", 1, 60.0, -5.0, heldout_p1=50.0)]
    for r, nli in zip(rows, (-8.0, -2.0)):
        r["nli_delta"] = nli
    ax = drawn_figure(monkeypatch, tmp_path, rows, tasks=("pos", "nli"))
    assert sorted((a.get_text(), a.xy) for a in ax.texts) == [
        ("mlm (trans+inv) NLI", (10.0, -8.0)),
        ("mlm (trans+inv) POS", (10.0, -30.0)),
        ("xlm (trans+inv) NLI", (50.0, -2.0)),
        ("xlm (trans+inv) POS", (50.0, -5.0)),
    ]
    assert ax.get_xlabel() == "held-out P@1 (NN) (%)"
    assert [c.lines[0].get_marker() for c in ax.containers] == ["o", "o", "s", "s"]  # POS, then NLI


def refused(*argv) -> str:
    """The error `alignmlm compare ARGV` stops with before it trains anything."""
    return refusal("compare", *argv)


def test_compare_refuses_bad_seeds_and_objectives(tmp_path):
    # checked before the pair is read
    base = ["--pair", tmp_path / "pair", "--pos", tmp_path, "--out", tmp_path / "out"]
    assert refused(*base, "--seeds", "1,2,1").startswith("error: --seeds '1,2,1' repeats 1")
    for seeds, message in (
        ("1,2,1", "repeats 1"),
        ("1,two", "'two' is not an integer"),
        ("", "expected comma-separated integers"),
        ("1,,2", "expected comma-separated integers"),
    ):
        assert message in refused(*base, "--seeds", seeds)
    assert "--objectives is empty" in refused(*base, "--objectives", ",")
    # a repeated objective would be a second row of the same cells (and a spurious correlation)
    assert "repeats align_mlm" in refused(*base, "--objectives", "mlm,align_mlm,align_mlm")
    assert not (tmp_path / "out").exists()


def test_compare_refuses_two_pairs_that_would_share_cells(manifest_pair, tmp_path):
    import shutil

    first, other = tmp_path / "en_trans_inv", tmp_path / "another_trans_inv"
    for pair in (first, other):
        shutil.copytree(manifest_pair, pair)
        (pair / "bin" / "dict.txt").write_text("▁the 10\n")  # what the pair's fingerprint reads
    base = ["--pos", tmp_path, "--pos", tmp_path, "--out", tmp_path / "out"]
    message = refused("--pair", first, "--pair", other, *base)
    assert f"--pair {other} and --pair {first} are both 'trans+inv'" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_compare_refuses_other_versions_results(tiny_pair, tmp_path):
    base = ["--pair", tiny_pair, "--pos", tmp_path / "pos", "--out", tmp_path / "out"]
    (tmp_path / "pos").mkdir()
    for split in ("train", "valid", "train_derived", "valid_derived", "test_derived"):
        (tmp_path / "pos" / f"{split}.conllu").write_text("")  # what the up-front check looks for
    old = tmp_path / "out" / "mlm__trans_inv"  # the layout of the previous version: no cell.json
    old.mkdir(parents=True)
    (old / "pretrain.json").write_text("{}")
    assert "results of an older compare.py without recorded settings" in refused(*base)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mlm__trans_inv"]  # nothing written
    (tmp_path / "out" / "compare.json").write_text('{"format": 99}')
    assert "written by another version of compare.py (format 99" in refused(*base)


@pytest.mark.slow
def test_compare_submits_each_cell_to_slurm_and_collects(localhost_cluster, tiny_pair, tiny_pos, tmp_path):
    command = [
        sys.executable,
        "-m",
        "alignmlm",
        "compare",
        "--pair",
        tiny_pair,
        "--pos",
        tiny_pos,
        "--out",
        tmp_path,
        "--objectives",
        "mlm,align_mlm",
        "--max-update",
        "20",
        "--finetune-updates",
        "20",
        "--slurm",
        "--slurm-args",
        "--cpus-per-task=1 --time=10:00",
    ]
    first = run(command, env=localhost_cluster)
    assert first.stdout.count("submitted job") == 2 and "run this command again" in first.stdout
    assert not (tmp_path / "results.csv").exists()
    again = run(command, env=localhost_cluster)  # the jobs take ~30 s: still queued or running
    assert again.stdout.count("not submitted again") == 2 and "submitted job" not in again.stdout

    last = run(command + ["--wait"], env=localhost_cluster)
    assert last.stdout.count("done before with the same settings, reusing") == 6  # every step ran in the jobs
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [r["objective"] for r in rows] == ["mlm", "align_mlm"]
    assert float(rows[1]["paper_p1_nn"]) > float(rows[0]["paper_p1_nn"]) + 20
    for objective, other in (("mlm", "align_mlm"), ("align_mlm", "mlm")):
        cell = tmp_path / f"{objective}__trans_inv__seed1"
        job_id = json.loads((cell / "slurm_job.json").read_text())["job_id"]
        job_log = (cell / f"slurm-{job_id}.out").read_text()  # each job ran its own cell only
        name = f"] {objective} × trans+inv × seed 1"
        assert f"{name}: pretrain: " in job_log and f"{name}: POS B_Z / B_S: " in job_log
        assert f"] {other} × trans+inv" not in job_log


def test_compare_refuses_task_data_of_another_transform(manifest_pair, tmp_path):
    """POS data derived with `trans` for a `trans+inv` pair once gave a Δ of +4.1 where the real
    cell is about -52: its derived language was not the model's."""
    import shutil

    pair = tmp_path / "en_trans_inv"
    shutil.copytree(manifest_pair, pair)
    (pair / "bin" / "dict.txt").write_text("▁the 10\n")
    pos = tmp_path / "pos"
    pos.mkdir()
    (pos / "task_data.json").write_text('{"transform": "trans", "seed": 1}')
    message = refused("--pair", pair, "--pos", pos, "--out", tmp_path / "out")
    assert message.startswith(f"error: --pos {pos} was derived with transform trans (the pair's: trans+inv)")
    assert not (tmp_path / "out").exists()


def test_recipe_flags_reach_every_cells_pretraining(tmp_path, monkeypatch):
    """Block length, warm-up, batch and accumulation given to compare are recorded in the recipe
    and passed to each cell's `alignmlm train` (issue 14: compare could not set them)."""
    from alignmlm.cli import compare

    flags = [
        "--tokens-per-sample",
        "64",
        "--warmup-updates",
        "5",
        "--max-tokens",
        "2048",
        "--update-freq",
        "2",
    ]
    args = compare.build_parser().parse_args(
        ["--pair", "p", "--pos", "d", "--out", str(tmp_path), "--max-update", "40", *flags]
    )
    args.recipe = compare.pretraining_recipe(args)
    assert {
        k: args.recipe[k] for k in ("tokens_per_sample", "warmup_updates", "max_tokens", "update_freq")
    } == {
        "tokens_per_sample": 64,
        "warmup_updates": 5,
        "max_tokens": 2048,
        "update_freq": 2,
    }
    commands = []
    monkeypatch.setattr(compare, "run", lambda command, log, env: commands.append([str(c) for c in command]))
    monkeypatch.setattr(compare, "read_records", lambda log, kind: [{"valid_loss": 1.0}])
    monkeypatch.setattr(compare, "checkpoint_sha256", lambda path: "0" * 64)
    cell = compare.Cell(tmp_path, "mlm", "trans+inv", 1, 0, ["pos"])
    compare.pretrain(args, cell, tmp_path / "pair", {})
    command = " ".join(commands[0])
    for flag, value in zip(flags[::2], flags[1::2]):
        assert f"{flag} {value}" in command
