"""A pretraining run's save directory, safe against preemption at any instant and against two
runs at once. Done by the task when fairseq's training builds the model, just before fairseq
loads `checkpoint_last.pt`, by global rank 0 (the other ranks wait for it):

- fairseq writes each checkpoint atomically (a .tmp file, then a rename) but *copies* it to
  `checkpoint_last.pt` (and `checkpoint_best.pt`) in place: a kill during the copy leaves a
  truncated file, and resuming from it ends in a torch traceback. A truncated
  `checkpoint_last.pt` is moved aside (`checkpoint_last.pt.truncated`) and replaced by the newest
  intact checkpoint of the directory (written to a temporary file, then renamed), with a warning
  naming both; with none intact, training starts afresh, with a warning.
- `SAVE_DIR/train.lock` is held (flock) for the life of the run, and says who holds it: a
  second run on the directory (a requeued job and a manual restart) stops with a message naming
  the other process. The kernel releases the lock when its process dies, even by SIGKILL.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import socket
import sys
import time
import zipfile
from pathlib import Path

from .errors import InputError

logger = logging.getLogger(__name__)

LAST = "checkpoint_last.pt"
LOCK_NAME = "train.lock"
_held_locks: dict[Path, int] = {}  # save dir -> open lock file descriptor, for the process's life


def in_fairseq_training() -> bool:
    """Whether this process is fairseq's training (fairseq-train, fairseq-hydra-train,
    `python -m fairseq_cli.train`), not an evaluation or a test building a model."""
    main = getattr(sys.modules.get("__main__"), "__spec__", None)
    return "fairseq_cli.train" in sys.modules or getattr(main, "name", "") in (
        "fairseq_cli.train",
        "fairseq_cli.hydra_train",
    )


def is_intact(path: Path) -> bool:
    """Whether PATH is a whole torch checkpoint: a zip archive (torch.save's format) whose
    central directory, written last, is there and lists the pickled object. Reads the directory
    only, not the weights."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/data.pkl") or name == "data.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def intact_checkpoints(save_dir: Path) -> list[Path]:
    """The intact checkpoints of SAVE_DIR but checkpoint_last.pt, newest first (by modification
    time: fairseq writes them in update order)."""
    found = [p for p in save_dir.glob("checkpoint*.pt") if p.name != LAST and p.is_file()]
    found.sort(key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
    return [p for p in found if is_intact(p)]


def repair_truncated_last(save_dir: Path) -> Path | None:
    """If SAVE_DIR/checkpoint_last.pt is truncated: move it aside and put the newest intact
    checkpoint in its place. Returns the checkpoint the run will resume from (None: nothing to
    repair, or nothing intact)."""
    last = save_dir / LAST
    if not last.is_file() or is_intact(last):
        return None
    aside = save_dir / f"{LAST}.truncated"
    if aside.exists():
        aside = save_dir / f"{LAST}.truncated.{time.strftime('%Y%m%d-%H%M%S')}"
    os.replace(last, aside)
    candidates = intact_checkpoints(save_dir)
    if not candidates:
        logger.warning(
            "%s is truncated (a kill while fairseq copied it) and %s has no intact checkpoint: "
            "training starts from scratch; the truncated file is kept as %s",
            last,
            save_dir,
            aside.name,
        )
        return None
    newest = candidates[0]
    tmp = save_dir / f"{LAST}.from-{newest.name}.tmp"
    shutil.copyfile(newest, tmp)
    os.replace(tmp, last)
    logger.warning(
        "%s is truncated (a kill while fairseq copied it): resuming from %s, the newest intact "
        "checkpoint, instead; the truncated file is kept as %s",
        last,
        newest,
        aside.name,
    )
    return newest


def lock_holder(lock_path: Path) -> str:
    try:
        who = json.loads(lock_path.read_text())
    except (OSError, ValueError):
        return "another process (its lock file says nothing readable)"
    job = f", SLURM job {who['slurm_job']}" if who.get("slurm_job") else ""
    return f"process {who.get('pid')} on {who.get('host')}{job}, started {who.get('started')}"


def lock_save_dir(save_dir: Path) -> None:
    """Hold SAVE_DIR/train.lock for the rest of this process; InputError naming the holder if
    another process has it."""
    save_dir = save_dir.resolve()
    if save_dir in _held_locks:
        return
    save_dir.mkdir(parents=True, exist_ok=True)
    path = save_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InputError(
            f"{save_dir} is in use by {lock_holder(path)} ({path}): two runs writing one save "
            "directory would overwrite each other's checkpoints; stop that run, or use another "
            "--save-dir"
        ) from None
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "slurm_job": os.environ.get("SLURM_JOB_ID"),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    os.ftruncate(fd, 0)
    os.write(fd, (json.dumps(record) + "\n").encode())
    _held_locks[save_dir] = fd


def check_unlocked(save_dir: Path) -> None:
    """InputError naming the holder if a run holds SAVE_DIR's lock now (alignmlm train checks
    before it starts fairseq; fairseq's process then takes the lock itself)."""
    path = save_dir / LOCK_NAME
    if not path.is_file():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InputError(
            f"{save_dir} is in use by {lock_holder(path)} ({path}); stop that run, or use another --save-dir"
        ) from None
    finally:
        os.close(fd)


def guard_save_dir(save_dir: str) -> None:
    """Lock SAVE_DIR and repair a truncated checkpoint_last.pt, on global rank 0; every rank
    then waits until that is done (fairseq loads the checkpoint right after)."""
    import torch.distributed as dist

    distributed = dist.is_available() and dist.is_initialized()
    if not distributed or dist.get_rank() == 0:
        lock_save_dir(Path(save_dir))
        repair_truncated_last(Path(save_dir))
    if distributed:
        dist.barrier()
