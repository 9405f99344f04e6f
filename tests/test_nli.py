"""NLI for zero-shot transfer: reading MNLI / XNLI / JSONL, the derived data, sentence-pair
input, and real fine-tuning through fairseq-train on the hand-made set of tests/data/nli."""

import json
import re
from collections import Counter

import pytest
from conftest import finetune, labelled_logits

from alignmlm.data.nli_reader import NliExample, read_nli
from alignmlm.data.sentence_pairs import encode_pair
from alignmlm.data_prep import prepare_nli
from alignmlm.fairseq_log import read_records

MNLI_HEADER = (
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label"
)


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_mnli_tsv_is_read_by_its_header(tmp_path):
    row = "0\t31193\t31193n\tgovernment\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tThe cat sat.\tA cat sat.\tneutral\tentailment"
    path = write(tmp_path / "dev_matched.tsv", [MNLI_HEADER, row, ""])
    assert read_nli(path) == [NliExample("The cat sat.", "A cat sat.", "entailment")]


def test_xnli_tsvs_keep_the_language_and_read_contradictory_as_contradiction(tmp_path):
    xnli = write(
        tmp_path / "xnli.dev.tsv",
        [
            "language\tgold_label\tsentence1\tsentence2\tpromptID",
            "de\tneutral\tDie Katze.\tEine Katze.\t1",
            "en\tcontradiction\tThe cat.\tNo cat.\t1",
        ],
    )
    assert read_nli(xnli) == [
        NliExample("Die Katze.", "Eine Katze.", "neutral", "de"),
        NliExample("The cat.", "No cat.", "contradiction", "en"),
    ]
    mt = write(
        tmp_path / "multinli.train.en.tsv", ["premise\thypo\tlabel", "It rains .\tIt is dry .\tcontradictory"]
    )
    assert read_nli(mt) == [NliExample("It rains .", "It is dry .", "contradiction")]


def test_jsonl_of_snli_and_ours(tmp_path):
    snli = write(
        tmp_path / "snli.jsonl",
        [json.dumps({"sentence1": "A b.", "sentence2": "C d.", "gold_label": "-", "pairID": "1"})],
    )
    assert read_nli(snli) == [NliExample("A b.", "C d.", "-")]
    ours = write(tmp_path / "train.jsonl", ['{"premise": "p", "hypothesis": "h", "label": "neutral"}'])
    assert read_nli(ours) == [NliExample("p", "h", "neutral")]


@pytest.mark.parametrize(
    "name, lines, message",
    [
        (
            "a.tsv",
            ["premise\thypothesis\tlabel", "p\th\tneutral", "p\th"],
            "a.tsv:3: expected 3 tab-separated columns (as in the header), got 2",
        ),
        ("b.tsv", ["sentence_A\tsentence_B\tscore", "p\th\t1"], "b.tsv:1: not an NLI header"),
        (
            "c.jsonl",
            ['{"premise": "p", "hypothesis": "h", "label": "neutral"}', "", '{"premise": "p"'],
            "c.jsonl:3: not valid JSON",
        ),
        (
            "d.jsonl",
            [
                '{"premise": "p", "hypothesis": "h", "label": "neutral"}',
                '{"premise": "p", "label": "neutral"}',
            ],
            "d.jsonl:2: missing key(s) ['hypothesis']",
        ),
        ("e.jsonl", ['{"text": "p", "label": 1}'], "e.jsonl:1: not an NLI header"),
    ],
)
def test_malformed_files_are_errors_naming_file_and_line(tmp_path, name, lines, message):
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / message))):
        read_nli(write(tmp_path / name, lines))


def test_pair_layout_and_longest_first_cut():
    tokens, cut = encode_pair([4, 5, 6], [7], bos=0, eos=2, max_tokens=20)
    assert tokens.tolist() == [0, 4, 5, 6, 2, 2, 7, 2] and not cut
    tokens, cut = encode_pair([4, 5, 6, 8, 9], [7, 10], bos=0, eos=2, max_tokens=9)  # room for 5 pieces
    assert tokens.tolist() == [0, 4, 5, 6, 2, 2, 7, 10, 2] and cut


def test_converter_writes_both_languages_and_drops_unlabelled(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    mnli = write(
        src / "train.tsv",
        [
            MNLI_HEADER,
            "0\t1\t1n\tg\t-\t-\t-\t-\tThe girl is sleeping at home.\tA girl sleeps.\t-\tentailment",
        ],
    )
    xnli = write(
        src / "xnli.dev.tsv",
        [
            "language\tgold_label\tsentence1\tsentence2",
            "de\tneutral\tDie Katze.\tEine Katze.",
            "en\tneutral\tThe cat sat !\tIt sat.",
        ],
    )
    snli = write(
        src / "test.jsonl",
        [
            json.dumps({"sentence1": "No label.", "sentence2": "None.", "gold_label": "-"}),
            json.dumps({"sentence1": "The dog ran.", "sentence2": "A dog ran.", "gold_label": "entailment"}),
        ],
    )
    out = tmp_path / "out"
    assert (
        prepare_nli.main(
            [
                "--train",
                str(mnli),
                "--valid",
                str(xnli),
                "--test",
                str(snli),
                "--transform",
                "trans+inv",
                "--out",
                str(out),
            ]
        )
        == 0
    )

    def read(name):
        return [json.loads(line) for line in (out / name).read_text(encoding="utf-8").splitlines()]

    assert read("train.jsonl") == [
        {"premise": "The girl is sleeping at home .", "hypothesis": "A girl sleeps .", "label": "entailment"}
    ]
    assert read("train_derived.jsonl") == [
        {
            "premise": "§home §at §sleeping §is §girl §The §.",
            "hypothesis": "§sleeps §girl §A §.",
            "label": "entailment",
        }
    ]
    assert read("valid_derived.jsonl") == [
        {"premise": "§sat §cat §The §!", "hypothesis": "§sat §It §.", "label": "neutral"}
    ]
    assert [ex["label"] for ex in read("test_derived.jsonl")] == ["entailment"]  # "-": no gold label
    assert (
        prepare_nli.main(
            [
                "--train",
                str(mnli),
                "--valid",
                str(xnli),
                "--test",
                str(snli),
                "--transform",
                "trans+inv",
                "--out",
                str(out),
            ]
        )
        == 2
    )  # not empty


def test_converter_names_the_file_it_cannot_read(tmp_path, capsys):
    bad = write(tmp_path / "bad.tsv", ["a\tb\tc", "1\t2\t3"])
    assert (
        prepare_nli.main(
            [
                "--train",
                str(bad),
                "--valid",
                str(bad),
                "--test",
                str(bad),
                "--transform",
                "inv",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    assert f"error: {bad}:1: not an NLI header" in capsys.readouterr().err


@pytest.mark.slow
def test_task_reads_every_example_with_language_ids(tiny_pair, nli_data):
    from alignmlm.tasks.nli import NliConfig, NliTask

    task = NliTask.setup_task(NliConfig(data=str(nli_data), pair=str(tiny_pair), max_positions=64, seed=1))
    for split, lang in (("test", 0), ("test_derived", 1)):
        task.load_dataset(split)
        batches = list(
            task.get_batch_iterator(
                dataset=task.datasets[split], max_sentences=16, required_batch_size_multiple=8
            ).next_epoch_itr(shuffle=False)
        )
        assert sum(len(b["id"]) for b in batches) == 30  # fairseq would drop the last 6
        assert all((b["net_input"]["src_lang_ids"] == lang).all() for b in batches)
        assert batches[0]["target"].shape == (16,)
    tokens = task.datasets["test"][0]["source"].tolist()
    assert tokens[0] == task.dictionary.bos() and tokens.count(task.dictionary.eos()) == 3


@pytest.mark.slow
def test_finetuning_beats_the_majority_class_and_reports_zero_shot(nli_data, tiny_pair, pretrained, tmp_path):
    finetune("nli", nli_data, tiny_pair, pretrained, tmp_path, "--no-save")
    test = read_records(tmp_path / "train.log", "test")[-1]
    labels = Counter(json.loads(line)["label"] for line in (nli_data / "test.jsonl").read_text().splitlines())
    majority = 100.0 * max(labels.values()) / sum(labels.values())
    assert float(test["test_accuracy"]) > majority + 30, (test, majority)
    assert float(test["test_bsz"]) == 15  # all 30 test pairs, in 2 batches
    zero_shot = float(read_records(tmp_path / "train.log", "test_derived")[-1]["test_derived_accuracy"])
    assert 0.0 <= zero_shot < float(test["test_accuracy"])  # B_Z


@pytest.mark.slow
def test_unseen_labels_are_counted_and_mismatched_checkpoints_refused(
    nli_data, tiny_pair, other_pair, pretrained, tmp_path
):
    odd = tmp_path / "nli"
    odd.mkdir()
    for name in ("train", "valid", "test_derived"):
        (odd / f"{name}.jsonl").write_text(
            (nli_data / f"{name}.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
        )
    test = (nli_data / "test.jsonl").read_text(encoding="utf-8").replace('"neutral"', '"maybe"', 3)
    (odd / "test.jsonl").write_text(test, encoding="utf-8")
    proc = finetune("nli", odd, tiny_pair, pretrained, tmp_path / "run", "--max-update", "5")
    assert "test.jsonl: 30 pairs; 3 with labels outside the label set (ignored)" in proc.stdout + proc.stderr
    # the logged accuracy is over the 27 labelled pairs only: recomputed from the model's logits
    logits, targets = labelled_logits(tmp_path / "run" / "checkpoint_last.pt", "test")
    assert len(targets) == 27
    accuracy = 100.0 * (logits.argmax(-1) == targets).float().mean().item()
    assert float(read_records(tmp_path / "run" / "train.log", "test")[-1]["test_accuracy"]) == pytest.approx(
        accuracy, abs=0.01
    )

    proc = finetune(
        "nli",
        nli_data,
        other_pair,
        pretrained,
        tmp_path / "run2",
        "--max-update",
        "5",
        "--no-save",
        check=False,
    )
    assert proc.returncode != 0
    assert (
        f"{pretrained}: sentence_encoder.embed_tokens.weight has shape (1003, 64) but this model needs "
        f"(603, 64): the checkpoint's dictionary has 1003 entries, {other_pair / 'bin' / 'dict.txt'} 603"
    ) in proc.stderr
