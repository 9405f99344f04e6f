"""prepare-pair --shards N (data_prep/shards.py): shards cover every training sentence exactly
once, in corpus order; the stages run as independent jobs (a SLURM array on the localhost
cluster); fairseq-train takes one shard per epoch."""

import json
import re

import pytest
from conftest import REPO, run, train
from test_slurm import wait_for_job

from alignmlm.data_prep.prepare_pair import main as prepare_pair_main
from alignmlm.pair import PreparedPair

LANGS = ("en", "en_trans_inv")


def argv(corpus, out, *more) -> list:
    flags = ["--corpus", str(corpus), "--transform", "trans+inv", "--out", str(out), "--vocab-size", "300"]
    return flags + ["--valid-size", "40", "--workers", "2", *map(str, more)]


def prepare(corpus, out, *more):
    assert prepare_pair_main(argv(corpus, out, *more)) == 0
    return out


def refused(capsys, corpus, out, *more) -> str:
    """The one-line error of a refused preparation."""
    capsys.readouterr()
    assert prepare_pair_main(argv(corpus, out, *more)) == 2
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def whole(tiny_corpus, tmp_path_factory):
    return prepare(tiny_corpus, tmp_path_factory.mktemp("whole") / "pair")


def assert_same_pair(sharded, whole, shards):
    for lang in LANGS:
        trains = b"".join(
            (sharded / "bin" / f"shard{k}" / lang / "train.bin").read_bytes() for k in range(shards)
        )
        assert trains == (whole / "bin" / lang / "train.bin").read_bytes()
        sizes = [
            len((sharded / "bin" / f"shard{k}" / lang / "train.idx").read_bytes()) for k in range(shards)
        ]
        assert all(size > 100 for size in sizes)  # every shard holds sentences
        for k in range(shards):  # every epoch validates on the whole validation split
            for ext in ("bin", "idx"):
                valid = (sharded / "bin" / f"shard{k}" / lang / f"valid.{ext}").read_bytes()
                assert valid == (whole / "bin" / lang / f"valid.{ext}").read_bytes()
    for name in ("bin/dict.txt", "dict/all.txt", "dict/train.txt", "dict/heldout.txt", "spm.model"):
        if name != "spm.model":
            assert (sharded / name).read_bytes() == (whole / name).read_bytes(), name
    manifest = json.loads((sharded / "pair.json").read_text())
    assert manifest["complete"] and manifest["shards"] == shards
    assert (
        manifest["stats"]["sentences"] == json.loads((whole / "pair.json").read_text())["stats"]["sentences"]
    )
    pair = PreparedPair.load(sharded)
    assert pair.fairseq_data == ":".join(str(sharded.resolve() / "bin" / f"shard{k}") for k in range(shards))
    assert PreparedPair.of_data(pair.fairseq_data).root == sharded.resolve()


def test_shards_cover_every_sentence_once_in_order(tiny_corpus, whole, tmp_path):
    sharded = prepare(tiny_corpus, tmp_path / "sharded", "--shards", 3)
    assert_same_pair(sharded, whole, 3)
    assert not (sharded / ".shards").exists()


def test_stages_as_independent_jobs_in_any_order(tiny_corpus, whole, tmp_path, capsys):
    out = tmp_path / "staged"
    prepare(tiny_corpus, out, "--shards", 2, "--stage", "vocab")
    assert "shard(s) 0, 1 of 2 are not prepared yet" in refused(
        capsys, tiny_corpus, out, "--shards", 2, "--stage", "finish"
    )
    error = refused(
        capsys, tiny_corpus, out, "--shards", 2, "--stage", "shard", "--shard-index", 1, "--seed", 2
    )
    assert "was made with other settings (seed differ)" in error
    prepare(tiny_corpus, out, "--shards", 2, "--stage", "shard", "--shard-index", 1)
    prepare(tiny_corpus, out, "--shards", 2, "--stage", "shard", "--shard-index", 0)
    prepare(tiny_corpus, out, "--shards", 2, "--stage", "finish")
    assert_same_pair(out, whole, 2)


def test_bad_shard_flags(tiny_corpus, tmp_path, capsys):
    a = tmp_path / "a"
    assert "--stage shard needs --shard-index" in refused(
        capsys, tiny_corpus, a, "--shards", 2, "--stage", "shard"
    )
    error = refused(capsys, tiny_corpus, a, "--shards", 2, "--stage", "shard", "--shard-index", 2)
    assert "--shard-index 2: expected 0 .. 1 (--shards 2)" in error
    conllu = REPO / "data" / "en_ewt" / "pretrain.conllu"
    error = refused(capsys, conllu, tmp_path / "b", "--shards", 2)
    assert "--shards is for a synthetic pair of a plain-text corpus" in error


@pytest.mark.slow
def test_slurm_array_prepares_two_shards_and_fairseq_trains_on_both(
    localhost_cluster, tiny_corpus, whole, tmp_path
):
    out = tmp_path / "pair"
    env = {
        **localhost_cluster,
        "CORPUS": tiny_corpus,
        "OUT": out,
        "SHARDS": 2,
        "VOCAB_SIZE": 300,
        "WORKERS": 1,
        "PARTITION": "debug",
        "TIME": "10:00",
        "EXTRA_ARGS": "--valid-size 40",
    }
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    proc = run(
        ["bash", REPO / "scripts" / "slurm" / "prepare_shards.sh"],
        env={**base, **{k: str(v) for k, v in env.items()}},
    )
    jobs = re.search(r"vocabulary job (\d+), shard array (\d+) .*finish job (\d+)", proc.stdout)
    assert jobs, proc.stdout + proc.stderr
    state = wait_for_job(jobs.group(3), {"SLURM_CONF": env["SLURM_CONF"]}, seconds=300)
    logs = "".join(p.read_text() for p in sorted((tmp_path / "pair.slurm").glob("*.out")))
    assert state == "COMPLETED", logs[-3000:]
    assert len(list((tmp_path / "pair.slurm").glob("shard-*_*.out"))) == 2  # one job per shard
    assert_same_pair(out, whole, 2)

    # fairseq-train reads one shard per epoch
    trained = train(
        "mlm", out, tmp_path / "save", "--max-update", "1000", overrides=["optimization.max_epoch=2"]
    )
    output = trained.stdout + trained.stderr
    for k in (0, 1):
        assert f"{out.resolve()}/bin/shard{k}/en/train" in output
    assert (tmp_path / "save" / "checkpoint_last.pt").is_file()
