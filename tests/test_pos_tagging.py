"""POS tagging for zero-shot transfer: encoding, and real fine-tuning through fairseq-train."""

from collections import Counter

import conllu
import pytest
import torch
from conftest import finetune, labelled_logits, train

from alignmlm.data.tagging_dataset import IGNORE, encode_tagged
from alignmlm.data.twins import word_pieces
from alignmlm.fairseq_log import read_records

PIECES = {"▁the": 4, "▁ca": 5, "t": 6, "▁sat": 7, "§▁the": 8, "§▁ca": 9, "§t": 10}
ENCODE = {"the": ["▁the"], "cat": ["▁ca", "t"], "sat": ["▁sat"]}


def word_ids(word):
    return [PIECES[p] for p in word_pieces(word, ENCODE.__getitem__)]


def test_labels_sit_on_first_pieces_and_twins_are_used():
    labels = {"DET": 0, "NOUN": 1, "VERB": 2}
    tokens, targets, unknown, cut = encode_tagged(
        ["the", "cat", "sat"], ["DET", "NOUN", "VERB"], word_ids, labels, bos=0, eos=2, max_tokens=20
    )
    assert tokens.tolist() == [0, 4, 5, 6, 7, 2]
    assert targets.tolist() == [IGNORE, 0, 1, IGNORE, 2, IGNORE]
    assert (unknown, cut) == (0, 0)
    tokens, targets, _, _ = encode_tagged(
        ["§cat", "§the"], ["NOUN", "DET"], word_ids, labels, bos=0, eos=2, max_tokens=20
    )
    assert tokens.tolist() == [0, 9, 10, 8, 2] and targets.tolist() == [IGNORE, 1, IGNORE, 0, IGNORE]


def test_unknown_labels_are_counted_and_long_sentences_cut():
    labels = {"DET": 0}
    tokens, targets, unknown, cut = encode_tagged(
        ["the", "cat", "sat"], ["DET", "FOO", "BAR"], word_ids, labels, bos=0, eos=2, max_tokens=5
    )
    assert unknown == 1 and cut == 1  # 'sat' does not fit in 5 tokens with <s> and </s>
    assert tokens.tolist() == [0, 4, 5, 6, 2] and targets.tolist() == [IGNORE, 0, IGNORE, IGNORE, IGNORE]


@pytest.mark.slow
def test_finetuning_beats_the_majority_class_and_reports_zero_shot(pos_data, tiny_pair, pretrained, tmp_path):
    finetune("pos", pos_data, tiny_pair, pretrained, tmp_path)
    log = tmp_path / "train.log"
    test = float(read_records(log, "test")[-1]["test_accuracy"])
    upos = [
        t["upos"] for s in conllu.parse((pos_data / "test.conllu").read_text(encoding="utf-8")) for t in s
    ]
    majority = 100.0 * Counter(upos).most_common(1)[0][1] / len(upos)
    assert test > majority + 25, (test, majority)
    zero_shot = float(read_records(log, "test_derived")[-1]["test_derived_accuracy"])
    assert 0.0 <= zero_shot < test  # B_Z: the derived language without its own training data


@pytest.mark.slow
def test_unseen_labels_are_counted_and_mismatched_checkpoints_refused(
    pos_data, tiny_pair, other_pair, pretrained, tmp_path
):
    odd = tmp_path / "pos"
    odd.mkdir()
    for name in ("train", "valid"):
        (odd / f"{name}.conllu").write_text(
            (pos_data / f"{name}.conllu").read_text(encoding="utf-8"), encoding="utf-8"
        )
    test = (pos_data / "test.conllu").read_text(encoding="utf-8").replace("\tNOUN\t", "\tNOUNISH\t", 3)
    (odd / "test.conllu").write_text(test, encoding="utf-8")
    (odd / "test_derived.conllu").write_text(
        (pos_data / "test_derived.conllu").read_text(encoding="utf-8"), encoding="utf-8"
    )
    proc = finetune("pos", odd, tiny_pair, pretrained, tmp_path / "run", "--max-update", "5")
    assert "3 with labels outside the label set (ignored)" in proc.stdout + proc.stderr

    proc = finetune(
        "pos", pos_data, other_pair, pretrained, tmp_path / "run2", "--max-update", "5", check=False
    )
    assert proc.returncode != 0
    assert (
        "sentence_encoder.embed_tokens.weight has shape (1003, 64) but this model needs (603, 64)"
        in proc.stderr
    )


@pytest.mark.slow
def test_xlm_checkpoint_finetunes_with_language_ids(pos_data, tiny_pair, tmp_path):
    train("xlm", tiny_pair, tmp_path / "xlm", "--max-update", "5", "--warmup-updates", "2", "--lr", "1e-3")
    proc = finetune(
        "pos",
        pos_data,
        tiny_pair,
        tmp_path / "xlm" / "checkpoint_last.pt",
        tmp_path / "pos",
        "--max-update",
        "10",
    )
    assert "(embed_langs): Embedding(2, 64)" in proc.stdout + proc.stderr  # XLM's encoder kept
    # the logged B_Z accuracy is the tagger's with language id 1 on the derived test split:
    # recomputed from its logits, which another language id changes
    checkpoint = tmp_path / "pos" / "checkpoint_last.pt"
    logits, targets = labelled_logits(checkpoint, "test_derived")
    accuracy = 100.0 * (logits.argmax(-1) == targets).float().mean().item()
    logged = float(read_records(tmp_path / "pos" / "train.log", "test_derived")[-1]["test_derived_accuracy"])
    assert logged == pytest.approx(accuracy, abs=0.01)
    assert torch.allclose(labelled_logits(checkpoint, "test_derived", lang_id=1)[0], logits)
    assert not torch.allclose(labelled_logits(checkpoint, "test_derived", lang_id=0)[0], logits, atol=1e-4)


@pytest.mark.slow
def test_derived_splits_carry_language_id_1(tiny_pair, pos_data):
    from alignmlm.tasks.pos_tagging import PosTaggingConfig, PosTaggingTask

    task = PosTaggingTask.setup_task(
        PosTaggingConfig(data=str(pos_data), pair=str(tiny_pair), max_positions=64, seed=1)
    )
    for split, lang in (("valid", 0), ("test_derived", 1)):
        task.load_dataset(split)
        dataset = task.datasets[split]
        batch = dataset.collater([dataset[i] for i in range(3)])
        assert (batch["net_input"]["src_lang_ids"] == lang).all()
