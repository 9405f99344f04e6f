"""The one fine-tuning recipe (alignmlm finetune): dev-set selection, the paper preset, the
sequence length from the checkpoint; and train.py refusing to resume another run's save dir."""

import json
import sys

import pytest
from conftest import run

from alignmlm.cli.finetune import finetuning_arch, recipe_settings, selected_score
from alignmlm.fairseq_log import read_records


def test_selection_takes_the_test_score_at_the_best_dev_score(tmp_path):
    log = tmp_path / "train.log"
    records = []
    for update, dev, test in ((10, 50.0, 40.0), (20, 70.0, 45.0), (30, 70.0, 60.0), (40, 65.0, 80.0)):
        records.append({"valid_loss": 1, "valid_accuracy": dev, "valid_num_updates": update})
        records.append(
            {"test_derived_loss": 1, "test_derived_accuracy": test, "test_derived_num_updates": update}
        )
    log.write_text("\n".join(f"2026 | INFO | valid | {json.dumps(r)}" for r in records) + "\n")
    # best dev 70 first reached at update 20: its test score, not the best test score (80)
    assert selected_score(log, "valid") == {"score": 45.0, "dev": 70.0, "update": 20, "validations": 4}


def test_recipes_and_architectures():
    assert recipe_settings("paper")["lr"] == 2e-5 and recipe_settings("paper")["batch_size"] == 32
    assert recipe_settings("paper")["epochs"] == {"pos": 10, "ner": 10, "nli": 5}
    assert recipe_settings("quick", 50)["updates"] == 50
    with pytest.raises(SystemExit, match="quick recipe only"):
        recipe_settings("paper", 50)
    assert finetuning_arch("roberta_tiny", "roberta_tagger") == "roberta_tagger_tiny"
    assert (
        finetuning_arch("roberta_lang_align_paper", "roberta_classifier") == "roberta_classifier_align_paper"
    )


@pytest.mark.slow
def test_paper_recipe_reports_the_final_model_on_the_derived_dev_set(
    nli_data, tiny_pair, pretrained, tmp_path
):
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "finetune",
            "--task",
            "nli",
            "--data",
            nli_data,
            "--pair",
            tiny_pair,
            "--checkpoint",
            pretrained,
            "--out",
            tmp_path,
            "--recipe",
            "paper",
            "--seed",
            "3",
        ]
    )
    result = json.loads((tmp_path / "transfer.json").read_text())
    assert json.loads(proc.stdout) == result
    for name in ("B_Z", "B_S"):
        log = tmp_path / name / "train.log"
        scores = {
            int(r["valid_derived_num_updates"]): float(r["valid_derived_accuracy"])
            for r in read_records(log, "valid_derived")
        }
        assert sorted(scores) == [
            3,
            6,
            9,
            12,
            15,
        ]  # 5 epochs of 96 pairs in batches of 32, one validation each
        # the authors' scripts: the final model on the derived dev set, no selection
        assert result[f"{name}_selection"] == {"score": scores[15], "split": "valid_derived", "update": 15}
        assert result[name] == scores[15]
        assert not read_records(log, "test_derived")  # the test set is not looked at
        stdout = (tmp_path / name / "stdout").read_text()
        assert "'max_positions': 64" in stdout and "'seed': 3" in stdout and "'lr': [2e-05]" in stdout
    assert result["delta"] == pytest.approx(result["B_Z"] - result["B_S"], abs=0.01)


@pytest.mark.slow
def test_train_refuses_to_resume_another_runs_save_dir(pretrained, tiny_pair, other_pair):
    save_dir = pretrained.parent  # 20 MLM updates on tiny_pair
    base = [
        sys.executable,
        "-m",
        "alignmlm",
        "train",
        "--save-dir",
        save_dir,
        "--tokens-per-sample",
        "64",
        "--dry-run",
    ]
    proc = run(base + ["--objective", "dict_mlm", "--data", tiny_pair], check=False)
    assert proc.returncode != 0
    assert (
        f"error: {save_dir} holds a checkpoint of another run: task multilingual_mlm (asked: dict_mlm); "
        "criterion masked_lm (asked: masked_lm)"
    ) not in proc.stderr  # equal fields are not listed
    assert "task multilingual_mlm (asked: dict_mlm)" in proc.stderr and "criterion" not in proc.stderr
    proc = run(base + ["--objective", "mlm", "--data", other_pair], check=False)
    assert proc.returncode != 0 and f"data {tiny_pair.resolve() / 'bin'}" in proc.stderr
    proc = run(
        base + ["--objective", "mlm", "--data", tiny_pair, "--arch", "roberta_align_paper"], check=False
    )
    assert proc.returncode != 0 and "arch roberta_tiny (asked: roberta_align_paper)" in proc.stderr
    proc = run(base + ["--objective", "mlm", "--data", tiny_pair])
    assert "resuming" in proc.stdout and "same objective, architecture and data" in proc.stdout
