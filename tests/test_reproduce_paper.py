"""scripts/reproduce_paper.sh: the paper's matrix, at the paper's size as one SLURM job per cell
(data prepared from a slice of the bundled data). The CPU size runs the same preparation and
compare without --slurm: its run is the README's table (the grid's table itself is tested in
test_compare_grid.py, compare's cells end to end in test_compare.py)."""

import os
import shlex
import stat

import pytest
from conftest import REPO, run

SCRIPT = REPO / "scripts" / "reproduce_paper.sh"


def head_conllu(source, target, n: int) -> None:
    """The first N sentences of a CoNLL-U file."""
    blocks = source.read_text(encoding="utf-8").split("\n\n")[:n]
    target.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory):
    """A 400-sentence pretraining corpus with trees and 60 / 20 / 20 POS sentences, from the
    bundled EN-EWT; the bundled Turkish treebank gives Syn its order."""
    root = tmp_path_factory.mktemp("reproduce_inputs")
    head_conllu(REPO / "data" / "en_ewt" / "pretrain.conllu", root / "corpus.conllu", 400)
    (root / "pos").mkdir()
    for split, n in (("train", 60), ("dev", 20), ("test", 20)):
        head_conllu(REPO / "data" / "en_ewt" / "pos" / f"{split}.conllu", root / "pos" / f"{split}.conllu", n)
    return {"CORPUS": str(root / "corpus.conllu"), "POS_DIR": str(root / "pos"), "VOCAB": "120"}


def script(env: dict, check=True):
    return run(["bash", SCRIPT], env=env, check=check)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SIZE": "large"}, "error: SIZE=large: expected cpu or paper"),
        ({"SIZE": "paper", "CORPUS": "x.conllu"}, "error: SIZE=paper needs POS_DIR"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(env, message, tmp_path):
    proc = script({**env, "OUT": str(tmp_path / "out")}, check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_paper_size_submits_one_job_per_cell_with_the_papers_recipe(small_inputs, tmp_path):
    """Through compare --slurm to an sbatch that records what it is given (a paper-size cell
    cannot run here): every cell of the matrix is one job, with the paper's size and recipe."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "sbatch_calls"
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(f'#!/usr/bin/env bash\nprintf "%q " "$@" >> {calls}\necho >> {calls}\necho 4242\n')
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    env = {
        **small_inputs,
        "SIZE": "paper",
        "OUT": str(tmp_path / "out"),
        "NER_DIR": str(REPO / "tests" / "data" / "ner"),
        "NLI_DIR": str(REPO / "tests" / "data" / "nli"),
        "NLI_EXT": "jsonl",
        "SEEDS": "1",
        "OBJECTIVES": "mlm,align_mlm",
        "SLURM_ARGS": "--partition=gpu --gpus=1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    proc = script(env)
    assert "6 cells queued or running on SLURM" in proc.stdout
    jobs = [shlex.split(line) for line in calls.read_text().splitlines()]
    cells = sorted(job[job.index("--only-cell") + 1] for job in (shlex.split(j[-1]) for j in jobs))
    assert cells == sorted(
        f"{o}__{t}__seed1" for o in ("mlm", "align_mlm") for t in ("trans", "trans_inv", "trans_syn")
    )
    for job in jobs:
        assert "--partition=gpu" in job and "--gpus=1" in job
        command = " ".join(shlex.split(job[-1]))
        for flag in (
            "--size paper",
            "--run gpu1",
            "--precision bf16",
            "--update-freq 8",
            "--finetune-recipe paper",
            "--ner - ",  # the syn pair's NER and NLI: no trees
            "--nli - ",
        ):
            assert flag in command, (flag, command)
    out = tmp_path / "out"
    assert (out / "data" / "trans_syn" / "pair.json").is_file() and (out / "pos" / "trans_syn").is_dir()
    assert not (out / "ner" / "trans_syn").exists()
