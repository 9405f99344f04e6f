"""compare over the paper's grid: several derived languages, POS, NER and NLI in one run, the
table in the paper's shape with the paper's own figures beside it, ρ per task over all cells."""

import re

import numpy as np
import pytest
from scipy.stats import spearmanr

from alignmlm import paper_results
from alignmlm.cli import compare


def paper_rows(seeds=(1,)) -> list:
    """The paper's 12 cells as compare's rows (its B_S / B_Z / Δ and P@1), one per seed; seed s
    shifts every score by s - 1 so that the seeds differ."""
    rows = []
    for objective, transform in paper_results.cells():
        for seed in seeds:
            row = {
                "objective": objective,
                "transform": transform,
                "seed": seed,
                "paper_p1_nn": paper_results.ALIGNMENT_P1[(objective, transform)] + (seed - 1),
                "heldout_p1_nn": 10.0 * seed,
                "heldout_p1_csls": None,
                "valid_mlm_loss": 5.0,
            }
            for task in paper_results.TASKS:
                b_s, b_z, delta = paper_results.scores(objective, transform, task)
                row.update(
                    {f"{task}_B_S": b_s, f"{task}_B_Z": b_z + (seed - 1), f"{task}_delta": delta + (seed - 1)}
                )
            rows.append(row)
    return rows


def test_the_papers_own_figures_give_its_correlations_and_its_order(tmp_path):
    compare.collect(tmp_path, paper_rows(), ["pos", "ner", "nli"], [1])
    table = (tmp_path / "results.md").read_text()
    for task, rho in paper_results.CORRELATION.items():
        line = next(
            line
            for line in table.splitlines()
            if line.startswith(f"- {task.upper()} Δ vs alignment P@1, paper")
        )
        assert f"Spearman ρ = +{rho:.3f}" in line and "12 cells" in line, line
    # every pair of objectives is in the paper's order (they are the paper's figures)
    ordering = [line for line in table.splitlines() if "pairs of objectives in the paper's order" in line]
    assert len(ordering) == 9  # 3 tasks x 3 transformations
    agreed = [re.search(r"\((\d) of (\d) pairs", line).groups() for line in ordering]
    assert all(a == b for a, b in agreed) and sorted(set(agreed))[0] == ("5", "5")  # NER trans: a tie
    assert "- POS trans+inv: smallest gap first, ours align_mlm > dict_mlm > xlm > mlm;" in table


def test_the_paper_shaped_table_has_cell_means_spread_and_the_papers_row_beside_it(tmp_path):
    rows = paper_rows(seeds=(1, 2))
    for r in rows:  # a pair without NLI data for syn (plain text has no trees)
        if r["transform"] == "trans+syn":
            r.update(nli_B_S=None, nli_B_Z=None, nli_delta=None)
    compare.collect(tmp_path, rows, ["pos", "ner", "nli"], [1, 2])
    lines = (tmp_path / "results.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("In the paper's shape"))
    assert lines[start + 2] == (
        "| objective | transform | NLI B_S / B_Z / Δ | NER B_S / B_Z / Δ | POS B_S / B_Z / Δ | "
        "P@1 paper protocol | held-out P@1 NN |"
    )
    body = lines[start + 4 :]
    # rows in the paper's order, each followed by the paper's figures for the cell
    cell_rows = [line for line in body if line.startswith("| ") and not line.startswith("| |")]
    assert [tuple(line.split(" | ")[:2]) for line in cell_rows[:3]] == [
        ("| mlm", "trans"),
        ("| mlm", "trans+inv"),
        ("| mlm", "trans+syn"),
    ]
    mlm_inv = cell_rows[1]
    # NLI, seeds 1 and 2: B_Z 56.7 and 57.7, Δ −17.2 and −16.2 (std 0.707)
    b_z = np.mean([56.7, 57.7])
    spread = np.std([-17.2, -16.2], ddof=1)
    assert f" 73.9 / {b_z:.1f} / {np.mean([-17.2, -16.2]):.1f} ± {spread:.1f} |" in mlm_inv
    assert "| 0.8 ± 0.7 (2) | 15.0 ± 7.1 (2) |" in mlm_inv  # P@1 0.3 and 1.3; held-out 10 and 20
    assert body[body.index(mlm_inv) + 1] == (
        "| | *paper* | *73.9 / 56.7 / -17.2* | *79.2 / 35.9 / -43.3* | *95.0 / 56.5 / -38.5* | *0.3* | |"
    )
    mlm_syn = cell_rows[2]
    assert mlm_syn.split(" | ")[2] == "—"  # no NLI for syn
    # ρ per task over all the cells that have the task: NLI over 8 cells, POS over 12
    nli = next(line for line in lines if line.startswith("- NLI Δ vs alignment P@1, paper"))
    assert "8 cells, 16 runs" in nli
    cells = {}
    for r in rows:
        cells.setdefault((r["objective"], r["transform"]), []).append(r)
    means = [
        (np.mean([r["paper_p1_nn"] for r in runs]), np.mean([r["pos_delta"] for r in runs]))
        for runs in cells.values()
    ]
    rho = spearmanr(*zip(*means))[0]
    pos = next(line for line in lines if line.startswith("- POS Δ vs alignment P@1, paper"))
    assert f"Spearman ρ = {rho:+.3f}" in pos


def test_ner_is_scored_by_span_f1():
    result = {"B_S": 90.0, "B_Z": 70.0, "delta": -20.0, "f1": {"B_S": 60.0, "B_Z": 20.0, "delta": -40.0}}
    assert compare.task_scores("ner", result) == {"ner_B_S": 60.0, "ner_B_Z": 20.0, "ner_delta": -40.0}
    assert compare.task_scores("pos", result) == {"pos_B_S": 90.0, "pos_B_Z": 70.0, "pos_delta": -20.0}


def test_size_run_and_precision_reach_every_cells_pretraining(tmp_path, monkeypatch):
    args = compare.build_parser().parse_args(
        [
            "--pair",
            "p",
            "--pos",
            "d",
            "--out",
            str(tmp_path),
            "--size",
            "paper",
            "--run",
            "gpu1",
            "--precision",
            "bf16",
        ]
    )
    args.recipe = compare.pretraining_recipe(args)
    # the composed paper size, recorded per cell
    assert (
        args.recipe["size"] == "paper" and args.recipe["run"] == "gpu1" and args.recipe["precision"] == "bf16"
    )
    assert (args.recipe["arch"], args.recipe["tokens_per_sample"], args.recipe["batch_size"]) == (
        "roberta_align_paper",
        512,
        16,
    )
    assert args.recipe["max_update"] == 500000 and args.recipe["warmup_updates"] == 10000
    commands = []
    monkeypatch.setattr(compare, "run", lambda command, log, env: commands.append([str(c) for c in command]))
    monkeypatch.setattr(compare, "read_records", lambda log, kind: [{"valid_loss": 1.0}])
    monkeypatch.setattr(compare, "checkpoint_sha256", lambda path: "0" * 64)
    compare.pretrain(args, compare.Cell(tmp_path, "xlm", "trans", 1, 0, []), tmp_path / "pair", {})
    command = " ".join(commands[0])
    assert "--size paper" in command and "--run gpu1" in command and "--precision bf16" in command
    assert "--batch-size" not in command  # composed from the size config in the cell itself


def test_a_tiny_recipe_records_no_new_keys():
    # cells recorded before --size / --run existed compare equal to a rerun without them
    args = compare.build_parser().parse_args(["--pair", "p", "--pos", "d", "--out", "o"])
    recipe = compare.pretraining_recipe(args)
    assert set(recipe) == set(compare.RECIPE_FLAGS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pos", "a", "--pos", "b"], "error: 2 --pos for 1 --pair: give one --pos for each --pair"),
        (["--pos", "a", "--ner", "-", "--ner", "b"], "error: 2 --ner for 1 --pair"),
    ],
)
def test_each_task_needs_one_directory_or_dash_per_pair(argv, message, tmp_path, capsys):
    from conftest import refusal

    assert message in refusal("compare", "--pair", tmp_path, "--out", tmp_path / "out", *argv)
