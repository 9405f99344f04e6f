import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alignmlm import PLUGIN_DIR
from alignmlm.pair import FORMAT_VERSION

REPO = Path(__file__).resolve().parents[1]
BUNDLED_CORPUS = REPO / "data" / "en_ewt" / "pretrain.txt"


def run(args, check=True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command of this repo's venv with the repo importable; output captured."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.update(kwargs.pop("env", {}))
    proc = subprocess.run(
        [str(a) for a in args], cwd=kwargs.pop("cwd", REPO), env=env, capture_output=True, text=True, **kwargs
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {args}\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
    return proc


def refusal(command: str, *argv) -> str:
    """The one `error:` line `alignmlm COMMAND ARGV` stops with, run in this process through the
    entry point users call; asserts the exit status 2 and that no traceback was printed."""
    import contextlib
    import io

    from alignmlm.__main__ import main

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = main([command, *map(str, argv)])
    text = stderr.getvalue()
    assert status == 2, f"exit status {status}, stderr:\n{text}"
    assert "Traceback" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert errors, text
    return errors[-1]


def fairseq_finetune(data, save_dir: Path, *args, check=True) -> subprocess.CompletedProcess:
    """fairseq-train of the plugin on task data: Adam, polynomial decay, sequence length 64 (as
    the `pretrained` checkpoint), JSON log in SAVE_DIR/train.log; ARGS: task, model, schedule."""
    save_dir.mkdir(parents=True, exist_ok=True)
    return run(
        [
            sys.executable,
            "-m",
            "fairseq_cli.train",
            data,
            "--user-dir",
            PLUGIN_DIR,
            "--optimizer",
            "adam",
            "--lr-scheduler",
            "polynomial_decay",
            "--save-dir",
            save_dir,
            "--log-format",
            "json",
            "--log-file",
            save_dir / "train.log",
            "--num-workers",
            "0",
            "--max-positions",
            "64",
            *args,
        ],
        check=check,
    )


def prepare_pair(*args, check=True):
    return run([sys.executable, "-m", "alignmlm.data_prep.prepare_pair", *args], check=check)


# settings of `alignmlm train` for tiny test runs: 64-token blocks, 2,048 tokens per batch, 5
# warm-up updates, lr 2e-3, validation and checkpoint every 20 updates (training stats every 10)
TINY_TRAIN = [
    "--tokens-per-sample",
    "64",
    "--max-tokens",
    "2048",
    "--warmup-updates",
    "5",
    "--save-interval-updates",
    "20",
    "--lr",
    "2e-3",
]


def train_command(objective, data, save_dir, *flags, overrides=()) -> list:
    """The argv of `alignmlm train --objective OBJECTIVE` on DATA into SAVE_DIR with TINY_TRAIN;
    FLAGS are more of its own flags (given after TINY_TRAIN, so they win); OVERRIDES (hydra's
    key=value) go after `--`."""
    return [
        sys.executable,
        "-m",
        "alignmlm",
        "train",
        "--objective",
        objective,
        "--data",
        str(data),
        "--save-dir",
        str(save_dir),
        *TINY_TRAIN,
        *map(str, flags),
        *(["--", *overrides] if overrides else []),
    ]


def train(objective, data, save_dir, *flags, check=True, overrides=()) -> subprocess.CompletedProcess:
    """Run train_command(...) and return the finished process."""
    return run(train_command(objective, data, save_dir, *flags, overrides=overrides), check=check)


# the fine-tuning runs of the tests, per transfer task: fairseq task, criterion, model and schedule
FINETUNE = {
    "nli": [
        "--task",
        "nli",
        "--criterion",
        "sequence_classification",
        "--arch",
        "roberta_classifier_tiny",
        "--lr",
        "1e-3",
        "--batch-size",
        "16",
        "--max-update",
        "200",
        "--warmup-updates",
        "10",
        "--total-num-update",
        "200",
        "--validate-interval-updates",
        "200",
        "--validate-interval",
        "1000",
        "--valid-subset",
        "valid,test,test_derived",
        "--log-interval",
        "50",
    ],
    "ner": [
        "--task",
        "ner",
        "--criterion",
        "token_classification",
        "--arch",
        "roberta_tagger_tiny",
        "--lr",
        "1e-3",
        "--batch-size",
        "16",
        "--max-update",
        "150",
        "--warmup-updates",
        "10",
        "--total-num-update",
        "150",
        "--validate-interval-updates",
        "150",
        "--validate-interval",
        "1000",
        "--valid-subset",
        "valid,test,test_derived",
        "--log-interval",
        "50",
    ],
    "pos": [
        "--task",
        "pos_tagging",
        "--criterion",
        "token_classification",
        "--arch",
        "roberta_tagger_tiny",
        "--lr",
        "2e-3",
        "--max-tokens",
        "2048",
        "--max-update",
        "120",
        "--warmup-updates",
        "10",
        "--total-num-update",
        "120",
        "--validate-interval-updates",
        "120",
        "--valid-subset",
        "valid,test,test_derived",
        "--log-interval",
        "20",
    ],
}


def finetune(task, data, pair, checkpoint, save_dir, *extra, check=True) -> subprocess.CompletedProcess:
    """fairseq-train of transfer task TASK ('nli', 'ner' or 'pos') from CHECKPOINT, with FINETUNE[TASK]
    and EXTRA (later flags win); checkpoint_last.pt only (no epoch checkpoints)."""
    return fairseq_finetune(
        data,
        save_dir,
        *FINETUNE[task],
        "--pair",
        pair,
        "--pretrained-checkpoint",
        checkpoint,
        "--no-epoch-checkpoints",
        *extra,
        check=check,
    )


def checkpoint_state(path) -> dict:
    """A fairseq checkpoint of this plugin as torch.load reads it (the allow-list: weights only)."""
    import torch

    import alignmlm.checkpoint  # noqa: F401  (registers the allow-list)

    return torch.load(path, map_location="cpu", weights_only=True)


def labelled_logits(checkpoint, split, lang_id=None) -> tuple:
    """(logits, targets) of a fine-tuned CHECKPOINT (POS tagger or NLI classifier) at every
    labelled position of its task's SPLIT (targets IGNORE left out), computed in this process
    from the model's output; LANG_ID, if given, replaces the language id of every token."""
    import torch

    from alignmlm.checkpoint import load_checkpoint
    from alignmlm.data.labelled_dataset import IGNORE

    model, task = load_checkpoint(checkpoint)
    task.load_dataset(split)
    dataset = task.datasets[split]
    logits, targets = [], []
    with torch.no_grad():
        for start in range(0, len(dataset), 32):
            batch = dataset.collater([dataset[i] for i in range(start, min(start + 32, len(dataset)))])
            net_input = batch["net_input"]
            if lang_id is not None:
                net_input["src_lang_ids"] = torch.full_like(net_input["src_tokens"], lang_id)
            labelled = batch["target"] != IGNORE
            logits.append(model(**net_input)[labelled])
            targets.append(batch["target"][labelled])
    return torch.cat(logits), torch.cat(targets)


def training_config(objective, pair, *overrides):
    """The fairseq config of `alignmlm train --objective OBJECTIVE --data PAIR -- OVERRIDES`
    (configs/pretrain.yaml + configs/objective/OBJECTIVE.yaml, 64-token blocks), composed in this
    process; an override key=value sets or adds the key, as train's `--` does."""
    from alignmlm.pretraining_config import compose

    overrides = [o if o.startswith("+") else "++" + o for o in map(str, overrides)]
    return compose(
        objective,
        [
            f"task.data={pair / 'bin'}",
            f"common.user_dir={PLUGIN_DIR}",
            "task.tokens_per_sample=64",
            *overrides,
        ],
    )


def setup_task(objective, pair, *overrides):
    """The task fairseq builds for that config (see training_config), in this process."""
    from fairseq import tasks

    return tasks.setup_task(training_config(objective, pair, *overrides).task)


def upper_case_corpora(directory: Path, n_first: int, n_second: int) -> tuple:
    """A natural pair's two corpora: DIRECTORY/en.txt, the first N_FIRST lines of the bundled
    corpus, and DIRECTORY/up.txt, the next N_SECOND lines upper-cased."""
    lines = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()
    en, up = directory / "en.txt", directory / "up.txt"
    en.write_text("\n".join(lines[:n_first]) + "\n", encoding="utf-8")
    up.write_text(
        "\n".join(line.upper() for line in lines[n_first : n_first + n_second]) + "\n", encoding="utf-8"
    )
    return en, up


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """The first 1500 sentences of the bundled EN-EWT sample."""
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    lines = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines(keepends=True)[:1500]
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def manifest_pair(tmp_path_factory) -> Path:
    """The manifest of a prepared Trans+Inv pair without its data: what commands that only read
    pair.json (dry runs, argument checks) need, in milliseconds instead of a real preparation."""
    root = tmp_path_factory.mktemp("pairs") / "manifest_only"
    (root / "bin").mkdir(parents=True)
    manifest = {
        "settings": {"format_version": FORMAT_VERSION, "kind": "synthetic", "transform": "trans+inv"},
        "complete": True,
        "languages": ["en", "en_trans_inv"],
        "data": "bin",
        "spm_model": "spm.model",
        "dictionary_units": "pieces",
    }
    (root / "pair.json").write_text(json.dumps(manifest))
    return root


def trans_inv_pair(corpus: Path, out: Path) -> Path:
    """prepare-pair of CORPUS as Trans+Inv into OUT: 500 pieces, 100 validation sentences."""
    prepare_pair(
        *("--corpus", corpus, "--transform", "trans+inv", "--out", out),
        *("--vocab-size", "500", "--valid-size", "100", "--workers", "2"),
    )
    return out


@pytest.fixture(scope="session")
def tiny_pair(tiny_corpus, tmp_path_factory) -> Path:
    """A real prepared Trans+Inv pair of the tiny corpus (sentencepiece, fairseq's binary writer)."""
    return trans_inv_pair(tiny_corpus, tmp_path_factory.mktemp("pairs") / "en_trans_inv")


@pytest.fixture(scope="session")
def pretrained(tiny_pair, tmp_path_factory) -> Path:
    """A checkpoint of 20 MLM updates on the tiny pair (sequence length 64), to fine-tune."""
    save_dir = tmp_path_factory.mktemp("mlm_for_finetuning")
    train("mlm", tiny_pair, save_dir, "--max-update", "20", "--lr", "1e-3")
    return save_dir / "checkpoint_last.pt"


def make_pos_data(tmp_path_factory, n_train: int, n_dev: int, n_test: int) -> Path:
    """The first N_TRAIN / N_DEV / N_TEST sentences of the bundled UPOS splits, original and
    Trans+Inv (data_prep.prepare_pos)."""
    source = tmp_path_factory.mktemp("pos_source")
    for name, n in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        text = (REPO / "data" / "en_ewt" / "pos" / f"{name}.conllu").read_text(encoding="utf-8")
        (source / f"{name}.conllu").write_text("\n\n".join(text.split("\n\n")[:n]) + "\n\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("pos")
    run(
        [
            sys.executable,
            "-m",
            "alignmlm.data_prep.prepare_pos",
            "--conllu-dir",
            source,
            "--transform",
            "trans+inv",
            "--out",
            out,
            "--overwrite",
        ]
    )
    return out


@pytest.fixture(scope="session")
def tiny_pos(tmp_path_factory):
    """The first 300 / 100 / 100 sentences of the bundled UPOS splits, original and Trans+Inv."""
    return make_pos_data(tmp_path_factory, 300, 100, 100)


@pytest.fixture(scope="session")
def pos_data(tmp_path_factory):
    """The first 800 / 200 / 300 sentences of the bundled UPOS splits, original and Trans+Inv."""
    return make_pos_data(tmp_path_factory, 800, 200, 300)


@pytest.fixture(scope="session")
def other_pair(tiny_corpus, tmp_path_factory) -> Path:
    """A pair with another dictionary (Trans only, 300 pieces) than tiny_pair's."""
    out = tmp_path_factory.mktemp("pairs") / "en_trans_300"
    prepare_pair(
        "--corpus",
        tiny_corpus,
        "--transform",
        "trans",
        "--out",
        out,
        "--vocab-size",
        "300",
        "--valid-size",
        "50",
    )
    return out


@pytest.fixture(scope="session")
def nli_data(tmp_path_factory) -> Path:
    """The hand-made NLI set of tests/data/nli, original and Trans+Inv (data_prep.prepare_nli)."""
    out = tmp_path_factory.mktemp("nli")
    source = REPO / "tests" / "data" / "nli"
    run(
        [
            sys.executable,
            "-m",
            "alignmlm.data_prep.prepare_nli",
            "--train",
            source / "train.jsonl",
            "--valid",
            source / "valid.jsonl",
            "--test",
            source / "test.jsonl",
            "--transform",
            "trans+inv",
            "--out",
            out,
            "--overwrite",
        ]
    )
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
