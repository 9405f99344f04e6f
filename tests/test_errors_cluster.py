"""Issue 13, the comparison, evaluation and SLURM side: bad input stops before anything runs
(or is submitted) in one `error:` line, and a result is never reused for another checkpoint than
the one it was computed from. Fast: no training (the subprocesses of a cell are stubbed where a
cell runs; the templates run with DRY_RUN=1)."""

import argparse
import json
import shutil
from pathlib import Path

import pytest
from conftest import refusal
from test_slurm import TEMPLATE, template

from alignmlm.cli import compare

POS_FILES = ["train", "valid", "test", "train_derived", "valid_derived", "test_derived"]


def task_dir(path: Path, ext: str, leave_out=()) -> Path:
    """A task data directory of prepare-pos / prepare-nli's layout (files' contents do not matter
    to the checks), for the pair of `pair_copy`."""
    path.mkdir(parents=True)
    for split in POS_FILES:
        if split not in leave_out:
            (path / f"{split}{ext}").write_text("x\n")
    (path / "task_data.json").write_text(json.dumps({"transform": "trans+inv", "seed": None}))
    return path


@pytest.fixture
def pair_copy(manifest_pair, tmp_path) -> Path:
    """The manifest-only pair with the dictionary its fingerprint reads."""
    pair = tmp_path / "en_trans_inv"
    shutil.copytree(manifest_pair, pair)
    (pair / "bin" / "dict.txt").write_text("▁the 10\n")
    return pair


# ---------------------------------------------------------------------------- compare: up front


def test_compare_refuses_an_unknown_objective_before_any_cell(pair_copy, tmp_path):
    """`--objectives mlm,tlm` used to fail only when tlm's first cell was reached, hours in."""
    pos = task_dir(tmp_path / "pos", ".conllu")
    message = refusal(
        "compare", "--pair", pair_copy, "--pos", pos, "--out", tmp_path / "out", "--objectives", "mlm,tlm"
    )
    assert message == (
        "error: --objectives 'mlm,tlm': unknown objective 'tlm'; expected comma-separated names of "
        "configs/objective/*.yaml: align_mlm, align_mlm_contrastive, dict_mlm, mlm, xlm"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "task, ext, missing, expected",
    [
        ("pos", ".conllu", "train_derived", "has no train_derived.conllu"),
        ("pos", ".conllu", "valid", "has no valid.conllu"),
        ("nli", ".jsonl", "test_derived", "has no test_derived.jsonl or test_derived.tsv"),
    ],
)
def test_compare_names_a_missing_split_file_before_any_cell(
    pair_copy, tmp_path, task, ext, missing, expected
):
    pos = task_dir(tmp_path / "pos", ".conllu", leave_out=[missing] if task == "pos" else [])
    argv = ["--pair", pair_copy, "--pos", pos, "--out", tmp_path / "out"]
    if task == "nli":
        argv += ["--nli", task_dir(tmp_path / "nli", ext, leave_out=[missing])]
    data = tmp_path / task
    message = refusal("compare", *argv)
    assert message == (
        f"error: --{task} {data} {expected} (the fine-tuning reads train, valid, train_derived, "
        f"valid_derived, test_derived); make the directory with alignmlm prepare-{task}"
    )
    assert not (tmp_path / "out").exists()


def test_compare_takes_nli_splits_as_tsv_and_does_not_need_the_unused_test_split(pair_copy, tmp_path):
    from alignmlm.cli.compare import check_task_data

    check_task_data("nli", task_dir(tmp_path / "nli", ".tsv", leave_out=["test"]))
    check_task_data("pos", task_dir(tmp_path / "pos", ".conllu", leave_out=["test"]))


def test_slurm_args_may_start_with_a_dash():
    """`--slurm-args --partition=gpu` was refused by argparse (a value that looks like an option)."""
    argv = [
        "--pair",
        "p",
        "--pos",
        "q",
        "--out",
        "o",
        "--slurm",
        "--slurm-args",
        "--partition=gpu --time=1:00",
    ]
    args = compare.build_parser().parse_args(compare.slurm_args_value(argv))
    assert args.slurm_args == "--partition=gpu --time=1:00" and args.slurm
    assert compare.slurm_args_value(["--slurm-args=--x", "--jobs", "2"]) == [
        "--slurm-args=--x",
        "--jobs",
        "2",
    ]
    assert "a value starting with a dash" in " ".join(compare.build_parser().format_help().split())


@pytest.fixture
def sbatch_stub(monkeypatch):
    """compare's submissions, recorded instead of given to sbatch."""
    submitted = []

    def submit(cell, command, sbatch_args, log):
        submitted.append((cell.name, command, sbatch_args))
        return str(len(submitted))

    monkeypatch.setattr(compare.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(compare.slurm_cells, "submit", submit)
    return submitted


def test_compare_slurm_checks_everything_before_submitting(pair_copy, tmp_path, sbatch_stub, capsys):
    pos = task_dir(tmp_path / "pos", ".conllu", leave_out=["valid_derived"])
    base = ["--pair", pair_copy, "--pos", pos, "--out", tmp_path / "out", "--slurm", "--slurm-args"]
    assert "unknown objective 'tlm'" in refusal("compare", *base, "--partition=gpu", "--objectives", "tlm")
    assert "has no valid_derived.conllu" in refusal("compare", *base, "--partition=gpu")
    assert "--slurm-args '--comment=\"a': No closing quotation" in refusal("compare", *base, '--comment="a')
    assert sbatch_stub == [] and not (tmp_path / "out").exists()

    (pos / "valid_derived.conllu").write_text("x\n")  # all there: each cell is submitted
    assert compare.main([*map(str, base), "--partition=gpu", "--objectives", "mlm,align_mlm"]) == 0
    assert [name for name, _, _ in sbatch_stub] == ["mlm__trans_inv__seed1", "align_mlm__trans_inv__seed1"]
    _, command, sbatch_args = sbatch_stub[0]
    assert sbatch_args == "--partition=gpu" and "--slurm-args=--partition=gpu" in command
    assert command[-2:] == ["--only-cell", "mlm__trans_inv__seed1"]
    assert "2 cells queued or running on SLURM" in capsys.readouterr().out


# ---------------------------------------------------------------------------- compare: reuse


class FakeCell:
    """A cell of compare whose subprocesses are stubbed: `alignmlm train` writes `model` as
    checkpoint_last.pt and a validation record; `evaluate-alignment` writes its JSON; the
    fine-tuning returns fixed scores. Records which steps ran."""

    def __init__(self, monkeypatch, out: Path, pair: Path, pos: Path):
        self.model, self.ran = b"model A", []
        self.cell = compare.Cell(out, "mlm", "trans+inv", 1, 0, ["pos"])
        self.args = argparse.Namespace(pair=[pair], pos=[pos], recipe={"max_update": 20}, analyze=False)
        self.settings = {"tasks": {"pos": "fingerprint"}, "finetune": {"recipe": "quick"}}
        monkeypatch.setattr(compare, "run", self.run)
        monkeypatch.setattr(compare.finetune, "transfer", self.transfer)

    def run(self, command, log_path, env):
        command = [str(c) for c in command]
        if "train" in command:
            self.ran.append("pretrain")
            save = Path(command[command.index("--save-dir") + 1])
            save.mkdir(parents=True, exist_ok=True)
            (save / "checkpoint_last.pt").write_bytes(self.model)
            (save / "train.log").write_text('{"valid_loss": "3.5", "valid_mlm_loss": "3.25"}\n')
        else:
            self.ran.append("alignment")
            output = Path(command[command.index("--output") + 1])
            output.write_text(json.dumps({"heldout": {"p1_nn": 12.5}, "paper": {"p1_nn": 40.0}}))

    def transfer(self, task, data, pair, checkpoint, out, recipe, seed, env):
        self.ran.append(task)
        assert checkpoint.read_bytes() == self.model  # fine-tuned from the model there now
        return {"B_S": 80.0, "B_Z": 60.0, "delta": -20.0}

    def __call__(self) -> list:
        self.ran = []
        row = compare.run_cell(self.args, self.cell, self.settings, {})
        assert row["valid_mlm_loss"] == 3.25 and row["heldout_p1_nn"] == 12.5 and row["pos_delta"] == -20.0
        return self.ran

    def marker(self, name) -> dict:
        return json.loads((self.cell.dir / f"{name}.json").read_text())


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_a_redone_pretraining_recomputes_the_steps_of_the_old_checkpoint(monkeypatch, tmp_path, capsys):
    """The old model's alignment and POS results were reused after its pretraining was redone."""
    cell = FakeCell(monkeypatch, tmp_path / "out", tmp_path / "pair", tmp_path / "pos")
    assert cell() == ["pretrain", "alignment", "pos"]
    for name in ("pretrain", "alignment", "pos"):
        assert cell.marker(name)["checkpoint_sha256"] == sha256(b"model A")
    assert cell() == [] and compare.finished(cell.cell)  # unchanged: all reused
    assert capsys.readouterr().out.count("done before with the same settings, reusing") == 3

    # pretrain.json removed to recompute it; the new run makes another model
    (cell.cell.dir / "pretrain.json").unlink()
    cell.model = b"model B"
    assert not compare.finished(cell.cell)
    assert cell() == ["pretrain", "alignment", "pos"]
    log = capsys.readouterr().out
    alignment = cell.cell.dir / "alignment.json"
    assert (
        f"alignment: {alignment} was computed from checkpoint sha256 {sha256(b'model A')[:12]}..., not from "
        f"the pretrained checkpoint there now (sha256 {sha256(b'model B')[:12]}...): recomputing" in log
    )
    assert "POS B_Z / B_S: " in log and "pos.json was computed from checkpoint sha256" in log
    assert cell.marker("pos")["checkpoint_sha256"] == sha256(b"model B")

    # the pretrain/ directory removed (pretrain.json kept): pretrained again; an identical
    # checkpoint keeps the later steps
    shutil.rmtree(cell.cell.dir / "pretrain")
    assert cell() == ["pretrain"]
    assert "pretrain.json is there but " in capsys.readouterr().out

    # the checkpoint replaced behind pretrain.json's back: pretrained again, the rest recomputed
    (cell.cell.dir / "pretrain" / "checkpoint_last.pt").write_bytes(b"model C")
    cell.model = b"model C2"
    assert not compare.finished(cell.cell)
    assert cell() == ["pretrain", "alignment", "pos"]
    assert "it was replaced; pretraining again" in capsys.readouterr().out
    assert not list(cell.cell.dir.glob(".*tmp*"))  # markers written atomically, nothing left over


def test_results_of_an_older_version_without_a_checkpoint_record(monkeypatch, tmp_path, capsys):
    """pretrain.json without a hash takes the checkpoint there as its own (it made it); a later
    step without one cannot be matched to a checkpoint and is recomputed."""
    cell = FakeCell(monkeypatch, tmp_path / "out", tmp_path / "pair", tmp_path / "pos")
    cell()
    for name in ("pretrain", "pos"):
        record = cell.marker(name)
        del record["checkpoint_sha256"]
        (cell.cell.dir / f"{name}.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert cell() == ["pos"]
    assert "was computed from a checkpoint it does not record" in capsys.readouterr().out
    assert cell.marker("pretrain")["checkpoint_sha256"] == sha256(b"model A")


# ---------------------------------------------------------------------------- evaluate-alignment


def unwritable_directory(tmp_path) -> Path:
    """A directory in which no file can be created: a read-only one, or (as root, to whom
    permissions do not apply) /sys."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    for candidate in (locked, Path("/sys")):
        try:
            (candidate / ".probe").write_text("")
            (candidate / ".probe").unlink()
        except OSError:
            return candidate
    pytest.skip("no unwritable directory here")


def test_evaluate_alignment_checks_output_before_evaluating(tmp_path):
    checkpoint = tmp_path / "checkpoint_last.pt"
    checkpoint.write_bytes(b"not loaded: --output is checked first")
    (tmp_path / "a_file").write_text("")
    locked = unwritable_directory(tmp_path)
    for output, expected in (
        (
            tmp_path,
            f"--output {tmp_path} is a directory; give a file path, e.g. {tmp_path / 'alignment.json'}",
        ),
        (
            tmp_path / "missing" / "a.json",
            f"--output {tmp_path / 'missing' / 'a.json'}: its directory {tmp_path / 'missing'} does not "
            "exist; create it or choose another path",
        ),
        (
            tmp_path / "a_file" / "a.json",
            f"--output {tmp_path / 'a_file' / 'a.json'}: its directory {tmp_path / 'a_file'} is not a "
            "directory; create it or choose another path",
        ),
        (locked / "a.json", f"--output {locked / 'a.json'}: cannot write in {locked} ("),
    ):
        message = refusal("evaluate-alignment", "--checkpoint", checkpoint, "--output", output)
        assert message.startswith(f"error: {expected}"), message
    assert refusal("evaluate-alignment", "--checkpoint", checkpoint, "--output", checkpoint) == (
        f"error: --output {checkpoint} is the checkpoint; give another file for the JSON"
    )
    assert checkpoint.read_bytes() == b"not loaded: --output is checked first"


def test_compare_refuses_an_out_that_is_a_file(tmp_path):
    (tmp_path / "results").write_text("kept")
    message = refusal("compare", "--pair", tmp_path, "--pos", tmp_path, "--out", tmp_path / "results")
    assert (
        message
        == f"error: --out {tmp_path / 'results'} is a file; give a directory (it is created if missing)"
    )
    assert (tmp_path / "results").read_text() == "kept"


@pytest.mark.slow
def test_evaluate_alignment_records_the_checkpoint_and_the_pair(pretrained, tiny_pair, tmp_path, capsys):
    from alignmlm.cli import evaluate_alignment
    from alignmlm.pair import PreparedPair

    output = tmp_path / "alignment.json"
    output.write_text("an older result")
    assert evaluate_alignment.main(["--checkpoint", str(pretrained), "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    assert result["checkpoint_sha256"] == sha256(pretrained.read_bytes())
    assert result["pair_fingerprint"] == PreparedPair.load(tiny_pair).fingerprint()
    assert json.loads(capsys.readouterr().out) == result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alignment.json"]  # no temporary left


# ---------------------------------------------------------------------------- SLURM template


@pytest.fixture
def variables(manifest_pair, tmp_path):
    return {"PARTITION": "debug", "DATA": manifest_pair, "SAVE_DIR": tmp_path / "save", "DRY_RUN": "1"}


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {"PORT": "notaport"},
            "error: PORT=notaport: expected an integer from 1024 to 65535 (or leave it unset: 20000 + "
            "job id mod 10000)",
        ),
        ({"PORT": "80"}, "error: PORT=80: expected an integer from 1024 to 65535"),
        ({"PORT": "70000"}, "error: PORT=70000: expected an integer from 1024 to 65535"),
        (
            {"OBJECTIVE": "../run/cpu"},
            "error: OBJECTIVE=../run/cpu: expected the plain name of a file in configs/objective/: "
            "align_mlm align_mlm_contrastive dict_mlm mlm xlm",
        ),
        (
            {"RUN": "../objective/mlm"},
            "error: RUN=../objective/mlm: expected the plain name of a file in configs/run/",
        ),
        (
            {"SIZE": "../run/cpu"},
            "error: SIZE=../run/cpu: expected the plain name of a file in configs/size/: paper",
        ),
        (
            {"PRECISION": "../precision/fp16"},
            "error: PRECISION=../precision/fp16: expected one of fp16 bf16 amp fp32",
        ),
        (
            {"EXTRA_ARGS": "optimization.max_update=10 --lr 1e-4"},
            "error: EXTRA_ARGS: --lr: expected hydra overrides key=value (e.g. optimization.max_update=1000), "
            "not fairseq-train flags",
        ),
        (
            {"EXTRA_ARGS": "optimization.max_update"},
            "error: EXTRA_ARGS: optimization.max_update: expected key=value",
        ),
        (
            {"EXTRA_ARGS": "common.wandb_project='my run'"},
            "error: EXTRA_ARGS: common.wandb_project='my: unbalanced quote",
        ),
    ],
)
def test_template_refuses_bad_variables_on_the_login_node(variables, change, expected):
    proc = template(TEMPLATE, {**variables, **change}, check=False)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [proc.stderr.splitlines()[0]], proc.stderr
    assert proc.stderr.startswith(expected), proc.stderr
    assert not variables["SAVE_DIR"].exists()


def test_template_refuses_an_unfinished_pair(variables, manifest_pair, tmp_path):
    pair = tmp_path / "pair"
    shutil.copytree(manifest_pair, pair)
    manifest = json.loads((pair / "pair.json").read_text())
    (pair / "pair.json").write_text(json.dumps({**manifest, "complete": False}))
    proc = template(TEMPLATE, {**variables, "DATA": pair}, check=False)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"error: DATA={pair}: {pair.resolve()} holds an unfinished data preparation; run `alignmlm "
        "prepare-pair` again\n"
    )


def fake_checkpoint(path: Path, objective: str, pair: Path) -> None:
    """A file that reads as a checkpoint of `alignmlm train --objective OBJECTIVE --data PAIR`
    (its config, composed as train composes it; no weights: only the config is read)."""
    import torch
    from omegaconf import OmegaConf

    from alignmlm import PLUGIN_DIR
    from alignmlm.pretraining_config import compose

    cfg = compose(objective, [f"task.data={pair.resolve() / 'bin'}", f"common.user_dir={PLUGIN_DIR}"])
    path.parent.mkdir(parents=True)
    plain = json.loads(json.dumps(OmegaConf.to_container(cfg, resolve=True), default=str))  # enums too
    torch.save({"cfg": plain}, path)


def test_template_refuses_a_save_dir_of_another_objective(variables, manifest_pair):
    """It used to print only "note: ... the job resumes from it": an MLM checkpoint would have been
    continued as ALIGN-MLM. Now alignmlm train --dry-run checks it on the login node."""
    save = variables["SAVE_DIR"]
    fake_checkpoint(save / "checkpoint_last.pt", "mlm", manifest_pair)
    tiny = {
        **variables,
        "SIZE": "tiny",
        "RUN": "cpu",
        "DEVICE": "cpu",
        "PRECISION": "fp32",
        "GPUS_PER_NODE": 1,
    }
    proc = template(TEMPLATE, {**tiny, "OBJECTIVE": "align_mlm"}, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"error: {save} holds ") and "criterion masked_lm (asked: align_mlm)" in line
    assert line.endswith("(checked with: alignmlm train ... --dry-run)")
    # the same run: resumed, quietly (and a quote inside a quoted value is no unbalanced quote)
    same = template(
        TEMPLATE, {**tiny, "OBJECTIVE": "mlm", "EXTRA_ARGS": 'common.tensorboard_logdir="/tmp/it\'s"'}
    )
    assert [line.split()[:2] for line in same.stdout.splitlines()] == [["+", "sbatch"], ["+", "(in"]]
    assert same.stderr == ""


def test_alignment_curve_checks_out_and_repeated_runs_first(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(
        '{"valid_loss": "3", "valid_num_updates": "10", "valid_align_heldout_p1_nn": "5"}\n'
    )
    message = refusal("alignment-curve", "--run", f"mlm={run}", "--out", tmp_path / "missing" / "curve.png")
    assert message.startswith(f"error: --out {tmp_path / 'missing' / 'curve.png'}: its directory ")
    # one run given twice would be plotted as two seeds that agree exactly
    message = refusal(
        "alignment-curve", "--run", f"mlm={run}", "--run", f"mlm={run}/", "--out", tmp_path / "c.png"
    )
    assert message == f"error: --run 'mlm={run}/': {run}/ is given twice (also as --run 'mlm={run}')"
