"""The MLM baseline through the real fairseq-train / fairseq-hydra-train on tiny data."""

import argparse
import shlex
import sys

import pytest
import torch
from conftest import REPO, checkpoint_state, run, train

from alignmlm.fairseq_log import read_records as json_log_records

MLM = ["--warmup-updates", "10", "--save-interval-updates", "30"]  # besides conftest's TINY_TRAIN


@pytest.fixture(scope="module")
def trained(tiny_pair, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("mlm")
    train("mlm", tiny_pair, save_dir, *MLM, "--max-update", "60")
    return save_dir


@pytest.mark.slow
def test_loss_falls_and_checkpoint_is_written(trained):
    records = json_log_records(trained / "train.log", "train_inner")
    assert [int(r["num_updates"]) for r in records] == [10, 20, 30, 40, 50, 60]
    losses = [float(r["loss"]) for r in records]
    assert losses[-1] < losses[0] - 1.0, losses
    valid = json_log_records(trained / "train.log", "valid_en_trans_inv")
    assert len(valid) == 2 and float(valid[-1]["valid_en_trans_inv_loss"]) < float(
        valid[0]["valid_en_trans_inv_loss"]
    )
    state = checkpoint_state(trained / "checkpoint_last.pt")
    assert state["optimizer_history"][-1]["num_updates"] == 60
    embeddings = state["model"]["encoder.sentence_encoder.embed_tokens.weight"]
    assert tuple(embeddings.shape) == (4 + 2 * 499 + 1, 64)  # specials, both languages' pieces, <mask>
    # tensorboard has the training losses the JSON log has
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained / "tensorboard" / "train_inner"))
    events.Reload()
    scalars = events.Scalars("loss")
    assert [e.step for e in scalars] == [10, 20, 30, 40, 50, 60]
    assert [e.value for e in scalars] == pytest.approx(losses, abs=2e-3)


@pytest.mark.slow
def test_training_resumes_from_checkpoint_last(trained, tiny_pair):
    proc = train("mlm", tiny_pair, trained, *MLM, "--max-update", "80")
    log = proc.stdout + proc.stderr
    assert "Loaded checkpoint" in log and "@ 60 updates" in log
    updates = [int(r["num_updates"]) for r in json_log_records(trained / "train.log", "train_inner")]
    # fairseq repeats the last record when it stops at --max-update
    assert sorted(set(updates)) == [10, 20, 30, 40, 50, 60, 70, 80]


LOAD_SCRIPT = """
import sys, torch
path = sys.argv[1]
try:
    torch.load(path)
    print("plain weights_only load: ok")
except Exception as err:
    print("plain weights_only load: refused")
from alignmlm.checkpoint import load_checkpoint
model, task = load_checkpoint(path)
tokens = task.dictionary.encode_line("▁the ▁government §▁the", append_eos=True).long()
tokens = torch.cat([torch.tensor([task.dictionary.bos()]), tokens]).unsqueeze(0)
features, _ = model(tokens, features_only=True)
print("languages", ",".join(task.langs), "features", tuple(features.shape),
      "finite", bool(torch.isfinite(features).all()))
saved = torch.load(path, weights_only=True)["model"]  # the allow-list is registered now
loaded = model.state_dict()
print("weights as saved", loaded.keys() == saved.keys() and all(torch.equal(loaded[k], saved[k]) for k in saved))
"""


@pytest.mark.slow
def test_checkpoint_loads_from_python_without_disabling_weights_only(trained, tmp_path):
    # fairseq-hydra-train saves its config as plain containers: torch's weights-only load takes it
    proc = run([sys.executable, "-c", LOAD_SCRIPT, trained / "checkpoint_last.pt"])
    assert "plain weights_only load: ok" in proc.stdout
    assert "languages en,en_trans_inv features (1, 5, 64) finite True" in proc.stdout
    assert "weights as saved True" in proc.stdout
    # fairseq-train's argparse path (fine-tuning) stores an argparse.Namespace, which torch
    # refuses by default; the plugin's allow-list makes it load
    state = torch.load(trained / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    state["cfg"]["model"] = argparse.Namespace(**state["cfg"]["model"])
    torch.save(state, tmp_path / "namespace.pt")
    proc = run([sys.executable, "-c", LOAD_SCRIPT, tmp_path / "namespace.pt"])
    assert "plain weights_only load: refused" in proc.stdout
    assert "languages en,en_trans_inv features (1, 5, 64) finite True" in proc.stdout
    assert "weights as saved True" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["mlm", "align_mlm", "xlm", "dict_mlm"])
def test_the_configs_train_with_fairseq_hydra_train_by_hand(objective, tiny_pair, tmp_path):
    """The documented command without `alignmlm train`: base config + objective overlay."""
    save_dir = tmp_path / "hydra_ckpt"
    run(
        [
            REPO / ".venv" / "bin" / "fairseq-hydra-train",
            "--config-dir",
            REPO / "configs",
            "--config-name",
            "pretrain",
            f"+objective={objective}",
            f"task.data={tiny_pair / 'bin'}",
            f"common.user_dir={REPO / 'alignmlm'}",
            "optimization.max_update=20",
            "task.tokens_per_sample=64",
            "dataset.max_tokens=2048",
            f"checkpoint.save_dir={save_dir}",
        ],
        cwd=tmp_path,
    )
    records = json_log_records(save_dir / "train.log", "train_inner")
    assert [int(r["num_updates"]) for r in records] == [10, 20]
    assert float(records[-1]["loss"]) < float(records[0]["loss"])
    assert list((save_dir / "tensorboard" / "train_inner").glob("events.out.tfevents.*"))
    assert not (tmp_path / "outputs").exists()  # hydra writes beside the run, not into the cwd
    assert (save_dir / "hydra" / "hydra_train.log").is_file()


def test_train_script_dry_run_prints_the_hydra_command(manifest_pair, tmp_path):
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "train",
            "--objective",
            "mlm",
            "--data",
            manifest_pair,
            "--save-dir",
            tmp_path / "x",
            "--max-update",
            "50",
            "--dry-run",
            "--",
            "dataset.max_epoch=3",
        ]
    )
    words = shlex.split(proc.stdout.strip().splitlines()[0])
    assert words[:4] == ["+", sys.executable, "-m", "fairseq_cli.hydra_train"]
    assert words[4:8] == ["--config-dir", str(REPO / "configs"), "--config-name", "pretrain"]
    for word in (
        "+objective=mlm",
        f"task.data={manifest_pair.resolve() / 'bin'}",
        f"checkpoint.save_dir={tmp_path / 'x'}",
        "optimization.max_update=50",
        "dataset.valid_subset='valid,valid_en,valid_en_trans_inv'",
    ):
        assert word in words, word
    assert words[-1] == "++dataset.max_epoch=3"  # set-or-add: the user's override wins
    assert not any(w.startswith("optimization.lr=") for w in words)  # defaults stay in the configs
    assert not (tmp_path / "x").exists()


def test_train_script_rejects_unprepared_data(tmp_path):
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "train",
            "--objective",
            "mlm",
            "--data",
            tmp_path,
            "--save-dir",
            tmp_path / "x",
        ],
        check=False,
    )
    assert proc.returncode != 0
    assert f"error: --data {tmp_path}: not a prepared pair (no pair.json)" in proc.stderr


@pytest.mark.parametrize(
    "extra, expected",
    [
        (
            ["--cpu-workers", "2", "--", "distributed_training.distributed_world_size=3"],
            "distributed_training.distributed_world_size=3 but --cpu-workers 2 processes are launched",
        ),
        (
            ["--", "--max-epoch", "3"],
            "after `--` give hydra overrides (key=value, e.g. dataset.max_epoch=3), "
            "not fairseq-train flags: --max-epoch",
        ),
    ],
)
def test_train_script_refuses_arguments_that_would_hang_or_misroute(manifest_pair, tmp_path, extra, expected):
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "train",
            "--objective",
            "mlm",
            "--data",
            manifest_pair,
            "--save-dir",
            tmp_path / "x",
            *extra,
        ],
        check=False,
    )
    assert proc.returncode != 0 and expected in proc.stderr
    assert not (tmp_path / "x").exists()


def test_torchrun_entry_refuses_another_world_size():
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm.cli.cpu_distributed_entry",
            "distributed_training.distributed_world_size=4",
        ],
        check=False,
        env={"WORLD_SIZE": "2", "RANK": "0"},
    )
    assert proc.returncode == 1
    assert "distributed_training.distributed_world_size=4 but torchrun launched 2 processes" in proc.stderr
