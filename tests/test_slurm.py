"""The SLURM templates: syntax, dry run, the checks that stop a bad job before it trains, and a
real job on a one-node localhost cluster (slurmctld + slurmd + munge) with 2 CPU tasks."""

import os
import re
import socket
import subprocess
import sys
import time

import pytest
from conftest import REPO, free_port, run

from alignmlm.fairseq_log import read_records

SLURM = REPO / "scripts" / "slurm"
TEMPLATE = "pretrain.sbatch"  # one template for one node or many


def template(name, env, check=True):
    """Run a template as a user would (`bash TEMPLATE`) with only `env` as its variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    return run(["bash", SLURM / name], check=check, env={**base, **{k: str(v) for k, v in env.items()}})


@pytest.fixture
def variables(manifest_pair, tmp_path):
    return {"PARTITION": "debug", "DATA": manifest_pair, "SAVE_DIR": tmp_path / "save", "DRY_RUN": "1"}


@pytest.mark.parametrize("name", [TEMPLATE, "job.sh", "task.sh", "localhost_cluster.sh"])
def test_scripts_pass_bash_n(name):
    assert subprocess.run(["bash", "-n", SLURM / name]).returncode == 0


def test_dry_run_prints_the_sbatch_and_srun_commands(variables, manifest_pair):
    proc = template(TEMPLATE, {**variables, "NODES": 4, "PORT": 12345})
    submit, srun = proc.stdout.strip().splitlines()
    assert submit.startswith("+ sbatch --job-name=align_mlm --nodes=4 --ntasks-per-node=8 ")
    for option in (
        "--gpus-per-node=8",
        "--partition=debug",
        "--requeue",
        "--signal=B:USR1@300",
        f"--output={variables['SAVE_DIR']}/slurm-%j.out",
    ):
        assert option in submit.split()
    assert srun.startswith("+ (in the job) srun --kill-on-bad-exit=1 --nodes=4 --ntasks-per-node=8 ")
    words = srun.split()
    for word in (
        "--config-name",
        "pretrain",
        "+objective=align_mlm",
        "+run=nodes",
        "+size=paper",
        f"task.data={manifest_pair.resolve() / 'bin'}",
        "distributed_training.distributed_world_size=32",
        "distributed_training.distributed_port=12345",
        "+precision=fp16",
        r"dataset.valid_subset=\'valid\,valid_en\,valid_en_trans_inv\'",
        "checkpoint.save_interval_updates=2000",
    ):
        assert word in words, word
    assert not (variables["SAVE_DIR"]).exists()  # a dry run writes nothing


def test_dry_run_on_cpu_passes_explicit_ranks_and_no_gpus(variables):
    proc = template(
        TEMPLATE,
        {**variables, "DEVICE": "cpu", "GPUS_PER_NODE": 2, "PRECISION": "fp32", "RUN": "cpu", "SIZE": "tiny"},
    )
    submit, srun = proc.stdout.strip().splitlines()
    assert "--gpus-per-node" not in submit
    words = srun.split()
    assert "common.cpu=true" in words and "distributed_training.distributed_backend=gloo" in words
    assert "distributed_training.distributed_init_method=tcp://MASTER_HOST:PORT" in words
    assert not any(w.startswith("+size") for w in words)


@pytest.mark.parametrize("missing", ["PARTITION", "DATA", "SAVE_DIR"])
def test_unset_variable_is_an_error_before_submission(variables, missing):
    env = {k: v for k, v in variables.items() if k != missing}
    proc = template(TEMPLATE, env, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert re.search(rf"error: {missing} is not set: .* Set it at the top of .*pretrain.sbatch", proc.stderr)


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {"DATA": "/nonexistent/pair"},
            "DATA=/nonexistent/pair: /nonexistent/pair: not a prepared pair (no pair.json)",
        ),
        ({"DATA": "relative/pair"}, "give an absolute path"),
        ({"PRECISION": "fp8"}, "PRECISION=fp8: expected one of fp16 bf16 amp fp32"),
        ({"DEVICE": "cpu"}, "PRECISION=fp16 needs GPUs"),
        (
            {"OBJECTIVE": "tlm"},
            "OBJECTIVE=tlm: expected the plain name of a file in configs/objective/: align_mlm align_mlm_contrastive dict_mlm mlm xlm",
        ),
        ({"NODES": "two"}, "NODES=two: expected a positive integer"),
        (
            {"EXTRA_ARGS": "distributed_training.distributed_world_size=4"},
            "sets distributed_training.distributed_world_size=4 but the job launches NODES x GPUS_PER_NODE = 8 processes",
        ),
    ],
)
def test_bad_variables_are_errors_before_submission(variables, change, expected):
    proc = template(TEMPLATE, {**variables, **change}, check=False)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    "ntasks, says",
    [
        ("3", "the job has 1 nodes and 3 tasks, but NODES=1 x GPUS_PER_NODE=2 asks for 2 processes"),
        (
            None,
            "the job has 1 nodes and no task count (sbatch was given no --ntasks or --ntasks-per-node), "
            "but NODES=1 x GPUS_PER_NODE=2 asks for 2 processes",
        ),
    ],
)
def test_job_with_other_task_count_than_the_variables_stops_before_srun(variables, ntasks, says):
    """`sbatch --ntasks=3 TEMPLATE` or a bare `sbatch TEMPLATE` with GPUS_PER_NODE=2: the job
    refuses to start fairseq."""
    env = {**variables, "GPUS_PER_NODE": 2, "SLURM_JOB_ID": "7", "SLURM_NNODES": "1", "REPO": REPO}
    if ntasks:
        env["SLURM_NTASKS"] = ntasks
    proc = template(TEMPLATE, env, check=False)
    assert proc.returncode == 2
    assert says in proc.stderr, proc.stderr


def test_preflight_names_the_host_and_the_missing_data(tmp_path):
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm.cli.slurm_preflight",
            "--data",
            tmp_path / "missing",
            "--save-dir",
            tmp_path / "save",
            "--device",
            "cpu",
        ],
        check=False,
    )
    assert proc.returncode == 1
    assert (
        f"error: preflight on {socket.gethostname()}: data directory {tmp_path / 'missing'} does not exist here"
        in proc.stderr
    )
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm.cli.slurm_preflight",
            "--data",
            tmp_path,
            "--save-dir",
            tmp_path / "save",
            "--device",
            "gpu",
            "--processes-per-node",
            "8",
        ],
        check=False,
    )
    assert "has no dict.txt" in proc.stderr and "0 GPUs visible" in proc.stderr


def wait_for_job(job_id, env, seconds=240) -> str:
    deadline = time.time() + seconds
    while time.time() < deadline:
        state = run(["scontrol", "show", "job", job_id], env=env).stdout
        match = re.search(r"JobState=(\S+)", state)
        if match and match.group(1) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"):
            return match.group(1)
        time.sleep(1)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s:\n{state}")


@pytest.mark.slow
def test_real_slurm_job_trains_with_world_size_2(localhost_cluster, tiny_pair, tmp_path):
    save = tmp_path / "save"
    env = {
        **localhost_cluster,
        "PARTITION": "debug",
        "TIME": "10:00",
        "DATA": tiny_pair,
        "SAVE_DIR": save,
        "OBJECTIVE": "align_mlm",
        "DEVICE": "cpu",
        "GPUS_PER_NODE": 2,
        "CPUS_PER_TASK": 1,
        "RUN": "cpu",
        "SIZE": "tiny",
        "PRECISION": "fp32",
        "SAVE_INTERVAL_UPDATES": 10,
        "PORT": free_port(),
        "EXTRA_ARGS": "optimization.max_update=20 task.tokens_per_sample=64 dataset.max_tokens=1024",
    }
    proc = template(TEMPLATE, env)
    job_id = re.search(r"Submitted batch job (\d+)", proc.stdout).group(1)
    state = wait_for_job(job_id, {"SLURM_CONF": env["SLURM_CONF"]})
    out = (save / f"slurm-{job_id}.out").read_text()
    assert state == "COMPLETED", out[-3000:]
    assert "world size 2, cpu, fp32" in out
    assert out.count("preflight on ") == 1 and "ok (data" in out
    assert "distributed init (rank 0)" in out and "distributed init (rank 1)" in out
    assert "training on 2 devices" in out
    assert "apex fused kernels: none active (no CUDA device)" in out
    records = read_records(save / "train.log", "train_inner")
    assert records[-1]["num_updates"] == "20" and float(records[-1]["wpb"]) == 2048  # 2 x 1024 tokens
    assert (save / "checkpoint_last.pt").is_file() and (save / "checkpoint_1_20.pt").is_file()
    assert not (
        save / "checkpoint_1_10.pt"
    ).exists()  # configs/pretrain.yaml keeps the last interval checkpoint
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train = EventAccumulator(str(save / "tensorboard" / "train_inner"))
    valid = EventAccumulator(str(save / "tensorboard" / "valid"))
    train.Reload(), valid.Reload()
    assert {"mlm_loss", "align_loss", "align_weight"} <= set(train.Tags()["scalars"])
    assert {"align_train_p1_nn", "align_heldout_p1_nn"} <= set(valid.Tags()["scalars"])
    assert len(train.Scalars("align_loss")) == 2
