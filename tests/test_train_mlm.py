"""The MLM baseline through the real fairseq-train / fairseq-hydra-train on tiny data."""
import sys

import pytest

from conftest import REPO, run
from alignmlm.fairseq_log import read_records as json_log_records

FAST = ["--tokens-per-sample", "64", "--max-tokens", "2048", "--warmup-updates", "10",
        "--save-interval-updates", "30", "--log-interval", "10"]


def train(data, save_dir, *extra, check=True):
    return run([sys.executable, "-m", "alignmlm", "train", "--objective", "mlm", "--data", data,
                "--save-dir", save_dir, *FAST, *extra], check=check)


@pytest.fixture(scope="module")
def trained(tiny_pair, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("mlm")
    train(tiny_pair, save_dir, "--max-update", "60", "--lr", "2e-3")
    return save_dir


@pytest.mark.slow
def test_loss_falls_and_checkpoint_is_written(trained):
    records = json_log_records(trained / "train.log", "train_inner")
    assert [int(r["num_updates"]) for r in records] == [10, 20, 30, 40, 50, 60]
    losses = [float(r["loss"]) for r in records]
    assert losses[-1] < losses[0] - 1.0, losses
    valid = json_log_records(trained / "train.log", "valid_en_trans_inv")
    assert len(valid) == 2 and float(valid[-1]["valid_en_trans_inv_loss"]) < float(valid[0]["valid_en_trans_inv_loss"])
    assert (trained / "checkpoint_last.pt").stat().st_size > 0
    assert list((trained / "tensorboard").glob("train_inner/events.out.tfevents.*"))


@pytest.mark.slow
def test_training_resumes_from_checkpoint_last(trained, tiny_pair):
    proc = train(tiny_pair, trained, "--max-update", "80", "--lr", "2e-3")
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
"""


@pytest.mark.slow
def test_checkpoint_loads_from_python_without_disabling_weights_only(trained):
    proc = run([sys.executable, "-c", LOAD_SCRIPT, trained / "checkpoint_last.pt"])
    # torch 2.13 refuses fairseq checkpoints by default; our allow-list makes them load
    assert "plain weights_only load: refused" in proc.stdout
    assert "languages en,en_trans_inv features (1, 5, 64) finite True" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("config", ["mlm", "align_mlm", "xlm", "dict_mlm"])
def test_hydra_config_trains(config, tiny_pair, tmp_path):
    save_dir = tmp_path / "hydra_ckpt"
    run([REPO / ".venv" / "bin" / "fairseq-hydra-train", "--config-dir", REPO / "configs" / "pretrain",
         "--config-name", config, f"task.data={tiny_pair / 'bin'}", f"common.user_dir={REPO / 'user_dir'}",
         "optimization.max_update=20", "task.tokens_per_sample=64", "dataset.max_tokens=2048",
         f"checkpoint.save_dir={save_dir}", f"common.log_file={tmp_path / 'train.log'}"], cwd=tmp_path)
    records = json_log_records(tmp_path / "train.log", "train_inner")
    assert [int(r["num_updates"]) for r in records] == [10, 20]
    assert (save_dir / "checkpoint_last.pt").is_file()


def test_train_script_dry_run_prints_the_fairseq_command(tiny_pair, tmp_path):
    proc = run([sys.executable, "-m", "alignmlm", "train", "--objective", "mlm", "--data", tiny_pair,
                "--save-dir", tmp_path / "x", "--dry-run", "--", "--max-epoch", "3"])
    line = proc.stdout.strip().splitlines()[0]
    assert line.startswith("+ ") and "fairseq_cli.train" in line
    assert f"{tiny_pair / 'bin'} --user-dir" in line
    assert "--task multilingual_mlm --criterion masked_lm --arch roberta_tiny" in line
    assert "--valid-subset valid,valid_en,valid_en_trans_inv" in line
    assert line.endswith("--max-epoch 3")
    assert not (tmp_path / "x").exists()


def test_train_script_rejects_unprepared_data(tmp_path):
    proc = run([sys.executable, "-m", "alignmlm", "train", "--objective", "mlm", "--data", tmp_path,
                "--save-dir", tmp_path / "x"], check=False)
    assert proc.returncode != 0 and "neither a prepared pair" in proc.stderr


@pytest.mark.parametrize("extra, expected", [
    (["--cpu-workers", "2", "--", "--distributed-world-size", "3"],
     "--distributed-world-size 3 but --cpu-workers 2 processes are launched"),
    (["--", "--bf16"], "--bf16 switches fairseq 0.12 to TPU mode"),
])
def test_train_script_refuses_arguments_that_would_hang_or_misroute(tiny_pair, tmp_path, extra, expected):
    proc = run([sys.executable, "-m", "alignmlm", "train", "--objective", "mlm", "--data", tiny_pair,
                "--save-dir", tmp_path / "x", *extra], check=False)
    assert proc.returncode != 0 and expected in proc.stderr
    assert not (tmp_path / "x").exists()


def test_torchrun_entry_refuses_another_world_size(tmp_path):
    proc = run([sys.executable, "scripts/cpu_distributed_entry.py", tmp_path, "--distributed-world-size", "4"],
               check=False, env={"WORLD_SIZE": "2", "RANK": "0"})
    assert proc.returncode == 1
    assert "--distributed-world-size 4 but torchrun launched 2 processes" in proc.stderr
