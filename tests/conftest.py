import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alignmlm import PLUGIN_DIR

REPO = Path(__file__).resolve().parents[1]
BUNDLED_CORPUS = REPO / "data" / "en_ewt" / "pretrain.txt"


def run(args, check=True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command of this repo's venv with the repo importable; output captured."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.update(kwargs.pop("env", {}))
    proc = subprocess.run([str(a) for a in args], cwd=kwargs.pop("cwd", REPO), env=env,
                          capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {args}\n"
                             f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")
    return proc


def fairseq_finetune(data, save_dir: Path, *args, check=True) -> subprocess.CompletedProcess:
    """fairseq-train of the plugin on task data: Adam, polynomial decay, sequence length 64 (as
    the `pretrained` checkpoint), JSON log in SAVE_DIR/train.log; ARGS: task, model, schedule."""
    save_dir.mkdir(parents=True, exist_ok=True)
    return run([sys.executable, "-m", "fairseq_cli.train", data, "--user-dir", PLUGIN_DIR,
                "--optimizer", "adam", "--lr-scheduler", "polynomial_decay", "--save-dir", save_dir,
                "--log-format", "json", "--log-file", save_dir / "train.log", "--num-workers", "0",
                "--max-positions", "64", *args], check=check)


def prepare_pair(*args, check=True):
    return run([sys.executable, "-m", "alignmlm.data_prep.prepare_pair", *args], check=check)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """The first 1500 sentences of the bundled EN-EWT sample."""
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    lines = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines(keepends=True)[:1500]
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_pair(tiny_corpus, tmp_path_factory) -> Path:
    """A real prepared Trans+Inv pair of the tiny corpus (sentencepiece + fairseq-preprocess)."""
    out = tmp_path_factory.mktemp("pairs") / "en_trans_inv"
    prepare_pair("--corpus", tiny_corpus, "--transform", "trans+inv", "--out", out,
                 "--vocab-size", "500", "--valid-size", "100", "--workers", "2")
    return out


@pytest.fixture(scope="session")
def pretrained(tiny_pair, tmp_path_factory) -> Path:
    """A checkpoint of 20 MLM updates on the tiny pair (sequence length 64), to fine-tune."""
    save_dir = tmp_path_factory.mktemp("mlm_for_finetuning")
    run([sys.executable, "-m", "alignmlm", "train", "--objective", "mlm", "--data", tiny_pair,
         "--save-dir", save_dir, "--max-update", "20", "--tokens-per-sample", "64",
         "--max-tokens", "2048", "--warmup-updates", "5"])
    return save_dir / "checkpoint_last.pt"


@pytest.fixture(scope="session")
def tiny_pos(tmp_path_factory):
    """The first 300 / 100 / 100 sentences of the bundled UPOS splits, original and Trans+Inv."""
    source = tmp_path_factory.mktemp("pos_source")
    for name, n in (("train", 300), ("dev", 100), ("test", 100)):
        text = (REPO / "data" / "en_ewt" / "pos" / f"{name}.conllu").read_text(encoding="utf-8")
        (source / f"{name}.conllu").write_text("\n\n".join(text.split("\n\n")[:n]) + "\n\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("pos")
    run([sys.executable, "-m", "alignmlm.data_prep.prepare_pos", "--conllu-dir", source, "--transform",
         "trans+inv", "--out", out, "--overwrite"])
    return out


@pytest.fixture(scope="session")
def other_pair(tiny_corpus, tmp_path_factory) -> Path:
    """A pair with another dictionary (Trans only, 300 pieces) than tiny_pair's."""
    out = tmp_path_factory.mktemp("pairs") / "en_trans_300"
    prepare_pair("--corpus", tiny_corpus, "--transform", "trans", "--out", out,
                 "--vocab-size", "300", "--valid-size", "50")
    return out


@pytest.fixture(scope="session")
def nli_data(tmp_path_factory) -> Path:
    """The hand-made NLI set of tests/data/nli, original and Trans+Inv (data_prep.prepare_nli)."""
    out = tmp_path_factory.mktemp("nli")
    source = REPO / "tests" / "data" / "nli"
    run([sys.executable, "-m", "alignmlm.data_prep.prepare_nli", "--train", source / "train.jsonl",
         "--valid", source / "valid.jsonl", "--test", source / "test.jsonl",
         "--transform", "trans+inv", "--out", out, "--overwrite"])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def localhost_cluster(tmp_path):
    """A one-node SLURM cluster on localhost (scripts/slurm/localhost_cluster.sh), stopped after
    the test; yields the environment that points sbatch, srun and scontrol at it."""
    if os.geteuid() != 0:
        pytest.skip("starting munged and slurmd needs root (CI runs as root)")
    cluster = tmp_path / "cluster"
    env = {"SLURMCTLD_PORT": str(free_port()), "SLURMD_PORT": str(free_port()), "CPUS": "2"}
    start = time.perf_counter()
    proc = run(["bash", REPO / "scripts" / "slurm" / "localhost_cluster.sh", "start", cluster], env=env)
    print(f"localhost cluster up in {time.perf_counter() - start:.1f} s")
    conf = re.search(r"export SLURM_CONF=(\S+)", proc.stdout).group(1)
    yield {"SLURM_CONF": conf}
    run(["bash", REPO / "scripts" / "slurm" / "localhost_cluster.sh", "stop", cluster], check=False)
