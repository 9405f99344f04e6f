"""Bad inputs to pretraining and fine-tuning end in one `error:` line (issue 13): save
directories that belong to another run, unreadable checkpoints, settings that never train or
never stop, malformed hydra overrides, plugin values that train silently wrong, labels outside
the label set, and ordinary OS errors. In-process through alignmlm's entry point wherever the
point is ours; a real fairseq-train run only where the point is fairseq's behaviour."""

import contextlib
import io
import json
import shutil
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import refusal as refused_with
from conftest import run, train_command

from alignmlm.errors import InputError

DRY = ["--tokens-per-sample", "64", "--dry-run"]


@pytest.fixture
def pair(manifest_pair, tmp_path) -> Path:
    """A manifest pair with the dictionaries its fingerprint hashes (no binarized data): enough
    for every check of `alignmlm train`, in milliseconds."""
    root = tmp_path / "pair"
    shutil.copytree(manifest_pair, root)
    (root / "bin" / "dict.txt").write_text("▁the 10\n§▁the 10\n", encoding="utf-8")
    (root / "dict").mkdir()
    (root / "dict" / "train.txt").write_text("▁the §▁the\n", encoding="utf-8")
    return root


def fake_checkpoint(path: Path, data: Path, task="multilingual_mlm", criterion="masked_lm") -> Path:
    """A file as fairseq-hydra-train saves one, as far as checkpoint_config reads it."""
    cfg = {
        "task": {"_name": task, "data": str(data), "tokens_per_sample": 64},
        "criterion": {"_name": criterion},
        "model": {"_name": "roberta_tiny"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"cfg": cfg, "model": {"w": torch.zeros(300, 300)}}, path)
    return path


def refusal(command, *argv) -> str:
    """conftest's refusal, with what went to stdout kept out of the test's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return refused_with(command, *argv)


def train_main(*argv) -> tuple[int, str]:
    """(status, stdout) of `alignmlm train ARGV`, in this process."""
    from alignmlm.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["train", *map(str, argv)])
    return status, out.getvalue()


def train_args(objective, pair, save_dir, *more):
    return ["--objective", objective, "--data", pair, "--save-dir", save_dir, *more]


# ------------------------------------------------------------------ 1. save-directory identity


@pytest.fixture
def launched(monkeypatch):
    """alignmlm train with fairseq replaced by a run that fails at once (as a crash before the
    first checkpoint): the commands and environments it was launched with."""
    calls = []

    def call(command, **kwargs):
        calls.append((command, kwargs.get("env") or {}))
        return 1

    monkeypatch.setattr("alignmlm.cli.train.subprocess.call", call)
    return calls


def test_dry_run_checks_and_writes_nothing(pair, tmp_path):
    status, out = train_main(*train_args("align_mlm", pair, tmp_path / "save", *DRY))
    assert status == 0 and "+ " in out
    assert not (tmp_path / "save").exists()
    # no update limit is fine when an epoch limit stops the run
    more = ["--max-update", "0", "--", "optimization.max_epoch=3"]
    assert train_main(*train_args("mlm", pair, tmp_path / "save", *DRY, *more))[0] == 0


def test_run_record_is_written_before_fairseq_and_protects_a_crashed_run(pair, tmp_path, launched):
    save = tmp_path / "save"
    status, _ = train_main(*train_args("align_mlm", pair, save, "--tokens-per-sample", "64"))
    assert status == 1 and len(launched) == 1  # fairseq "crashed" before any checkpoint
    from alignmlm.pair import PreparedPair

    record = json.loads((save / "run.json").read_text())
    assert record == {
        "objective": "align_mlm",
        "task": "align_mlm",
        "criterion": "align_mlm",
        "arch": "roberta_tiny",
        "data": str((pair / "bin").resolve()),
        "pair_fingerprint": PreparedPair.load(pair).fingerprint(),
    }
    assert launched[0][1]["HYDRA_FULL_ERROR"] == "1"  # hydra re-raises: the plugin's one line
    # another objective into the same directory: refused, naming both sides, before fairseq
    line = refusal("train", *train_args("mlm", pair, save, *DRY))
    assert line.startswith(f"error: {save} holds another run (run.json): objective align_mlm (asked: mlm); ")
    assert "task align_mlm (asked: multilingual_mlm)" in line and "Use another --save-dir" in line
    # the same run again is accepted (resumed)
    assert train_main(*train_args("align_mlm", pair, save, *DRY))[0] == 0
    # XLM records the language-embedding twin of the model, as its checkpoints do
    status, _ = train_main(*train_args("xlm", pair, tmp_path / "xlm", "--tokens-per-sample", "64"))
    assert json.loads((tmp_path / "xlm" / "run.json").read_text())["arch"] == "roberta_lang_tiny"


def test_a_pair_prepared_again_with_other_settings_is_another_run(pair, tmp_path, launched):
    save = tmp_path / "save"
    train_main(*train_args("mlm", pair, save, "--tokens-per-sample", "64"))
    before = json.loads((save / "run.json").read_text())["pair_fingerprint"]
    manifest = json.loads((pair / "pair.json").read_text())
    manifest["settings"]["vocab_size"] = 9000  # same directory, prepared again
    (pair / "pair.json").write_text(json.dumps(manifest))
    line = refusal("train", *train_args("mlm", pair, save, *DRY))
    assert f"pair fingerprint {before} (asked: " in line
    assert f"the pair in {(pair / 'bin').resolve()} was prepared again" in line


def test_a_checkpoint_of_another_run_is_refused_without_run_record(pair, tmp_path):
    save = tmp_path / "save"
    fake_checkpoint(save / "checkpoint_last.pt", pair / "bin")  # an MLM run of older versions
    line = refusal("train", *train_args("dict_mlm", pair, save, *DRY))
    assert f"{save} holds another run (checkpoint_last.pt): task multilingual_mlm (asked: dict_mlm)" in line
    assert "criterion" not in line  # equal fields are not listed
    status, out = train_main(*train_args("mlm", pair, save, *DRY))
    assert status == 0 and f"resuming {save / 'checkpoint_last.pt'}" in out


def test_an_unreadable_run_record_is_one_line(pair, tmp_path):
    (tmp_path / "save").mkdir()
    (tmp_path / "save" / "run.json").write_text("{not json")
    line = refusal("train", *train_args("mlm", pair, tmp_path / "save", *DRY))
    assert line.startswith(f"error: {tmp_path / 'save' / 'run.json'}: not valid JSON")


# ------------------------------------------------------------------ 2. unreadable checkpoints


@pytest.mark.parametrize("kind", ["truncated", "text"])
def test_a_truncated_or_foreign_checkpoint_is_one_line(kind, pair, tmp_path, capsys):
    save = tmp_path / "save"
    last = fake_checkpoint(save / "checkpoint_last.pt", pair / "bin")
    if kind == "truncated":  # what a kill during the save may leave
        last.write_bytes(last.read_bytes()[:1000])
    else:
        last.write_text("not a checkpoint\n")
    expected = f"error: {last}: not a readable fairseq checkpoint (truncated by a kill? or not a checkpoint: "
    # train: fairseq's process puts the newest intact checkpoint in its place (none here: from
    # scratch; tests/test_save_dir_guard.py); the others refuse it in one line
    status, _ = train_main(*train_args("mlm", pair, save, *DRY))
    assert status == 0 and f"{last} is truncated: the run resumes from scratch" in capsys.readouterr().err
    line = refusal(
        "finetune",
        *["--task", "pos", "--data", tmp_path, "--pair", pair, "--checkpoint", last, "--out", tmp_path / "o"],
    )
    assert line.startswith(expected)
    assert not (tmp_path / "o").exists()
    assert refusal("evaluate-alignment", "--checkpoint", last).startswith(expected)


# ------------------------------------------------------------------ 3. settings and overrides


@pytest.mark.parametrize(
    "flags, expected",
    [
        (
            ["--max-tokens", "32"],
            "--max-tokens (dataset.max_tokens) 32 is below --tokens-per-sample (task.tokens_per_sample) 64: "
            "no block fits in a batch, so fairseq would skip every sample",
        ),
        (
            ["--size", "paper", "--tokens-per-sample", "512", "--max-tokens", "256"],
            "--max-tokens (dataset.max_tokens) 256 is below --tokens-per-sample (task.tokens_per_sample) 512",
        ),
        (
            ["--max-update", "0"],
            "--max-update (optimization.max_update) 0: expected a number of updates >= 1",
        ),
        (
            ["--", "optimization.max_update=-5", "optimization.max_epoch=2"],
            "--max-update (optimization.max_update) -5",
        ),
        (["--lr", "0"], "--lr (optimization.lr) 0.0: expected a finite number > 0"),
        (["--lr", "nan"], "--lr (optimization.lr) nan: expected a finite number > 0"),
        (["--lr", "inf"], "--lr (optimization.lr) inf: expected a finite number > 0"),
        (["--cpu-workers", "0"], "--cpu-workers 0: expected at least 1 process"),
        (["--update-freq", "0"], "--update-freq (optimization.update_freq) 0: expected >= 1"),
        (
            ["--", "criterion.align_weight"],
            "hydra override 'criterion.align_weight': expected key=value (e.g. criterion.align_weight=5)",
        ),
        (
            ["--", "criterion.no_such_weight=1"],
            "hydra override 'criterion.no_such_weight=1': no such setting",
        ),
        (
            ["--", "dataset.max_tokens=many"],
            "hydra override 'dataset.max_tokens=many': Value 'many' of type 'str' could not be "
            "converted to Integer",
        ),
        (
            ["--", "criterion.align_loss=dot"],
            "hydra override 'criterion.align_loss=dot': Invalid value 'dot', expected one of [cosine, l2, contrastive]",
        ),
    ],
)
def test_settings_that_never_train_or_never_stop(flags, expected, pair, tmp_path):
    # FLAGS after DRY: a second --tokens-per-sample wins; overrides after `--` come last
    line = refusal("train", *train_args("align_mlm", pair, tmp_path / "save", *DRY, *flags))
    assert line.startswith(f"error: {expected}"), line
    assert not (tmp_path / "save").exists()


# ------------------------------------------------------------------ 4. plugin values


@pytest.mark.parametrize(
    "objective, override, expected",
    [
        ("align_mlm", "criterion.align_weight=-10", "criterion.align_weight (--align-weight) '-10': every "),
        ("align_mlm", "criterion.align_weight=nan", "criterion.align_weight (--align-weight) 'nan': every "),
        (
            "align_mlm",
            "criterion.align_weight='0:0,100:-1'",
            "criterion.align_weight (--align-weight) '0:0,100:-1'",
        ),
        (
            "align_mlm",
            "criterion.align_weight=ten",
            "criterion.align_weight (--align-weight): invalid weight",
        ),
        (
            "mlm",
            "task.mask_prob=1.5",
            "task.mask_prob (--mask-prob) must be a probability in [0, 1], got 1.5",
        ),
        ("mlm", "task.mask_prob=nan", "task.mask_prob (--mask-prob) is nan: expected a finite number"),
        ("mlm", "task.random_token_prob=-0.1", "task.random_token_prob (--random-token-prob) must be a "),
        (
            "mlm",
            "task.leave_unmasked_prob=0.95",
            "task.leave_unmasked_prob (--leave-unmasked-prob) + task.random_token_prob "
            "(--random-token-prob) is 1.05",
        ),
        ("dict_mlm", "task.dict_mlm_prob=1.2", "task.dict_mlm_prob (--dict-mlm-prob) must be a probability"),
        (
            "xlm",
            "task.tlm_fraction=-0.4",
            "task.tlm_fraction (--tlm-fraction) must be a probability in [0, 1]",
        ),
    ],
)
def test_plugin_values_that_train_silently_wrong(objective, override, expected, pair, tmp_path):
    line = refusal("train", *train_args(objective, pair, tmp_path / "save", *DRY, "--", override))
    assert line.startswith(f"error: {expected}"), line


def test_the_task_and_the_criterion_check_their_values_when_built():
    """Inside fairseq-train (or fairseq-train --task ... by hand) the same checks run when fairseq
    builds the task and the criterion, before any data is read."""
    import alignmlm.tasks  # noqa: F401  (registers the plugin)
    from alignmlm.criterions.align_mlm import AlignMLMCriterionConfig, AlignMLMLoss
    from alignmlm.tasks.dict_mlm import DictMLMConfig, DictMLMTask
    from alignmlm.tasks.xlm import XLMConfig, XLMTask

    with pytest.raises(InputError, match=r"criterion.align_weight \(--align-weight\) '-2'"):
        AlignMLMLoss(AlignMLMCriterionConfig(align_weight="-2"), task=None)
    with pytest.raises(InputError, match=r"task.dict_mlm_prob \(--dict-mlm-prob\) is inf"):
        DictMLMTask(DictMLMConfig(data="unused", dict_mlm_prob=float("inf")))
    with pytest.raises(InputError, match=r"task.tlm_fraction \(--tlm-fraction\) must be a probability"):
        XLMTask(XLMConfig(data="unused", tlm_fraction=1.5))


# ------------------------------------------------------------------ 5. labels


def label_check(labels: str, seen: dict):
    """FinetuningTask.check_labels of a task with the label set LABELS, on a split with SEEN."""
    from alignmlm.tasks.finetuning import FinetuningTask

    names = labels.split(",")
    task = SimpleNamespace(labels=names, label_index={n: i for i, n in enumerate(names)})
    return FinetuningTask.check_labels(task, Path("data/train.jsonl"), Counter(seen))


def test_a_split_mostly_outside_the_label_set_is_an_error():
    nli = "entailment,neutral,contradiction"
    with pytest.raises(InputError) as raised:  # converted Hugging Face data
        label_check(nli, {"0": 40, "1": 35, "2": 25})
    assert str(raised.value) == (
        "data/train.jsonl: 100 of 100 labels are outside the label set ('0' x40, '1' x35, '2' x25); "
        "--labels is entailment,neutral,contradiction: convert the file's labels to these, or pass "
        "its own label set with --labels"
    )
    with pytest.raises(InputError, match=r"6 of 10 labels .*'Entailment' x6"):
        label_check(nli, {"Entailment": 6, "neutral": 4})
    upos = "ADJ,NOUN,VERB,DET"
    with pytest.raises(InputError, match=r"'noun' x5, 'verb' x3, 'det' x2, 'x' x1, 'adj' x1 and 1 more\)"):
        label_check(upos, {"noun": 5, "verb": 3, "det": 2, "x": 1, "adj": 1, "adv": 1, "NOUN": 1})


def test_a_few_stray_labels_are_ignored_with_a_warning(caplog):
    assert label_check("entailment,neutral,contradiction", {"entailment": 27, "maybe": 3}) == 3
    assert "3 of 30 labels outside the label set ('maybe' x3) are ignored" in caplog.text
    assert label_check("entailment", {"entailment": 5}) == 0


@pytest.mark.slow
@pytest.mark.parametrize("task", ["pos", "nli"])
def test_the_tasks_refuse_a_split_of_another_label_set(task, tiny_pair, tiny_pos, nli_data, tmp_path):
    """The real tasks, in-process: lower-case UPOS tags, numeric NLI labels."""
    from alignmlm.tasks.nli import NliConfig, NliTask
    from alignmlm.tasks.pos_tagging import PosTaggingConfig, PosTaggingTask

    if task == "pos":
        text = (tiny_pos / "train.conllu").read_text(encoding="utf-8")
        rows = [line.split("\t") for line in text.splitlines()]
        text = "\n".join(
            "\t".join(r[:3] + [r[3].lower()] + r[4:]) if len(r) == 10 else "\t".join(r) for r in rows
        )
        (tmp_path / "train.conllu").write_text(text + "\n", encoding="utf-8")
        fine_tuning = PosTaggingTask.setup_task(
            PosTaggingConfig(data=str(tmp_path), pair=str(tiny_pair), max_positions=64)
        )
        expected = f"{tmp_path / 'train.conllu'}: "
    else:
        lines = (nli_data / "train.jsonl").read_text(encoding="utf-8").splitlines()
        numeric = {"entailment": 0, "neutral": 1, "contradiction": 2}
        rows = [json.loads(line) for line in lines]
        for row in rows:
            row["label"] = str(numeric[row["label"]])
        (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        fine_tuning = NliTask.setup_task(NliConfig(data=str(tmp_path), pair=str(tiny_pair), max_positions=64))
        expected = f"{tmp_path / 'train.jsonl'}: {len(rows)} of {len(rows)} labels are outside the label set"
    with pytest.raises(InputError) as raised:
        fine_tuning.load_dataset("train")
    assert str(raised.value).startswith(expected) and "--labels is " in str(raised.value)


# ------------------------------------------------------------------ 6. one line from fairseq-train


@pytest.mark.slow
def test_a_plugin_error_inside_fairseq_train_ends_in_one_line(tiny_pair, tmp_path):
    broken = tmp_path / "pair"
    shutil.copytree(tiny_pair, broken)
    (broken / "dict" / "train.txt").unlink()
    proc = run(train_command("align_mlm", broken, tmp_path / "save", "--max-update", "2"), check=False)
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 2 and "Traceback" not in output, output[-3000:]
    assert output.splitlines()[-1] == (
        f"error: {broken / 'dict' / 'train.txt'}: bilingual dictionary not found (the prepared pair "
        f"{broken}); prepare the pair again or pass --bilingual-dict (task.bilingual_dict)"
    )


def test_finetune_reports_the_error_line_of_a_failed_run(pair, tmp_path, monkeypatch):
    checkpoint = fake_checkpoint(tmp_path / "ckpt" / "checkpoint_last.pt", pair / "bin")

    def failing_fairseq(command, stdout, **kwargs):
        stdout.write(
            "INFO | fairseq | starting\n" * 30 + "error: data/train.jsonl: 9 of 9 labels are outside\n"
        )
        return 2

    monkeypatch.setattr("alignmlm.cli.finetune.subprocess.call", failing_fairseq)
    data = tmp_path / "nli"
    data.mkdir()
    line = refusal(
        "finetune",
        *[
            "--task",
            "nli",
            "--data",
            data,
            "--pair",
            pair,
            "--checkpoint",
            checkpoint,
            "--out",
            tmp_path / "o",
        ],
    )
    assert line == (
        "error: fine-tuning B_Z failed: data/train.jsonl: 9 of 9 labels are outside "
        f"(log {tmp_path / 'o' / 'B_Z' / 'stdout'})"
    )


# ------------------------------------------------------------------ 7. OS errors


def test_save_dir_or_out_that_is_a_file_is_one_line(pair, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert refusal("train", *train_args("mlm", pair, afile, *DRY)) == (
        f"error: --save-dir {afile} is a file; give a directory (it is created if missing)"
    )
    assert refusal("train", *train_args("mlm", pair, afile / "run", *DRY)) == (
        f"error: --save-dir {afile / 'run'}: {afile} is a file, not a directory"
    )
    checkpoint = fake_checkpoint(tmp_path / "ckpt" / "checkpoint_last.pt", pair / "bin")
    finetune = ["--task", "pos", "--data", tmp_path, "--pair", pair, "--checkpoint", checkpoint]
    assert refusal("finetune", *finetune, "--out", afile) == (
        f"error: --out {afile} is a file; give a directory (it is created if missing)"
    )
    assert refusal("finetune", *finetune, "--out", afile / "a" / "b") == (
        f"error: --out {afile / 'a' / 'b'}: {afile} is a file, not a directory"
    )
