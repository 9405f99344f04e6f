"""Preemption: a run killed with SIGKILL between two checkpoints and started again resumes from
checkpoint_last.pt and ends where an uninterrupted run with the same seed ends."""

import os
import signal
import subprocess
import time

import pytest
import torch
from conftest import REPO, train_command

from alignmlm.fairseq_log import read_records

FLAGS = ["--max-tokens", "1024", "--max-update", "60", "--save-interval-updates", "20"]


def command(objective, pair, save_dir):
    # validation is not what is tested
    return train_command(objective, pair, save_dir, *FLAGS, overrides=["dataset.disable_validation=true"])


def start(objective, pair, save_dir):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    log = open(save_dir.parent / f"{save_dir.name}.stdout", "a")
    # a session of its own, so that the kill reaches fairseq as well as the wrapper (as SLURM does)
    return subprocess.Popen(
        command(objective, pair, save_dir),
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def updates_logged(save_dir) -> int:
    log = save_dir / "train.log"
    records = read_records(log, "train_inner") if log.is_file() else []
    return max((int(r["num_updates"]) for r in records), default=0)


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["align_mlm", "dict_mlm"])
def test_sigkill_and_resume_ends_with_the_uninterrupted_loss(objective, tiny_pair, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert start(objective, tiny_pair, whole).wait() == 0

    proc = start(objective, tiny_pair, killed)
    deadline = time.time() + 300
    while updates_logged(killed) < 30:  # past the checkpoint at 20, before the one at 40
        assert proc.poll() is None and time.time() < deadline, "training ended before the kill"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert updates_logged(killed) < 40, "killed too late to test a resume"

    assert start(objective, tiny_pair, killed).wait() == 0
    stdout = (tmp_path / "killed.stdout").read_text()
    assert "Loaded checkpoint" in stdout and "@ 20 updates" in stdout
    expected = {
        int(r["num_updates"]): float(r["loss"]) for r in read_records(whole / "train.log", "train_inner")
    }
    resumed = {
        int(r["num_updates"]): float(r["loss"]) for r in read_records(killed / "train.log", "train_inner")
    }
    assert max(expected) == max(resumed) == 60
    for update in (40, 50, 60):
        assert resumed[update] == pytest.approx(expected[update], rel=1e-4), update
    # and the weights it ends with are those of the uninterrupted run, bit for bit
    import alignmlm.checkpoint  # noqa: F401  (allow-list for torch.load)

    a, b = (torch.load(d / "checkpoint_last.pt", map_location="cpu")["model"] for d in (whole, killed))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the resumed run really restarted at 20: it logged update 30 twice
    assert [int(r["num_updates"]) for r in read_records(killed / "train.log", "train_inner")].count(30) == 2
