"""POS transfer to a natural second language: prepare-pos --target-conllu-dir writes a second
treebank as the `_derived` splits, fine-tuning tests B_Z on it, and the task data must be of the
pair's kind and languages (in the pair's order, which gives language ids)."""

import json
import sys
from pathlib import Path

import pytest
from conftest import REPO, prepare_pair, refusal, run, setup_task, train

from alignmlm.data.conllu_reader import parse_conllu, tagged_words
from alignmlm.data_prep import prepare_pos
from alignmlm.data_prep.corpus import fingerprint
from alignmlm.data_prep.task_data import RECORD, check_matches_pair
from alignmlm.errors import InputError
from alignmlm.pair import FORMAT_VERSION, PreparedPair

EN_POS, TR_POS = REPO / "data" / "en_ewt" / "pos", REPO / "data" / "tr_boun" / "pos"
PRETRAIN = {"en": REPO / "data" / "en_ewt" / "pretrain.txt", "tr": REPO / "data" / "tr_boun" / "pretrain.txt"}
ATIS = REPO / "data" / "en_tr"  # atis.en, atis.tr: sentence-aligned translations
DICTIONARY = ATIS / "dictionary.txt"  # English -> Turkish
# sentences per split (train, dev, test) of the tiny treebanks: the two languages' counts differ,
# so that a log line names the language it read
SIZES = {"en": (300, 100, 100), "tr": (250, 80, 120)}
WORD_LINE = "{i}\t{form}\t_\t{upos}\t_\t_\t0\troot\t_\t_\n"


def first_sentences(source: Path, out: Path, sizes) -> Path:
    """OUT/{train,dev,test}.conllu: the first SIZES sentences of SOURCE's."""
    out.mkdir(parents=True, exist_ok=True)
    for name, n in zip(("train", "dev", "test"), sizes):
        text = (source / f"{name}.conllu").read_text(encoding="utf-8")
        (out / f"{name}.conllu").write_text("\n\n".join(text.split("\n\n")[:n]) + "\n\n", encoding="utf-8")
    return out


def treebanks(tmp: Path) -> dict:
    """language -> its tiny treebank directory (SIZES), from the bundled English and Turkish."""
    sources = {"en": EN_POS, "tr": TR_POS}
    return {lang: first_sentences(src, tmp / f"{lang}_pos", SIZES[lang]) for lang, src in sources.items()}


def make_natural_pair(tmp: Path, lang1: str = "en", lang2: str = "tr", parallel: int = 0) -> Path:
    """A real natural pair of the first 1500 lines of each bundled pretraining text, LANG1 first,
    800 pieces; its dictionary: the bundled English-Turkish pairs whose two words are in these
    lines (the whole dictionary takes half a minute to split), LANG1's word first. PARALLEL: that
    many lines of the bundled ATIS translations as parallel text (what XLM's TLM trains on)."""
    corpora, words = {}, {}
    for lang in (lang1, lang2):
        lines = PRETRAIN[lang].read_text(encoding="utf-8").splitlines()[:1500]
        corpora[lang] = tmp / f"{lang}.txt"
        corpora[lang].write_text("\n".join(lines) + "\n", encoding="utf-8")
        words[lang] = {w for line in lines for w in line.lower().split()}
    pairs = [line.split() for line in DICTIONARY.read_text(encoding="utf-8").splitlines()]
    pairs = [{"en": e, "tr": t} for e, t in pairs if e in words["en"] and t in words["tr"]]
    dictionary = tmp / f"{lang1}-{lang2}.txt"
    dictionary.write_text("".join(f"{p[lang1]} {p[lang2]}\n" for p in pairs), encoding="utf-8")
    texts = []
    for lang in (lang1, lang2) if parallel else ():
        lines = (ATIS / f"atis.{lang}").read_text(encoding="utf-8").splitlines()[:parallel]
        texts.append(tmp / f"atis.{lang}")
        texts[-1].write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp / f"pair_{lang1}_{lang2}"
    prepare_pair(
        *("--corpus", corpora[lang1], "--lang1", lang1, "--corpus2", corpora[lang2], "--lang2", lang2),
        *("--dictionary", dictionary, "--out", out, "--vocab-size", "800", "--valid-size", "50"),
        *(["--parallel", *texts] if texts else []),
    )
    return out


def prepare_natural_pos(source: Path, target: Path, out: Path, *flags) -> Path:
    run([sys.executable, "-m", "alignmlm", "prepare-pos", "--conllu-dir", source,
         "--target-conllu-dir", target, "--out", out, *flags])  # fmt: skip
    return out


def write_treebank(directory: Path, tags=("PRON", "VERB"), forms=("ben", "koşarım")) -> Path:
    """DIRECTORY/{train,dev,test}.conllu of one two-word sentence each (a multi-word range on
    the first word, which readers skip)."""
    directory.mkdir(parents=True, exist_ok=True)
    words = "".join(WORD_LINE.format(i=i, form=f, upos=t) for i, (f, t) in enumerate(zip(forms, tags), 1))
    for name in ("train", "dev", "test"):
        (directory / f"{name}.conllu").write_text(f"# text = x\n1-1\tx\t_\t_\t_\t_\t_\t_\t_\t_\n{words}\n")
    return directory


# --------------------------------------------------------------------------- prepare-pos, fast


def test_the_target_treebank_becomes_the_derived_splits_as_it_is(tmp_path, capsys):
    en, tr = treebanks(tmp_path).values()
    out = tmp_path / "pos"
    argv = ["--conllu-dir", en, "--target-conllu-dir", tr, "--lang1", "en", "--lang2", "tr", "--out", out]
    assert prepare_pos.main(list(map(str, argv))) == 0
    for split, name in prepare_pos.SPLITS.items():
        for written, source in ((f"{split}.conllu", en), (f"{split}_derived.conllu", tr)):
            assert tagged_words(out / written) == tagged_words(source / f"{name}.conllu")  # words, tags
            assert (out / written).read_bytes() == (source / f"{name}.conllu").read_bytes()
    assert len(tagged_words(out / "test_derived.conllu")) == SIZES["tr"][2]
    record = json.loads((out / RECORD).read_text())
    assert (record["kind"], record["languages"], record["transform"], record["seed"]) == (
        "natural",
        ["en", "tr"],
        None,
        None,
    )
    assert record["inputs"]["valid_derived"] == fingerprint(tr / "dev.conllu")
    assert record["inputs"]["test"] == fingerprint(en / "test.conllu")
    # the tags of every split of both languages, with their counts
    words = [t for s in parse_conllu(tr / "train.conllu") for t in s if isinstance(t["id"], int)]
    assert sum(record["tags"]["train_derived"].values()) == len(words)
    assert record["tags"]["train_derived"]["NOUN"] == sum(t["upos"] == "NOUN" for t in words)
    assert set(record["tags"]) == {f"{s}{d}" for s in ("train", "valid", "test") for d in ("", "_derived")}
    assert "test: 100 sentences (en), 120 (tr)" in capsys.readouterr().out
    assert check_matches_pair(out, PreparedPair.load(natural_manifest(tmp_path / "p", "en", "tr"))) is None


def test_a_tag_only_the_target_test_split_has_is_noted_not_refused(tmp_path, capsys):
    en = write_treebank(tmp_path / "en", forms=("I", "run"))
    tr = write_treebank(tmp_path / "tr")
    (tr / "test.conllu").write_text(WORD_LINE.format(i=1, form="üç", upos="NUM") + "\n")
    out = tmp_path / "pos"
    assert (
        prepare_pos.main(list(map(str, ["--conllu-dir", en, "--target-conllu-dir", tr, "--out", out]))) == 0
    )
    assert (
        "note: UPOS tags of the language 2 test split that the language 1 train split never has: "
        "NUM (B_Z cannot learn them)" in capsys.readouterr().out
    )
    record = json.loads((out / RECORD).read_text())
    assert record["tags"]["test_derived"] == {"NUM": 1} and record["languages"] is None
    assert tagged_words(out / "train_derived.conllu") == [(["ben", "koşarım"], ["PRON", "VERB"])]


def test_a_bad_tag_of_the_target_is_refused_naming_file_and_line(tmp_path):
    en = write_treebank(tmp_path / "en", forms=("I", "run"))
    tr = write_treebank(tmp_path / "tr", tags=("PRON", "Verb"))
    out = tmp_path / "pos"
    error = refusal("prepare-pos", "--conllu-dir", en, "--target-conllu-dir", tr, "--out", out)
    assert error == (
        f"error: {tr / 'train.conllu'}:4: UPOS tag 'Verb' of 'koşarım' is not a UPOS tag; did you "
        "mean 'VERB'? UPOS tags are upper case"
    )
    write_treebank(tr)  # good tags again, but a dev split without sentences
    (tr / "dev.conllu").write_text("# only a comment\n\n")
    error = refusal("prepare-pos", "--conllu-dir", en, "--target-conllu-dir", tr, "--out", out)
    assert error == (
        f"error: {tr / 'dev.conllu'}: no sentences (the valid_derived split would be empty); give a "
        "CoNLL-U file with at least one sentence"
    )
    assert list(out.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    "flags, message",
    [
        ([], "give exactly one of --transform (a synthetic second language, derived from --conllu-dir) "
         "and --target-conllu-dir (a natural one: a treebank of the pair's second language)"),
        (["--transform", "inv", "--target-conllu-dir", "TR"], "give exactly one of --transform"),
        (["--transform", "inv", "--lang1", "en", "--lang2", "tr"], "--lang1 / --lang2 name the treebanks"),
        (["--target-conllu-dir", "TR", "--lang1", "en"], "give both --lang1 and --lang2"),
        (["--target-conllu-dir", "TR", "--lang1", "en", "--lang2", "en"], "--lang1 and --lang2 are both 'en'"),
        (["--target-conllu-dir", "TR", "--seed", "2"], "--seed 2: the seed is perm's, of a --transform"),
        (["--target-conllu-dir", "TR", "--syn-treebank", "x.conllu"], "--syn-treebank x.conllu goes with"),
        (["--target-conllu-dir", "TR/train.conllu"], "--target-conllu-dir TR/train.conllu is a file"),
    ],
)  # fmt: skip
def test_flags_of_the_second_language_are_checked(flags, message, tmp_path):
    en = write_treebank(tmp_path / "en", forms=("I", "run"))
    write_treebank(tmp_path / "TR")
    flags = [f.replace("TR", str(tmp_path / "TR")) for f in flags]
    message = message.replace("TR", str(tmp_path / "TR"))
    error = refusal("prepare-pos", "--conllu-dir", en, "--out", tmp_path / "out", *flags)
    assert message in error, error
    assert not (tmp_path / "out").exists()


def test_help_names_every_flag(capsys):
    with pytest.raises(SystemExit):
        prepare_pos.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--conllu-dir", "--target-conllu-dir", "--transform", "--lang1", "--lang2", "--seed"):
        assert flag in text
    assert "--target-conllu-dir data/tr_boun/pos" in text


# ----------------------------------------------------------- the task data against the pair


def natural_manifest(root: Path, lang1: str, lang2: str) -> Path:
    """A natural pair's pair.json alone (what check_matches_pair reads), LANG1 first."""
    root.mkdir(parents=True, exist_ok=True)
    settings = {"format_version": FORMAT_VERSION, "kind": "natural", "lang1": lang1, "lang2": lang2}
    manifest = {"settings": settings, "complete": True, "languages": [lang1, lang2], "data": "bin",
                "spm_model": "spm.model", "dictionary_units": "words"}  # fmt: skip
    (root / "pair.json").write_text(json.dumps(manifest))
    return root


def record(data: Path, **fields) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    (data / RECORD).write_text(json.dumps({"command": "prepare-pos", **fields, "complete": True}))
    return data


def test_task_data_of_another_kind_or_other_languages_is_refused(manifest_pair, tmp_path):
    en_tr = PreparedPair.load(natural_manifest(tmp_path / "en_tr", "en", "tr"))
    synthetic = PreparedPair.load(manifest_pair)  # trans+inv, seed absent
    natural = record(tmp_path / "natural", kind="natural", languages=["en", "tr"], transform=None, seed=None)
    derived = record(tmp_path / "derived", kind="synthetic", transform="trans+inv", seed=1)
    older = record(tmp_path / "older", transform="trans+inv", seed=1)  # before natural task data
    assert check_matches_pair(natural, en_tr) is None
    for data in (derived, older):
        with pytest.raises(InputError) as err:
            check_matches_pair(data, en_tr)
        assert str(err.value) == (
            f"{data} was derived with --transform trans+inv (a synthetic second language), but "
            f"{en_tr.root} is a natural pair (en, tr): its second language is tr, not a transform "
            "of en; prepare the task data from a treebank of tr, e.g. `alignmlm prepare-pos "
            "--conllu-dir EN_DIR --target-conllu-dir TR_DIR --lang1 en --lang2 tr`"
        )
    nli = record(tmp_path / "nli", command="prepare-nli", kind="synthetic", transform="trans", seed=1)
    with pytest.raises(InputError, match="only prepare-pos makes task data of a natural second language"):
        check_matches_pair(nli, en_tr)
    with pytest.raises(InputError, match=r"holds a natural second language .* is a synthetic pair"):
        check_matches_pair(natural, synthetic)
    # the languages in the other order: the _derived files would take the other language's id
    turned = PreparedPair.load(natural_manifest(tmp_path / "tr_en", "tr", "en"))
    with pytest.raises(InputError) as err:
        check_matches_pair(natural, turned)
    assert str(err.value) == (
        f"{natural} holds en (train, valid, test) and tr (the _derived files), but {turned.root} "
        "pairs tr (language 1, id 0) with en (language 2, id 1): prepare it again with "
        "--conllu-dir of tr, --target-conllu-dir of en, --lang1 tr --lang2 en"
    )
    unnamed = record(tmp_path / "unnamed", kind="natural", languages=None, transform=None, seed=None)
    assert "prepared without --lang1/--lang2" in check_matches_pair(unnamed, en_tr)


# ------------------------------------------------------------------ real runs on a tiny pair


@pytest.fixture(scope="module")
def en_tr(tmp_path_factory):
    """(natural en-tr pair, its POS data, an MLM checkpoint of 20 updates on the pair)."""
    tmp = tmp_path_factory.mktemp("en_tr")
    pair = make_natural_pair(tmp)
    banks = treebanks(tmp)
    pos = prepare_natural_pos(banks["en"], banks["tr"], tmp / "pos", "--lang1", "en", "--lang2", "tr")
    train("mlm", pair, tmp / "mlm", "--max-update", "20", "--lr", "1e-3")
    return pair, pos, tmp / "mlm" / "checkpoint_last.pt"


@pytest.mark.slow
def test_finetune_on_a_natural_pair_tests_b_z_on_language_2(en_tr, tmp_path):
    pair, pos, checkpoint = en_tr
    out = tmp_path / "ft"
    run([sys.executable, "-m", "alignmlm", "finetune", "--task", "pos", "--data", pos, "--pair", pair,
         "--checkpoint", checkpoint, "--out", out, "--updates", "20"])  # fmt: skip
    result = json.loads((out / "transfer.json").read_text())
    assert result["delta"] == pytest.approx(result["B_Z"] - result["B_S"], abs=0.01)
    assert 0 < result["B_Z"] < 100 and 0 < result["B_S"] < 100
    n_tr = {split: len(tagged_words(pos / f"{split}_derived.conllu")) for split in ("train", "test")}
    n_words = sum(len(w) for w, _ in tagged_words(pos / "test_derived.conllu"))
    for name, trained_on, n_train in (
        ("B_Z", "train", SIZES["en"][0]),
        ("B_S", "train_derived", n_tr["train"]),
    ):
        log = (out / name / "stdout").read_text()
        # tested on the Turkish test split (120 sentences; the English one has 100) ...
        assert f"{pos / 'test_derived.conllu'}: {n_tr['test']} sentences, {n_words} words" in log
        # ... trained on English (B_Z) or Turkish (B_S)
        assert f"{pos / (trained_on + '.conllu')}: {n_train} sentences" in log
    assert f"{pos / 'test.conllu'}" not in (out / "B_Z" / "stdout").read_text()

    # the Turkish words are encoded as they are: no twins on a natural pair, even for a `§word`
    from alignmlm.tasks.pos_tagging import PosTaggingConfig, PosTaggingTask

    task = PosTaggingTask.setup_task(
        PosTaggingConfig(data=str(pos), pair=str(pair), max_positions=64, seed=1)
    )
    assert task.twins is False
    for word in ("yılında", "§yılında"):
        assert task.word_ids(word) == [task.dictionary.index(p) for p in task.sp.encode(word, out_type=str)]


@pytest.mark.slow
def test_language_ids_follow_the_pair_when_names_sort_the_other_way(tmp_path):
    """lang1 tr, lang2 en ('en' sorts first): en is language 2, id 1, in pretraining (XLM's
    language embeddings) and in fine-tuning (the _derived splits, en's treebank)."""
    pair = make_natural_pair(tmp_path, "tr", "en")
    banks = treebanks(tmp_path)
    pos = prepare_natural_pos(banks["tr"], banks["en"], tmp_path / "pos", "--lang1", "tr", "--lang2", "en")
    assert check_matches_pair(pos, PreparedPair.load(pair)) is None
    pretraining = setup_task("xlm", pair)
    assert pretraining.langs == ["tr", "en"]
    for split, lang_id in (("valid_tr", 0), ("valid_en", 1)):
        pretraining.load_dataset(split)
        dataset = pretraining.datasets[split]
        batch = dataset.collater([dataset[i] for i in range(4)])
        real = batch["net_input"]["src_tokens"].ne(pretraining.dictionary.pad())
        assert set(batch["net_input"]["src_lang_ids"][real].tolist()) == {lang_id}

    from alignmlm.tasks.pos_tagging import PosTaggingConfig, PosTaggingTask

    task = PosTaggingTask.setup_task(
        PosTaggingConfig(data=str(pos), pair=str(pair), max_positions=64, seed=1)
    )
    for split, lang_id, bank, name in (
        ("test", 0, banks["tr"], "test"),
        ("test_derived", 1, banks["en"], "test"),
    ):
        task.load_dataset(split)
        dataset = task.datasets[split]
        assert len(dataset) == SIZES["tr" if lang_id == 0 else "en"][2]
        batch = dataset.collater([dataset[i] for i in range(len(dataset))])
        assert (batch["net_input"]["src_lang_ids"] == lang_id).all()
        # the split is its language's treebank: its first sentence is that treebank's first
        words, _ = tagged_words(bank / f"{name}.conllu")[0]
        ids = [i for word in words for i in task.word_ids(word)]
        assert dataset[0]["source"][1 : 1 + len(ids)].tolist() == ids
