"""One SLURM job per cell of a comparison (alignmlm compare --slurm): submit the cells that are
not finished, remember each cell's job in CELL/slurm_job.json so that running the comparison
again neither submits a queued or running cell twice nor loses a finished one, and wait for them.
"""

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

from alignmlm.safe_files import write_text_atomic

ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"}


def job_state(job_id: str):
    """SLURM's state of a job (e.g. RUNNING, COMPLETED, FAILED), or None once SLURM forgot it."""
    proc = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    match = re.search(r"JobState=(\S+)", proc.stdout)
    return match.group(1) if proc.returncode == 0 and match else None


def submit(cell: Path, command: list, sbatch_args: str, log) -> str:
    """The id of the cell's job: the one already queued or running, else a new submission of
    `command` (run from `command`'s working directory, the repository root)."""
    marker = cell / "slurm_job.json"
    if marker.is_file():
        job_id = json.loads(marker.read_text())["job_id"]
        state = job_state(job_id)
        if state in ACTIVE:
            log(f"{cell.name}: job {job_id} is {state}, not submitted again")
            return job_id
        log(
            f"{cell.name}: earlier job {job_id} ended ({state or 'no longer known to SLURM'}) "
            f"without finishing the cell (see {cell}/slurm-{job_id}.out); submitting again"
        )
    sbatch = [
        "sbatch",
        "--parsable",
        f"--job-name=compare_{cell.name}",
        f"--output={cell}/slurm-%j.out",
        *shlex.split(sbatch_args),
        "--wrap",
        shlex.join(str(c) for c in command),
    ]
    proc = subprocess.run(sbatch, capture_output=True, text=True)
    if proc.returncode != 0:
        reason = " ".join(proc.stderr.split()) or f"exit status {proc.returncode}"
        raise SystemExit(f"error: sbatch failed for {cell.name}: {reason} (command: {shlex.join(sbatch)})")
    job_id = proc.stdout.strip().split(";")[0]
    write_text_atomic(marker, json.dumps({"job_id": job_id, "sbatch": sbatch}, indent=2) + "\n")
    log(f"{cell.name}: submitted job {job_id}")
    return job_id


def wait(jobs: dict, log, poll_seconds: float = 5.0) -> None:
    """Block until none of {cell name: job id} is queued or running."""
    remaining = dict(jobs)
    while remaining:
        for name, job_id in list(remaining.items()):
            state = job_state(job_id)
            if state not in ACTIVE:
                log(f"{name}: job {job_id} {state or 'ended'}")
                del remaining[name]
        if remaining:
            time.sleep(poll_seconds)
