"""data_prep end to end on tiny real data, and its errors on bad input."""

import json
import sys

import conllu
import pytest
from conftest import REPO, prepare_pair, run, upper_case_corpora
from fairseq.data import Dictionary, data_utils

TWIN = "§"


def reference_trans_inv(line: str) -> str:
    """An independent Trans+Inv of a piece line: words are '▁'-started groups; a group made only
    of . ! ? ends a sentence; each sentence is reversed but for its final group; every piece but
    <unk> gets the twin mark."""
    words = []
    for piece in line.split():
        if piece.startswith("▁") or not words:
            words.append([piece])
        else:
            words[-1].append(piece)

    def final(word) -> bool:
        text = "".join(word).replace("▁", "")
        return text != "" and set(text) <= set(".!?")

    sentences, current = [], []
    for word in words:
        current.append(word)
        if final(word):
            sentences.append(current)
            current = []
    sentences += [current] if current else []
    order = [w for s in sentences for w in (s[-2::-1] + [s[-1]] if final(s[-1]) else s[::-1])]
    return " ".join(p if p == "<unk>" else TWIN + p for w in order for p in w)


@pytest.mark.slow
def test_synthetic_pair_end_to_end(tiny_pair):
    manifest = json.loads((tiny_pair / "pair.json").read_text())
    assert manifest["complete"] and manifest["languages"] == ["en", "en_trans_inv"]
    V = manifest["vocab_per_language"]
    assert V == 499 and manifest["twin_offset"] == V

    for split, n in (("train", 1400), ("valid", 100)):
        en = (tiny_pair / "text" / f"{split}.en").read_text(encoding="utf-8").splitlines()
        derived = (tiny_pair / "text" / f"{split}.en_trans_inv").read_text(encoding="utf-8").splitlines()
        assert len(en) == len(derived) == n
        assert derived == [reference_trans_inv(line) for line in en]

    d = Dictionary.load(str(tiny_pair / "bin" / "dict.txt"))
    assert len(d) == d.nspecial + 2 * V
    en_bin = data_utils.load_indexed_dataset(str(tiny_pair / "bin" / "en" / "train"), d)
    tr_bin = data_utils.load_indexed_dataset(str(tiny_pair / "bin" / "en_trans_inv" / "train"), d)
    assert len(en_bin) == len(tr_bin) == 1400
    first_line = (tiny_pair / "text" / "train.en").read_text(encoding="utf-8").splitlines()[0]
    assert en_bin[0].tolist() == [d.index(p) for p in first_line.split()] + [d.eos()]
    for i in range(50):  # twins live in [nspecial + V, nspecial + 2V), language 1 below
        en_ids, tr_ids = en_bin[i][:-1], tr_bin[i][:-1]
        assert ((en_ids >= d.nspecial) & (en_ids < d.nspecial + V)).all()
        assert ((tr_ids >= d.nspecial + V) & (tr_ids < d.nspecial + 2 * V)).all()
        assert sorted((tr_ids - V).tolist()) == sorted(en_ids.tolist())  # same pieces

    para = tiny_pair / "bin" / "para"
    assert (para / "train.en-en_trans_inv.en.bin").read_bytes() == (
        tiny_pair / "bin" / "en" / "train.bin"
    ).read_bytes()

    pairs = {
        name: (tiny_pair / "dict" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        for name in ("all", "train", "heldout")
    }
    assert len(pairs["all"]) == V and len(pairs["train"]) == 250 and len(pairs["heldout"]) == 249
    assert sorted(pairs["train"] + pairs["heldout"]) == sorted(pairs["all"])
    for line in pairs["all"]:
        src, tgt = line.split()
        assert tgt == TWIN + src and d.index(tgt) == d.index(src) + V


@pytest.mark.slow
def test_second_run_is_a_no_op(tiny_pair, tiny_corpus):
    before = (tiny_pair / "pair.json").stat().st_mtime_ns
    proc = prepare_pair(
        "--corpus",
        tiny_corpus,
        "--transform",
        "trans+inv",
        "--out",
        tiny_pair,
        "--vocab-size",
        "500",
        "--valid-size",
        "100",
        "--workers",
        "2",
    )
    assert "nothing to do" in proc.stderr
    assert (tiny_pair / "pair.json").stat().st_mtime_ns == before


@pytest.mark.slow
def test_output_with_other_settings_is_never_overwritten(tiny_pair, tiny_corpus):
    manifest = (tiny_pair / "pair.json").read_text()
    proc = prepare_pair(
        "--corpus",
        tiny_corpus,
        "--transform",
        "trans+perm",
        "--out",
        tiny_pair,
        "--vocab-size",
        "500",
        check=False,
    )
    assert proc.returncode == 2
    assert "was made with other settings" in proc.stderr and "transform" in proc.stderr
    assert "--overwrite" in proc.stderr
    assert (tiny_pair / "pair.json").read_text() == manifest


def test_foreign_output_directory_is_refused(tiny_corpus, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    proc = prepare_pair("--corpus", tiny_corpus, "--transform", "inv", "--out", tmp_path, check=False)
    assert proc.returncode == 2 and "is not empty and is not a prepared pair" in proc.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "missing.txt: input file not found"),
        (b"\n   \n\n", "corpus.txt: corpus is empty"),
        (
            b"fine line\nsecond line\ncaf\xe9 au lait\n",
            r"corpus.txt:3: corpus is not valid UTF-8 \(byte 0xe9 at column 4\)",
        ),
    ],
)
def test_bad_corpus_errors_name_file_and_line(tmp_path, content, expected):
    corpus = tmp_path / ("missing.txt" if content is None else "corpus.txt")
    if content is not None:
        corpus.write_bytes(content)
    proc = prepare_pair("--corpus", corpus, "--transform", "inv", "--out", tmp_path / "out", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("error:") == 1
    import re

    assert re.search(expected, proc.stderr), proc.stderr


def test_vocabulary_too_large_for_corpus(tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text("a tiny corpus .\nwith few words !\n" * 5)
    proc = prepare_pair(
        "--corpus",
        corpus,
        "--transform",
        "trans",
        "--out",
        tmp_path / "out",
        "--vocab-size",
        "5000",
        check=False,
    )
    assert proc.returncode == 2
    assert "small.txt: cannot train a sentencepiece vocabulary of 5000 pieces" in proc.stderr
    assert "supports at most" in proc.stderr


def test_flag_combinations_are_checked(tiny_corpus, tmp_path):
    proc = prepare_pair("--corpus", tiny_corpus, "--out", tmp_path / "o", check=False)
    assert proc.returncode == 2 and "give either --transform" in proc.stderr
    proc = prepare_pair(
        "--corpus", tiny_corpus, "--transform", "trans+rev", "--out", tmp_path / "o", check=False
    )
    assert proc.returncode == 2 and "unknown: rev" in proc.stderr


@pytest.mark.slow
def test_natural_pair_reports_dictionary_coverage(tmp_path):
    en, up = upper_case_corpora(tmp_path, 1200, 1200)
    (tmp_path / "en-up.txt").write_text(
        "the THE\nof OF\nantidisestablishmentarianism ANTIDISESTABLISHMENTARIANISM\n日本 NIPPON\n",
        encoding="utf-8",
    )
    out = tmp_path / "pair"
    proc = prepare_pair(
        "--corpus",
        en,
        "--lang1",
        "en",
        "--corpus2",
        up,
        "--lang2",
        "up",
        "--dictionary",
        tmp_path / "en-up.txt",
        "--out",
        out,
        "--vocab-size",
        "800",
        "--valid-size",
        "50",
    )
    coverage = json.loads((out / "pair.json").read_text())["stats"]["dictionary_coverage"]
    assert coverage == {
        "pairs": 4,
        "single_piece": 2,
        "multi_piece": 1,
        "oov": 1,
        "oov_examples": ["日本 NIPPON"],
    }
    assert "both sides one piece: 2, several pieces: 1, out of vocabulary: 1" in proc.stderr
    # each language's binarized training split decodes back to its piece text, line by line
    d = Dictionary.load(str(out / "bin" / "dict.txt"))
    for lang in ("en", "up"):
        text = (out / "text" / f"train.{lang}").read_text(encoding="utf-8").splitlines()
        binarized = data_utils.load_indexed_dataset(str(out / "bin" / lang / "train"), d)
        assert len(text) == len(binarized) == 1150  # 1200 sentences, 50 for validation
        assert [d.string(binarized[i]) for i in range(len(binarized))] == text
    assert not (out / "bin" / "para").exists()
    assert len((out / "dict" / "train.txt").read_text().splitlines()) == 2


def test_conllu_transform_moves_labels_with_words(tmp_path):
    src = REPO / "data" / "en_ewt" / "pos" / "dev.conllu"
    dst = tmp_path / "dev.trans_inv.conllu"
    run(
        [
            sys.executable,
            "-m",
            "alignmlm.data_prep.transform_conllu",
            "--input",
            src,
            "--output",
            dst,
            "--transform",
            "trans+inv",
        ]
    )
    original = conllu.parse(src.read_text(encoding="utf-8"))
    derived = conllu.parse(dst.read_text(encoding="utf-8"))
    assert len(original) == len(derived) == 1000
    for a, b in zip(original, derived):
        pairs = [(t["form"], t["upos"]) for t in a]
        if set(pairs[-1][0]) <= set(".!?"):
            expected = pairs[-2::-1] + [pairs[-1]]
        else:
            expected = pairs[::-1]
        assert [(t["form"], t["upos"]) for t in b] == [(TWIN + f, u) for f, u in expected]
        assert [t["id"] for t in b] == list(range(1, len(b) + 1))


def test_conllu_malformed_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.conllu"
    bad.write_text("# text = a b\n1\ta\t_\tDET\t_\t_\t_\t_\t_\t_\n2 b NOUN\n\n", encoding="utf-8")
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm.data_prep.transform_conllu",
            "--input",
            bad,
            "--output",
            tmp_path / "o.conllu",
            "--transform",
            "inv",
        ],
        check=False,
    )
    assert proc.returncode == 2 and "bad.conllu:3: expected 10 tab-separated CoNLL-U columns" in proc.stderr


# ---------------------------------------------------------------- nothing the user wrote is lost


def test_overwrite_never_deletes_inputs_or_foreign_files(tiny_corpus, tmp_path):
    """--overwrite once removed the whole --out: the corpus inside it, or unrelated files."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(tiny_corpus.read_bytes())
    proc = prepare_pair(
        "--corpus", corpus, "--transform", "inv", "--out", tmp_path, "--overwrite", check=False
    )
    assert proc.returncode == 2 and f"input {corpus} lies inside --out {tmp_path}" in proc.stderr
    assert corpus.read_bytes() == tiny_corpus.read_bytes()

    runs = tmp_path / "runs"
    (runs / "model").mkdir(parents=True)
    (runs / "model" / "checkpoint_last.pt").write_bytes(b"weights")
    proc = prepare_pair(
        "--corpus", tiny_corpus, "--transform", "inv", "--out", runs, "--overwrite", check=False
    )
    assert proc.returncode == 2 and "is not empty and is not a prepared pair" in proc.stderr
    assert "never deletes files it did not write" in proc.stderr
    assert (runs / "model" / "checkpoint_last.pt").read_bytes() == b"weights"


def test_overwrite_of_a_pair_keeps_files_it_did_not_write(tiny_corpus, tmp_path):
    pair = tmp_path / "pair"
    pair.mkdir()
    (pair / "pair.json").write_text(json.dumps({"settings": {"transform": "trans"}, "complete": True}))
    (pair / "notes.md").write_text("mine")
    proc = prepare_pair(
        "--corpus", tiny_corpus, "--transform", "inv", "--out", pair, "--overwrite", check=False
    )
    assert proc.returncode == 2 and "holds files a preparation does not write (notes.md)" in proc.stderr
    assert (pair / "notes.md").read_text() == "mine" and "trans" in (pair / "pair.json").read_text()


def test_a_second_preparation_of_the_same_out_stops_at_once(tiny_corpus, tmp_path):
    import fcntl
    import os

    out = tmp_path / "pair"
    out.mkdir()
    (out / ".partial").mkdir()  # the running preparation's work in progress
    lock = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running prepare-pair holds it
        proc = prepare_pair("--corpus", tiny_corpus, "--transform", "inv", "--out", out, check=False)
    finally:
        os.close(lock)
    assert proc.returncode == 2 and "another run is writing this directory" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [".partial"]  # nothing written, nothing removed


def test_transform_conllu_refuses_to_replace_its_input(tmp_path):
    source = tmp_path / "train.conllu"
    text = "1\tHello\thello\tINTJ\t_\t_\t0\troot\t_\t_\n\n"
    source.write_text(text, encoding="utf-8")
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "transform-conllu",
            "--input",
            source,
            "--output",
            source,
            "--transform",
            "trans+inv",
            "--overwrite",
        ],
        check=False,
    )
    assert proc.returncode == 2 and "is the --input file" in proc.stderr
    assert source.read_text(encoding="utf-8") == text


def test_task_data_records_its_transform(tmp_path):
    source = tmp_path / "conllu"
    source.mkdir()
    for name in ("train", "dev", "test"):
        (source / f"{name}.conllu").write_text(
            "1\tHello\thello\tINTJ\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8"
        )
    run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "prepare-pos",
            "--conllu-dir",
            source,
            "--transform",
            "inv",
            "--seed",
            "3",
            "--out",
            tmp_path / "pos",
        ]
    )
    import hashlib

    record = json.loads((tmp_path / "pos" / "task_data.json").read_text())
    assert (record["command"], record["transform"], record["seed"], record["complete"]) == (
        "prepare-pos",
        "inv",
        3,
        True,
    )
    sha = "sha256:" + hashlib.sha256((source / "train.conllu").read_bytes()).hexdigest()
    assert record["inputs"] == {"train": sha, "valid": sha, "test": sha}
    assert record["files"] == sorted(
        f"{s}{d}.conllu" for s in ("train", "valid", "test") for d in ("", "_derived")
    )
    assert sorted(p.name for p in (tmp_path / "pos").iterdir()) == sorted(
        record["files"] + ["task_data.json"]
    )
