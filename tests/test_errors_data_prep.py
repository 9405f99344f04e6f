"""Issue 13, data preparation: every bad or unusual input ends in one `error:` line naming the
flag or file:line and the fix, and no run loses or half-replaces a file. In-process and fast:
the refusals happen before sentencepiece, and a "previous pair" is a hand-made manifest whose
settings are what prepare-pair computes for the same flags."""

import hashlib
import json
import os
import sys

import pytest
from conftest import REPO, prepare_pair, refusal, run

from alignmlm.data.bilingual_dictionary import read_word_pairs
from alignmlm.data_prep import prepare_nli, prepare_pos, transform_conllu
from alignmlm.data_prep import prepare_pair as pp
from alignmlm.data_prep.corpus import fingerprint
from alignmlm.data_prep.dictionary import split_by_source_word
from alignmlm.data_prep.task_data import RECORD, check_matches_pair

ROOT = os.geteuid() == 0  # root ignores file permissions: chmod cannot make a refusal
needs_permissions = pytest.mark.skipif(ROOT, reason="running as root: chmod does not stop root")
WORD_LINE = "1\t{form}\t_\t{upos}\t_\t_\t0\troot\t_\t_\n"


def snapshot(root):
    """Every file under ROOT and its bytes: what must not change."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def corpus(tmp_path):
    """30 distinct sentences: enough to get past every check, too few for a 5000-piece
    vocabulary, so that a run with --vocab-size 5000 fails in sentencepiece, after staging."""
    path = tmp_path / "in" / "corpus.txt"
    path.parent.mkdir()
    lines = (REPO / "data" / "en_ewt" / "pretrain.txt").read_text(encoding="utf-8").splitlines()[:30]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def pair_args(corpus, out, *flags):
    return ["--corpus", corpus, "--transform", "inv", "--out", out, *flags]


def fake_pair(out, argv, complete=True, settings=None):
    """OUT as a finished (or unfinished) preparation of ARGV would leave it, with small stand-in
    files: pair.json with the settings prepare-pair computes for ARGV (or SETTINGS)."""
    args = pp.build_parser().parse_args([str(a) for a in argv])
    kind = pp.check_args(args)
    wanted = settings or pp.settings(args, kind, pp.input_paths(args, kind))
    for name in ("text", "dict", "bin"):
        (out / name).mkdir(parents=True, exist_ok=True)
        (out / name / "x.txt").write_text(f"old {name}")
    (out / "spm.model").write_bytes(b"old model")
    (out / "pair.json").write_text(json.dumps({"settings": wanted, "complete": complete}))
    return wanted


# ------------------------------------------------------------ 1. staged writes, unfinished runs


def test_failed_run_leaves_the_previous_pair_untouched(corpus, tmp_path):
    out = tmp_path / "pair"
    fake_pair(out, pair_args(corpus, out))
    before = snapshot(out)
    error = refusal("prepare-pair", *pair_args(corpus, out, "--vocab-size", "5000", "--overwrite"))
    assert "cannot train a sentencepiece vocabulary of 5000 pieces" in error  # failed after staging
    assert snapshot(out) == before
    assert not (out / ".partial").exists()

    # a first run that failed leaves no manifest behind: its corrected rerun is not "made with
    # other settings (inputs differ); pass --overwrite"
    fresh = tmp_path / "fresh"
    assert "cannot train" in refusal("prepare-pair", *pair_args(corpus, fresh, "--vocab-size", "5000"))
    assert list(fresh.iterdir()) == []
    assert "cannot train" in refusal("prepare-pair", *pair_args(corpus, fresh, "--vocab-size", "4000"))


def test_unfinished_run_does_not_block_the_corrected_rerun(corpus, tmp_path):
    out = tmp_path / "pair"
    fake_pair(out, pair_args(corpus, out, "--vocab-size", "300"), complete=False)  # other settings
    (out / ".partial" / "text").mkdir(parents=True)  # a run killed while building
    before = snapshot(out)
    # not "made with other settings ... pass --overwrite": the rerun goes on (to sentencepiece)
    error = refusal("prepare-pair", *pair_args(corpus, out, "--vocab-size", "5000"))
    assert "cannot train a sentencepiece vocabulary" in error
    assert snapshot(out) == {k: v for k, v in before.items() if not k.startswith(".partial")}

    killed_first_run = tmp_path / "first"
    (killed_first_run / ".partial" / "bin").mkdir(parents=True)  # only the staging directory
    error = refusal("prepare-pair", *pair_args(corpus, killed_first_run, "--vocab-size", "5000"))
    assert "cannot train a sentencepiece vocabulary" in error


@pytest.mark.slow
def test_rerun_after_a_killed_run_and_the_same_files_by_other_paths(corpus, tmp_path, monkeypatch):
    """The real thing (sentencepiece and the binaries, ~4 s): a killed run's leftovers are
    replaced by the rerun; then the same corpus by a relative path, `./x` and a symlink is the
    same preparation (nothing to do)."""
    out = tmp_path / "pair"
    fake_pair(out, pair_args(corpus, out), complete=False)
    (out / ".partial").mkdir()
    flags = ["--vocab-size", "100", "--valid-size", "5"]
    prepare_pair(*pair_args(corpus, out, *flags))
    manifest = json.loads((out / "pair.json").read_text())
    assert manifest["complete"] and manifest["input_paths"] == {"corpus": str(corpus)}
    assert manifest["settings"]["inputs"] == {"corpus": fingerprint(corpus)}
    assert not (out / "text" / "x.txt").exists() and not (out / ".partial").exists()
    before = snapshot(out)
    (tmp_path / "link.txt").symlink_to(corpus)
    monkeypatch.chdir(tmp_path)
    for spelling in ("in/corpus.txt", "./in/corpus.txt", "link.txt", "in/../in/corpus.txt"):
        proc = run(
            [sys.executable, "-m", "alignmlm", "prepare-pair", *pair_args(spelling, "pair", *flags)],
            cwd=tmp_path,
        )
        assert "nothing to do" in proc.stderr, spelling
    assert snapshot(out) == before


def test_same_settings_by_another_path_spelling_is_nothing_to_do(corpus, tmp_path, monkeypatch, capsys):
    out = tmp_path / "pair"
    fake_pair(out, pair_args(corpus, out))
    before = snapshot(out)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.txt").symlink_to(corpus)
    for spelling in (corpus, "in/corpus.txt", "./in/corpus.txt", "link.txt"):
        assert pp.main([str(a) for a in pair_args(spelling, "pair")]) == 0
        assert "already holds this pair with the same settings; nothing to do" in capsys.readouterr().err
    assert snapshot(out) == before


# ------------------------------------------------------------------------ 2. input identity


def test_fingerprint_is_the_full_content_sha256(tmp_path):
    path = tmp_path / "big.txt"
    data = os.urandom(3 << 20)  # several 1 MB chunks
    path.write_bytes(data)
    assert fingerprint(path) == "sha256:" + hashlib.sha256(data).hexdigest()


def test_corpus_edited_in_the_middle_is_another_input(corpus, tmp_path):
    """The old fingerprint hashed size + first and last 4 MB: an edit of the same size in the
    middle was "already prepared"."""
    out = tmp_path / "pair"
    fake_pair(out, pair_args(corpus, out))
    before = snapshot(out)
    text = corpus.read_text(encoding="utf-8")
    middle = len(text) // 2
    corpus.write_text(
        text[:middle] + ("X" if text[middle] != "X" else "Y") + text[middle + 1 :], encoding="utf-8"
    )
    error = refusal("prepare-pair", *pair_args(corpus, out))
    assert error == (
        f"error: --out {out} was made with other settings (the contents of --corpus differ); choose "
        "another --out or pass --overwrite to replace this prepared pair"
    )
    assert snapshot(out) == before


def test_pair_of_the_older_format_gets_a_clear_message(corpus, tmp_path):
    out = tmp_path / "pair"
    old = fake_pair(out, pair_args(corpus, out))
    old["inputs"] = {str(corpus): "1234:0123456789abcdef"}  # keyed by path, edge hash
    fake_pair(out, pair_args(corpus, out), settings=old)
    before = snapshot(out)
    error = refusal("prepare-pair", *pair_args(corpus, out))
    assert "was prepared by an older version, which recorded its inputs differently" in error
    assert "pass --overwrite to prepare it again" in error
    assert snapshot(out) == before


def test_pair_fingerprint_ignores_the_recorded_paths(tmp_path):
    from alignmlm.pair import FORMAT_VERSION, PreparedPair

    roots = []
    for name, path in (("a", "/data/corpus.txt"), ("b", "../corpus.txt")):
        root = tmp_path / name
        (root / "bin").mkdir(parents=True)
        (root / "dict").mkdir()
        (root / "bin" / "dict.txt").write_text("▁the 3\n")
        (root / "dict" / "all.txt").write_text("▁the §▁the\n")
        manifest = {
            "settings": {"format_version": FORMAT_VERSION, "inputs": {"corpus": "sha256:00"}},
            "input_paths": {"corpus": path},
            "complete": True,
            "data": "bin",
        }
        (root / "pair.json").write_text(json.dumps(manifest))
        roots.append(PreparedPair.load(root))
    assert roots[0].fingerprint() == roots[1].fingerprint()


# ------------------------------------------------------------------ 3. every flag checked first


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--dict-train-fraction", "0"], "--dict-train-fraction must be in (0, 1]"),
        (["--dict-train-fraction", "1.5"], "--dict-train-fraction must be in (0, 1]"),
        (["--dict-train-fraction", "nan"], "--dict-train-fraction must be in (0, 1]"),
        (["--workers", "0"], "--workers must be at least 1, got 0"),
        (["--valid-size", "0"], "--valid-size must be at least 1"),
        (["--vocab-size", "5"], "--vocab-size must be at least 10, got 5"),
        (["--seed", "-1"], "--seed must be 0 or more, got -1"),
        (["--heldout-band", "6500-5000"], "--heldout-band '6500-5000': needs 0 <= FIRST < LAST"),
        (["--heldout-band", "top"], "--heldout-band 'top': expected two ranks FIRST-LAST"),
        (["--lang1", "para"], "--lang1 'para' is reserved: bin/para holds the sentence-aligned streams"),
        (["--lang1", "Para"], "--lang1 'Para' is reserved"),
        (["--lang2", "para"], "--lang2 'para' is reserved"),
        (["--lang1", "EN", "--lang2", "en"], "differ only in case"),
        (["--lang1", "en-us"], "--lang1 'en-us': use letters, digits and '_' only"),
    ],
)
def test_flags_are_refused_before_anything_is_read_or_written(corpus, tmp_path, monkeypatch, flags, expected):
    def never(*args, **kwargs):
        raise AssertionError("an expensive step ran before the flags were checked")

    monkeypatch.setattr(pp, "train_sentencepiece", never)
    monkeypatch.setattr(pp, "input_fingerprint", never)
    out = tmp_path / "out"
    error = refusal("prepare-pair", *pair_args(corpus, out, *flags))
    assert expected in error
    assert not out.exists()


def test_dict_train_fraction_of_a_natural_pair_is_checked_before_sentencepiece(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(pp, "train_sentencepiece", lambda *a, **k: pytest.fail("sentencepiece ran"))
    dictionary = tmp_path / "d.txt"
    dictionary.write_text("the le\n")
    error = refusal(
        "prepare-pair",
        "--corpus", corpus, "--corpus2", corpus, "--lang2", "fr", "--dictionary", dictionary,
        "--out", tmp_path / "out", "--dict-train-fraction", "-0.5",
    )  # fmt: skip
    assert "--dict-train-fraction must be in (0, 1] (the share of dictionary source words" in error


# ------------------------------------------------------------------------------ 4. OS errors


def test_out_that_is_a_file(corpus, tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("mine")
    assert refusal("prepare-pair", *pair_args(corpus, out)) == (
        f"error: --out {out} is a file, not a directory; give a directory path"
    )
    assert out.read_text() == "mine"


def test_out_under_a_file(corpus, tmp_path):
    parent = tmp_path / "notes.txt"
    parent.write_text("mine")
    error = refusal("prepare-pair", *pair_args(corpus, parent / "pair"))
    assert (
        error
        == f"error: --out {parent / 'pair'}: {parent} is a file, not a directory; give a path under a directory"
    )
    assert parent.read_text() == "mine"


@needs_permissions
def test_out_without_write_permission(corpus, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        error = refusal("prepare-pair", *pair_args(corpus, locked / "pair"))
        assert error.startswith(f"error: --out {locked / 'pair'}: cannot create the directory")
        assert "no permission" in error
        error = refusal("prepare-pair", *pair_args(corpus, locked))
        assert error.startswith(f"error: --out {locked}: no permission to write in it")
    finally:
        locked.chmod(0o700)


@needs_permissions
def test_unreadable_corpus(corpus, tmp_path):
    corpus.chmod(0o000)
    try:
        assert "--corpus" in refusal("prepare-pair", *pair_args(corpus, tmp_path / "out"))
    finally:
        corpus.chmod(0o600)


def test_permission_errors_name_the_flag_even_as_root(corpus, tmp_path, monkeypatch):
    """The same refusals as the two tests above, with the OS's answers simulated (those tests
    are skipped when the suite runs as root)."""
    import errno
    from pathlib import Path

    import alignmlm.data_prep.corpus as corpus_module

    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.name == "pair":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    error = refusal("prepare-pair", *pair_args(corpus, tmp_path / "pair"))
    assert error == (
        f"error: --out {tmp_path / 'pair'}: cannot create the directory ({tmp_path / 'pair'}: "
        "Permission denied; no permission: choose a location you can write (or read), or fix its "
        "permissions)"
    )
    monkeypatch.setattr(corpus_module.os, "access", lambda path, mode: Path(path) != tmp_path / "ro")
    error = refusal("prepare-pair", *pair_args(corpus, tmp_path / "ro"))
    assert error == (
        f"error: --out {tmp_path / 'ro'}: no permission to write in it; choose a directory you can "
        "write or fix its permissions"
    )
    monkeypatch.setattr(corpus_module.os, "access", lambda path, mode: Path(path) != corpus)
    error = refusal("prepare-pair", *pair_args(corpus, tmp_path / "out"))
    assert error == f"error: --corpus {corpus}: no permission to read it; fix its permissions"


def test_corpus_that_is_a_directory(corpus, tmp_path):
    error = refusal("prepare-pair", *pair_args(corpus.parent, tmp_path / "out"))
    assert error == f"error: --corpus {corpus.parent} is a directory; give the file itself"
    error = refusal("prepare-pair", *pair_args(tmp_path / "nope.txt", tmp_path / "out"))
    assert error == f"error: --corpus {tmp_path / 'nope.txt'}: input file not found; check the path"


# ------------------------------------------------------------------------------ 5. empty splits


def write_conllu_dir(directory, dev=None, tags=("PRON", "VERB")):
    directory.mkdir(parents=True, exist_ok=True)
    sentence = "".join(
        WORD_LINE.format(form=form, upos=tag).replace("1\t", f"{i}\t", 1)
        for i, (form, tag) in enumerate(zip(("I", "run"), tags), 1)
    )
    for name in ("train", "dev", "test"):
        text = dev if (name == "dev" and dev is not None) else f"# text = I run\n{sentence}\n"
        (directory / f"{name}.conllu").write_text(text, encoding="utf-8")
    return directory


def pos_args(source, out, *flags):
    return ["--conllu-dir", source, "--transform", "inv", "--out", out, *flags]


def test_pos_split_without_sentences(tmp_path):
    source = write_conllu_dir(tmp_path / "ud", dev="# only a comment\n\n")
    out = tmp_path / "pos"
    error = refusal("prepare-pos", *pos_args(source, out))
    assert error == (
        f"error: {source / 'dev.conllu'}: no sentences (the valid split would be empty); give a "
        "CoNLL-U file with at least one sentence"
    )
    assert list(out.iterdir()) == []


def nli_file(path, labels, language=None):
    rows = []
    for label in labels:
        row = {"premise": "A man sleeps.", "hypothesis": "Someone sleeps.", "label": label}
        rows.append(json.dumps(row if language is None else {**row, "language": language}))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def nli_args(train, valid, test, out, *flags):
    return ["--train", train, "--valid", valid, "--test", test, "--transform", "inv", "--out", out, *flags]


@pytest.fixture
def nli_sources(tmp_path):
    src = tmp_path / "nli"
    src.mkdir()
    good = nli_file(src / "good.jsonl", ["entailment", "neutral", "contradiction"])
    return src, good


def test_nli_split_without_pairs(nli_sources, tmp_path):
    src, good = nli_sources
    unlabelled = nli_file(src / "dev.jsonl", ["-", ""])
    out = tmp_path / "out"
    error = refusal("prepare-nli", *nli_args(good, unlabelled, good, out))
    assert error == (
        f"error: --valid {unlabelled}: no pairs left for the valid split (2 without a gold label, "
        "0 of other languages than --language 'en'); give a file with labelled pairs"
    )
    german = nli_file(src / "de.jsonl", ["neutral"], language="de")
    error = refusal("prepare-nli", *nli_args(good, good, german, out))
    assert "1 of other languages than --language 'en'" in error and "or another --language" in error
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("lines", [["one sentence only ."], []])
def test_pair_language_whose_train_split_would_be_empty(corpus, tmp_path, lines):
    second = tmp_path / "fr.txt"
    second.write_text("".join(line + "\n" for line in lines) or "\n\n", encoding="utf-8")
    dictionary = tmp_path / "d.txt"
    dictionary.write_text("the le\n")
    error = refusal(
        "prepare-pair",
        "--corpus", corpus, "--corpus2", second, "--lang2", "fr", "--dictionary", dictionary,
        "--out", tmp_path / "out",
    )  # fmt: skip
    if lines:
        assert error == (
            f"error: --corpus2 {second} (fr) has 1 sentence: its train split would be empty (one "
            "sentence goes to validation); give a corpus of at least 2 sentences"
        )
    else:
        assert error == f"error: --corpus2 {second}: corpus is empty (no non-blank lines)"


# ----------------------------------------------------------------------------------- 6. labels


def test_numeric_nli_labels_are_refused_with_the_mapping_to_pass(nli_sources, tmp_path):
    src, good = nli_sources
    hf = src / "hf.jsonl"  # as Hugging Face's datasets export MNLI: integer labels, -1 unlabelled
    rows = [{"premise": "A b.", "hypothesis": "C d.", "label": label} for label in (0, 1, 2, -1)]
    hf.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    error = refusal("prepare-nli", *nli_args(hf, good, good, out))
    assert error == (
        f"error: {hf}:1: numeric label '0': say which label each number stands for, e.g. "
        "--numeric-labels entailment,neutral,contradiction for Hugging Face's MNLI, XNLI and SNLI "
        "(0 entailment, 1 neutral, 2 contradiction; -1 is no gold label)"
    )
    assert not out.exists() or list(out.iterdir()) == []

    flag = ["--numeric-labels", "entailment,neutral,contradiction"]
    assert prepare_nli.main([str(a) for a in nli_args(hf, good, good, out, *flag)]) == 0
    labels = [json.loads(line)["label"] for line in (out / "train.jsonl").read_text().splitlines()]
    assert labels == ["entailment", "neutral", "contradiction"]  # -1: no gold label, dropped
    assert json.loads((out / RECORD).read_text())["options"]["numeric_labels"] == flag[1]

    error = refusal("prepare-nli", *nli_args(hf, good, good, tmp_path / "o2", "--numeric-labels", "yes,no"))
    assert "--numeric-labels 'yes,no': expected the three labels entailment, neutral, contradiction" in error


def test_case_variants_and_unknown_nli_labels(nli_sources, tmp_path):
    src, good = nli_sources
    capital = nli_file(src / "capital.jsonl", ["neutral", "Entailment"])
    error = refusal("prepare-nli", *nli_args(good, good, capital, tmp_path / "o"))
    assert error == (
        f"error: {capital}:2: label 'Entailment': the labels are lower case (entailment, neutral, "
        "contradiction); pass --lowercase-labels to read case variants as them"
    )
    out = tmp_path / "lower"
    assert prepare_nli.main([str(a) for a in nli_args(good, good, capital, out, "--lowercase-labels")]) == 0
    assert [json.loads(x)["label"] for x in (out / "test.jsonl").read_text().splitlines()] == [
        "neutral",
        "entailment",
    ]

    tsv = src / "odd.tsv"
    tsv.write_text("sentence1\tsentence2\tgold_label\nA b.\tC d.\tneutral\nA b.\tC d.\tmaybe\n")
    error = refusal("prepare-nli", *nli_args(good, tsv, good, tmp_path / "o"))
    assert error == (
        f"error: {tsv}:3: label 'maybe' is not an NLI label: expected entailment, neutral, "
        "contradiction ('-' or empty: no gold label, dropped)"
    )


def test_pos_tags_outside_upos_are_refused(tmp_path):
    source = write_conllu_dir(tmp_path / "ud", tags=("PRON", "verb"))
    out = tmp_path / "pos"
    error = refusal("prepare-pos", *pos_args(source, out))
    assert error == (
        f"error: {source / 'train.conllu'}:3: UPOS tag 'verb' of 'run' is not a UPOS tag; did you "
        "mean 'VERB'? UPOS tags are upper case"
    )
    source = write_conllu_dir(tmp_path / "ud2", tags=("PRON", "_"))
    assert "UPOS tag '_' of 'run' is not a UPOS tag; expected one of ADJ, ADP" in refusal(
        "prepare-pos", *pos_args(source, out)
    )
    assert list(out.iterdir()) == []


# ----------------------------------------------------------------------- 7. duplicate dictionary


def test_duplicate_dictionary_lines_are_dropped_and_never_leak(tmp_path, caplog):
    path = tmp_path / "en-fr.txt"
    lines = [f"w{i} t{i}" for i in range(40)] + ["w1 t1b"]
    path.write_text("\n".join(lines + lines[:10] + ["w3  t3"]) + "\n", encoding="utf-8")
    with caplog.at_level("INFO"):
        pairs = read_word_pairs(path)
    assert pairs == [tuple(line.split()) for line in lines]
    assert "11 duplicate line(s) dropped (e.g. line 42, 'w0 t0', first on line 1)" in caplog.text
    for seed in range(5):
        train, heldout, summary = split_by_source_word(pairs, 0.5, seed)
        assert {s for s, _ in train}.isdisjoint({s for s, _ in heldout})
        assert len(set(train)) == len(train) and len(set(heldout)) == len(heldout)
        assert summary["train_pairs"] + summary["heldout_pairs"] == 41


# ----------------------------------------------------------------------------- 8. task data


def test_task_data_overwrite_replaces_only_its_own_files(tmp_path):
    source = write_conllu_dir(tmp_path / "ud")
    out = tmp_path / "pos"
    assert prepare_pos.main([str(a) for a in pos_args(source, out)]) == 0
    record = json.loads((out / RECORD).read_text())
    assert record["inputs"]["valid"] == fingerprint(source / "dev.conllu")
    assert record["input_paths"]["valid"] == str(source / "dev.conllu")

    before = snapshot(out)
    error = refusal("prepare-pos", *pos_args(source, out))  # without --overwrite: refused
    assert error == (
        f"error: --out {out} is not empty (it already holds this data: same inputs, transform and "
        "seed); pass --overwrite to replace its files, or choose another --out"
    )
    (out / "notes.md").write_text("mine")
    error = refusal("prepare-pos", *pos_args(source, out, "--overwrite"))
    assert error == (
        f"error: --out {out} holds files this converter does not write (notes.md); move them "
        "elsewhere or choose an empty or new --out"
    )
    assert snapshot(out) == {**before, "notes.md": b"mine"}


def test_task_data_failed_rerun_keeps_the_previous_data(tmp_path):
    source = write_conllu_dir(tmp_path / "ud")
    out = tmp_path / "pos"
    assert prepare_pos.main([str(a) for a in pos_args(source, out)]) == 0
    before = snapshot(out)
    write_conllu_dir(source, tags=("PRON", "verb"))  # now bad
    assert "not a UPOS tag" in refusal("prepare-pos", *pos_args(source, out, "--overwrite", "--seed", "2"))
    assert snapshot(out) == before and not (out / ".partial").exists()


def test_task_data_unfinished_run_does_not_block(tmp_path):
    source = write_conllu_dir(tmp_path / "ud")
    out = tmp_path / "pos"
    (out / ".partial").mkdir(parents=True)  # killed while building: only the staging directory
    assert prepare_pos.main([str(a) for a in pos_args(source, out)]) == 0
    record = json.loads((out / RECORD).read_text())
    record["complete"] = False  # killed while moving its files in
    (out / RECORD).write_text(json.dumps(record))
    (out / "valid.conllu").unlink()
    assert prepare_pos.main([str(a) for a in pos_args(source, out, "--seed", "4")]) == 0
    assert json.loads((out / RECORD).read_text())["seed"] == 4 and (out / "valid.conllu").is_file()


def test_task_data_other_foreign_and_unrecorded_directories(tmp_path):
    source = write_conllu_dir(tmp_path / "ud")
    old = tmp_path / "old"  # task data of an older version: our names, no record
    old.mkdir()
    (old / "train.conllu").write_text("old")
    assert "is not empty; pass --overwrite" in refusal("prepare-pos", *pos_args(source, old))
    assert prepare_pos.main([str(a) for a in pos_args(source, old, "--overwrite")]) == 0
    assert (old / "train.conllu").read_bytes() == (source / "train.conllu").read_bytes()
    record = json.loads((old / RECORD).read_text())  # a file an earlier run wrote, not this one
    (old / RECORD).write_text(json.dumps({**record, "files": record["files"] + ["extra.conllu", "../x"]}))
    (old / "extra.conllu").write_text("stale")
    (tmp_path / "x").write_text("outside")
    assert prepare_pos.main([str(a) for a in pos_args(source, old, "--overwrite")]) == 0
    assert not (old / "extra.conllu").exists() and (tmp_path / "x").read_text() == "outside"
    error = refusal("prepare-pos", *pos_args(source, source))
    assert f"--conllu-dir {source / 'train.conllu'} lies in --out {source}" in error


def test_task_data_second_run_on_the_same_out_stops_at_once(tmp_path):
    import fcntl

    source = write_conllu_dir(tmp_path / "ud")
    out = tmp_path / "pos"
    out.mkdir()
    (out / ".partial").mkdir()  # the first run's work in progress
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the first run holds it
        error = refusal("prepare-pos", *pos_args(source, out))
    finally:
        os.close(fd)
    assert (
        error
        == f"error: --out {out}: another run is writing this directory; wait for it or choose another --out"
    )
    assert [p.name for p in out.iterdir()] == [".partial"]


def test_check_matches_pair_refuses_unfinished_task_data(manifest_pair, tmp_path):
    from alignmlm.pair import PreparedPair

    data = tmp_path / "pos"
    data.mkdir()
    (data / RECORD).write_text(json.dumps({"transform": "trans+inv", "seed": 1, "complete": False}))
    with pytest.raises(ValueError, match="holds unfinished task data"):
        check_matches_pair(data, PreparedPair.load(manifest_pair))
    (data / RECORD).write_text(json.dumps({"transform": "trans+inv", "seed": None}))  # an older record
    assert check_matches_pair(data, PreparedPair.load(manifest_pair)) is None


def test_task_data_out_that_is_a_file(tmp_path, nli_sources):
    src, good = nli_sources
    out = tmp_path / "out.txt"
    out.write_text("mine")
    error = refusal("prepare-nli", *nli_args(good, good, good, out))
    assert error == f"error: --out {out} is a file, not a directory; give a directory path"
    assert out.read_text() == "mine"


# ---------------------------------------------------------------------------- 9. transform-conllu


def conllu_args(src, dst, *flags):
    return ["--input", src, "--output", dst, "--transform", "trans+inv", *flags]


def test_transform_conllu_output_that_is_a_directory(tmp_path):
    src = write_conllu_dir(tmp_path / "ud") / "train.conllu"
    error = refusal("transform-conllu", *conllu_args(src, tmp_path))
    assert error == f"error: --output {tmp_path} is a directory; give the path of the file to write"
    notes = tmp_path / "notes"
    notes.write_text("mine")
    error = refusal("transform-conllu", *conllu_args(src, notes / "out.conllu"))
    assert error == f"error: --output {notes / 'out.conllu'}: {notes} is a file, not a directory"
    error = refusal("transform-conllu", *conllu_args(tmp_path / "ud", tmp_path / "o.conllu"))
    assert error == f"error: --input {tmp_path / 'ud'} is a directory; give a CoNLL-U file"


def test_transform_conllu_writes_atomically(tmp_path):
    src = write_conllu_dir(tmp_path / "ud") / "train.conllu"
    dst = tmp_path / "derived.conllu"
    dst.write_text("previous")
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tI\n\n")
    assert "expected 10 tab-separated" in refusal("transform-conllu", *conllu_args(bad, dst, "--overwrite"))
    assert dst.read_text() == "previous"
    assert transform_conllu.main([str(a) for a in conllu_args(src, dst, "--overwrite")]) == 0
    assert "§run\t_\tVERB" in dst.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.conllu", "derived.conllu", "ud"]


def test_help_lists_the_new_flags(capsys):
    with pytest.raises(SystemExit):
        prepare_nli.main(["--help"])
    text = capsys.readouterr().out
    assert "--numeric-labels" in text and "--lowercase-labels" in text
