"""The save directory's guard (alignmlm/save_dir_guard.py): a truncated checkpoint_last.pt is
replaced by the newest intact checkpoint, and one run at a time writes a save directory."""

import logging
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO, checkpoint_state, run, train_command

from alignmlm.save_dir_guard import (
    LOCK_NAME,
    intact_checkpoints,
    is_intact,
    lock_save_dir,
    repair_truncated_last,
)


def save(path, value, mtime):
    torch.save({"model": {"w": torch.full((64, 64), float(value))}}, path)
    os.utime(path, ns=(mtime, mtime))
    return path


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_checkpoint_is_detected_without_loading_it(tmp_path):
    whole = save(tmp_path / "checkpoint_1_20.pt", 1, 10**18)
    assert is_intact(whole)
    cut = save(tmp_path / "cut.pt", 1, 10**18)
    truncate(cut)
    assert not is_intact(cut)
    (tmp_path / "empty.pt").write_bytes(b"")
    assert not is_intact(tmp_path / "empty.pt")


def test_truncated_last_is_replaced_by_the_newest_intact_checkpoint(tmp_path, caplog):
    save(tmp_path / "checkpoint_1_20.pt", 20, 10**18)
    newest = save(tmp_path / "checkpoint_1_40.pt", 40, 2 * 10**18)
    broken_newer = save(tmp_path / "checkpoint_best.pt", 40, 3 * 10**18)
    truncate(broken_newer)  # newer but broken: passed over
    last = save(tmp_path / "checkpoint_last.pt", 40, 3 * 10**18)
    truncate(last)
    truncated_bytes = last.read_bytes()
    assert [p.name for p in intact_checkpoints(tmp_path)] == ["checkpoint_1_40.pt", "checkpoint_1_20.pt"]

    with caplog.at_level(logging.WARNING):
        assert repair_truncated_last(tmp_path) == newest
    assert last.read_bytes() == newest.read_bytes()
    assert torch.load(last)["model"]["w"][0, 0].item() == 40
    assert (tmp_path / "checkpoint_last.pt.truncated").read_bytes() == truncated_bytes  # kept
    assert str(last) in caplog.text and str(newest) in caplog.text
    assert repair_truncated_last(tmp_path) is None  # intact now: nothing to do


def test_nothing_intact_starts_afresh_and_keeps_the_file(tmp_path, caplog):
    last = save(tmp_path / "checkpoint_last.pt", 1, 10**18)
    truncate(last)
    with caplog.at_level(logging.WARNING):
        assert repair_truncated_last(tmp_path) is None
    assert not last.exists() and (tmp_path / "checkpoint_last.pt.truncated").is_file()
    assert "starts from scratch" in caplog.text


def test_a_second_process_cannot_take_the_lock(tmp_path):
    lock_save_dir(tmp_path)
    lock_save_dir(tmp_path)  # this process again: fine
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from alignmlm.save_dir_guard import lock_save_dir; lock_save_dir(__import__('pathlib').Path({str(tmp_path)!r}))",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert other.returncode != 0
    assert f"is in use by process {os.getpid()} on " in other.stderr
    assert str(tmp_path / LOCK_NAME) in other.stderr


# the same learning-rate schedule whether the run stops at 20 or 60 updates
SCHEDULE = ["dataset.disable_validation=true", "lr_scheduler.total_num_update=60"]


def train_to(pair, save_dir, updates, check=True):
    argv = train_command("align_mlm", pair, save_dir, "--max-update", updates, overrides=SCHEDULE)
    return run(argv, check=check)


@pytest.mark.slow
def test_resuming_over_a_truncated_last_checkpoint_ends_with_the_uninterrupted_weights(tiny_pair, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    train_to(tiny_pair, whole, 60)
    train_to(tiny_pair, cut, 20)  # checkpoint_1_20.pt, copied to checkpoint_last.pt
    truncate(cut / "checkpoint_last.pt")  # as a kill during fairseq's copy leaves it
    resumed = train_to(tiny_pair, cut, 60)
    output = resumed.stdout + resumed.stderr
    assert f"{cut / 'checkpoint_last.pt'} is truncated" in output
    assert f"resuming from {cut / 'checkpoint_1_20.pt'}" in output
    assert "@ 20 updates" in output  # fairseq's "Loaded checkpoint ... (epoch 1 @ 20 updates)"
    expected = checkpoint_state(whole / "checkpoint_last.pt")["model"]
    got = checkpoint_state(cut / "checkpoint_last.pt")["model"]
    assert expected.keys() == got.keys()
    for name, value in expected.items():
        assert torch.equal(got[name], value), name


@pytest.mark.slow
def test_a_run_on_a_locked_save_dir_stops_naming_the_holder(tiny_pair, tmp_path):
    save_dir = tmp_path / "busy"
    lock_save_dir(save_dir)  # this test process plays the other run
    result = train_to(tiny_pair, save_dir, 5, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"is in use by process {os.getpid()} on " in output
    assert not (save_dir / "checkpoint_last.pt").exists()
