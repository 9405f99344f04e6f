"""NER for zero-shot transfer: reading WikiANN / CoNLL-2003, entity span F1 (seqeval's
definition), BIO tags re-derived under word-order transforms, prepare-ner, and real fine-tuning
on the hand-made set of tests/data/ner."""

import itertools
import random
from pathlib import Path

import pytest
from conftest import refusal

from alignmlm.data.bio import chunks, normalize, reorder_tags
from alignmlm.data.ner_reader import read_ner
from alignmlm.data_prep import prepare_ner
from alignmlm.data_prep.transforms import WordSentenceTransform, parse_transforms
from alignmlm.ner_metrics import span_f1

NER_DATA = Path(__file__).parent / "data" / "ner"


def prepare(*argv) -> int:
    return prepare_ner.main([str(a) for a in argv])


def prepare_hand_made(out) -> int:
    """prepare-ner of the hand-made set under trans+inv into OUT."""
    splits = [x for split in ("train", "valid", "test") for x in (f"--{split}", NER_DATA / f"{split}.txt")]
    return prepare(*splits, "--transform", "trans+inv", "--out", out)


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# --- reading ---------------------------------------------------------------------------------


def test_wikiann_lines_lose_the_language_prefix(tmp_path):
    path = write(
        tmp_path / "en.txt", ["en:New\tB-LOC", "en:York\tI-LOC", "en:is\tO", "", "en:Mary\tB-PER", ""]
    )
    assert read_ner(path) == [(["New", "York", "is"], ["B-LOC", "I-LOC", "O"]), (["Mary"], ["B-PER"])]


def test_conll2003_columns_take_the_last_tag_and_skip_docstart(tmp_path):
    path = write(
        tmp_path / "eng.train",
        ["-DOCSTART- -X- -X- O", "", "EU NNP B-NP B-ORG", "rejects VBZ B-VP O", "German JJ B-NP B-MISC", ""],
    )
    assert read_ner(path) == [(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"])]


def test_a_line_without_a_tag_names_file_and_line(tmp_path):
    path = write(tmp_path / "en.txt", ["en:Paris\tB-LOC", "en:is\tO", "", "en:big"])
    other = write(tmp_path / "other.txt", ["en:a\tO"])
    line = refusal(
        "prepare-ner",
        "--train",
        path,
        "--valid",
        other,
        "--test",
        other,
        "--transform",
        "inv",
        "--out",
        tmp_path / "out",
    )
    assert f"{path}:4" in line and "no tag" in line
    assert not (tmp_path / "out" / "train.ner").exists()


def test_a_tag_that_is_not_bio_names_file_and_line(tmp_path):
    path = write(tmp_path / "en.txt", ["en:Paris\tLOC"])
    with pytest.raises(Exception, match=rf"{path}:1: tag 'LOC' is not a BIO tag"):
        read_ner(path)


# --- span F1 ---------------------------------------------------------------------------------


def test_chunks_follow_seqeval_default_mode():
    # seqeval get_entities(["I-PER", "I-PER"]) == [("PER", 0, 1)]: I- after O starts a chunk
    assert chunks(["I-PER", "I-PER"]) == {("PER", 0, 2)}
    # seqeval: ["B-PER", "I-LOC"] -> [("PER", 0, 0), ("LOC", 1, 1)]: a type change starts a chunk
    assert chunks(["B-PER", "I-LOC"]) == {("PER", 0, 1), ("LOC", 1, 2)}
    # B- always starts a new chunk, even of the same type
    assert chunks(["B-PER", "I-PER", "B-PER", "O", "I-ORG"]) == {("PER", 0, 2), ("PER", 2, 3), ("ORG", 4, 5)}
    assert chunks(["O", "O"]) == set()


def seqeval_get_entities(seq):
    """seqeval's get_entities (seqeval/metrics/sequence_labeling.py, default mode, B/I/O tags
    only), restated from its start_of_chunk / end_of_chunk rules as a reference: (type, start,
    end exclusive)."""
    out, prev_tag, prev_type, begin = [], "O", "", 0
    for i, chunk in enumerate(list(seq) + ["O"]):
        tag, type_ = (chunk[0], chunk[2:]) if chunk != "O" else ("O", "")
        end = prev_tag in ("B", "I") and (tag in ("B", "O") or prev_type != type_)
        start = tag == "B" or (prev_tag == "O" and tag == "I") or (tag != "O" and prev_type != type_)
        if end:
            out.append((prev_type, begin, i))
        if start:
            begin = i
        prev_tag, prev_type = tag, type_
    return set(out)


def test_chunks_equal_seqeval_rules_on_every_short_sequence():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    for n in range(1, 6):
        for seq in itertools.product(tags, repeat=n):
            assert chunks(seq) == seqeval_get_entities(seq), seq


def test_span_f1_on_hand_computed_cases():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    # all right
    assert span_f1(gold, gold)["f1"] == 1.0
    # all-O: nothing predicted, F1 0 (seqeval warns and returns 0)
    assert span_f1(gold, [["O"] * 4, ["O"] * 2]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # one PER boundary wrong (PER 0-1 instead of 0-2), LOC and ORG right: 2 of 3 predicted, 2 of 3 gold
    got = span_f1(gold, [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]])
    assert got["precision"] == pytest.approx(2 / 3) and got["recall"] == pytest.approx(2 / 3)
    assert got["f1"] == pytest.approx(2 / 3)
    # a wrong type counts as wrong; an extra chunk lowers precision only
    got = span_f1(gold, [["B-PER", "I-PER", "B-MISC", "B-PER"], ["B-ORG", "O"]])
    p, r = 2 / 4, 2 / 3
    assert got["precision"] == pytest.approx(p) and got["recall"] == pytest.approx(r)
    assert got["f1"] == pytest.approx(2 * p * r / (p + r))
    # seqeval counts I-PER I-PER as the gold chunk B-PER I-PER
    assert span_f1([["B-PER", "I-PER"]], [["I-PER", "I-PER"]])["f1"] == 1.0


# --- BIO under word-order transforms ---------------------------------------------------------


def is_valid_bio(tags) -> bool:
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def spans_by_words(words, tags) -> set:
    """(type, frozenset of words) of each chunk."""
    return {(kind, frozenset(words[start:end])) for kind, start, end in chunks(tags)}


def test_inv_of_new_york_is_big_gives_valid_bio():
    derive = WordSentenceTransform(parse_transforms("inv"), 1)
    words, tags = ["New", "York", "is", "big"], ["B-LOC", "I-LOC", "O", "O"]
    assert prepare_ner.derive_sentence(words, tags, derive) == (
        ["big", "is", "York", "New"],
        ["O", "O", "B-LOC", "I-LOC"],
    )
    # reversing the tags as they are would give I-LOC B-LOC: invalid
    assert not is_valid_bio(list(reversed(tags)))


def test_trans_marks_words_with_the_twin_prefix():
    derive = WordSentenceTransform(parse_transforms("trans+inv"), 1)
    words, tags = prepare_ner.derive_sentence(
        ["Mary", "lives", "in", "New", "York", "."], ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"], derive
    )
    assert words == ["§York", "§New", "§in", "§lives", "§Mary", "§."]
    assert tags == ["B-LOC", "I-LOC", "O", "O", "B-PER", "O"]


@pytest.mark.parametrize("spec", ["inv", "perm", "inv+perm"])
def test_derived_tags_are_valid_bio_and_keep_every_span_and_word(spec):
    derive = WordSentenceTransform(parse_transforms(spec), 3)
    rng = random.Random(0)
    kinds = ["PER", "LOC", "ORG"]
    for n in range(1, 12):
        for _ in range(30):
            tags, k = [], 0
            while k < n:
                if rng.random() < 0.5:
                    tags.append("O")
                    k += 1
                else:
                    kind, length = rng.choice(kinds), rng.randint(1, min(3, n - k))
                    tags += [f"B-{kind}"] + [f"I-{kind}"] * (length - 1)
                    k += length
            words = [f"w{i}" for i in range(n)]
            new_words, new_tags = prepare_ner.derive_sentence(words, tags, derive)
            assert sorted(new_words) == sorted(words) and is_valid_bio(new_tags)
            before = spans_by_words(words, tags)
            after = spans_by_words(new_words, new_tags)
            if spec == "inv":  # a chunk stays one contiguous chunk, reversed
                assert after == before
            else:  # perm: a chunk split by the permutation becomes one chunk per run
                for kind in kinds:
                    merged_before = {w for t, ws in before if t == kind for w in ws}
                    merged_after = {w for t, ws in after if t == kind for w in ws}
                    assert merged_before == merged_after
                for kind, ws in after:  # each new chunk lies inside one old chunk
                    assert any(t == kind and ws <= old for t, old in before)


def test_perm_splits_a_span_whose_words_are_no_longer_adjacent():
    # order [2, 0, 3, 1]: old words 0 and 1 (one PER) land at positions 1 and 3
    assert reorder_tags(["B-PER", "I-PER", "O", "O"], [2, 0, 3, 1]) == ["O", "B-PER", "O", "B-PER"]
    # adjacent in the new order: kept together as B- then I-
    assert reorder_tags(["B-PER", "I-PER", "O"], [2, 1, 0]) == ["O", "B-PER", "I-PER"]
    # two adjacent chunks of one type stay two chunks
    assert reorder_tags(["B-PER", "B-PER"], [1, 0]) == ["B-PER", "B-PER"]


def test_iob1_is_written_as_iob2():
    assert normalize(["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]


# --- prepare-ner -----------------------------------------------------------------------------


def test_prepare_ner_writes_valid_derived_files(tmp_path):
    out = tmp_path / "ner"
    status = prepare_hand_made(out)
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(prepare_ner.FILES + ["task_data.json"])
    for split in ("train", "valid", "test"):
        original = read_ner(out / f"{split}.ner")
        derived = read_ner(out / f"{split}_derived.ner")
        assert original == read_ner(NER_DATA / f"{split}.txt")
        assert len(original) == len(derived)
        for (words, tags), (d_words, d_tags) in zip(original, derived):
            assert all(w.startswith("§") for w in d_words) and is_valid_bio(d_tags)
            assert spans_by_words(["§" + w for w in words], tags) == spans_by_words(d_words, d_tags)
    from alignmlm.cli.finetune import count_examples

    assert count_examples("ner", out, "train") == 240


def test_an_empty_split_is_refused(tmp_path):
    empty = write(tmp_path / "empty.txt", [""])
    line = refusal(
        "prepare-ner",
        "--train",
        NER_DATA / "train.txt",
        "--valid",
        empty,
        "--test",
        empty,
        "--transform",
        "inv",
        "--out",
        tmp_path / "out",
    )
    assert "--valid" in line and "no sentences" in line


def test_syn_is_refused_before_anything_is_read(tmp_path):
    data = [NER_DATA / f"{split}.txt" for split in ("train", "valid", "test")]
    line = refusal(
        "prepare-ner",
        "--train",
        data[0],
        "--valid",
        data[1],
        "--test",
        data[2],
        "--transform",
        "trans+syn",
        "--out",
        tmp_path / "out",
    )
    assert "syn reorders dependency trees" in line and not (tmp_path / "out").exists()


# --- fine-tuning -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ner_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("ner") / "en_trans_inv"
    prepare_hand_made(out)
    return out


@pytest.mark.slow
def test_finetuning_beats_the_all_o_baseline_on_span_f1(ner_data, tiny_pair, pretrained, tmp_path):
    from conftest import finetune

    from alignmlm.fairseq_log import read_records

    finetune("ner", ner_data, tiny_pair, pretrained, tmp_path)
    record = read_records(tmp_path / "train.log", "test")[-1]
    f1, accuracy = float(record["test_f1"]), float(record["test_accuracy"])
    # the all-O tagger finds no entity: span F1 0; its accuracy is the share of O tags
    gold = [t for _, tags in read_ner(ner_data / "test.ner") for t in tags]
    all_o_accuracy = 100.0 * gold.count("O") / len(gold)
    print(f"NER test: span F1 {f1}, accuracy {accuracy} (all-O: F1 0, accuracy {all_o_accuracy:.2f})")
    assert f1 > 50, record
    assert accuracy > all_o_accuracy, (accuracy, all_o_accuracy)
    # the logged F1 is the split's micro-averaged span F1: recomputed here from the model's tags
    from conftest import labelled_logits

    from alignmlm.tasks.ner import NER_LABELS

    logits, _ = labelled_logits(tmp_path / "checkpoint_last.pt", "test")
    flat = [NER_LABELS.split(",")[i] for i in logits.argmax(-1).tolist()]
    gold_sentences = [tags for _, tags in read_ner(ner_data / "test.ner")]
    predicted, start = [], 0
    for tags in gold_sentences:
        predicted.append(flat[start : start + len(tags)])
        start += len(tags)
    assert start == len(flat)
    assert f1 == pytest.approx(100 * span_f1(gold_sentences, predicted)["f1"], abs=0.01)
    derived = read_records(tmp_path / "train.log", "test_derived")[-1]
    assert 0.0 <= float(derived["test_derived_f1"]) <= 100.0


@pytest.mark.slow
def test_alignmlm_finetune_runs_ner_end_to_end(ner_data, tiny_pair, pretrained, tmp_path, capsys):
    import json

    from alignmlm.__main__ import main

    assert (
        main(
            [
                "finetune",
                "--task",
                "ner",
                "--data",
                str(ner_data),
                "--pair",
                str(tiny_pair),
                "--checkpoint",
                str(pretrained),
                "--out",
                str(tmp_path / "out"),
                "--updates",
                "60",
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "out" / "transfer.json").read_text(encoding="utf-8"))
    print(result)
    assert result["task"] == "ner" and 0 <= result["B_Z"] <= 100 and 0 <= result["B_S"] <= 100
    assert set(result["f1"]) == {"B_Z", "B_S", "delta"}
    assert result["f1"]["B_S"] > 30  # trained on the derived language: finds its entities
