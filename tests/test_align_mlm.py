"""ALIGN-MLM through the real fairseq-train: equivalence with MLM at weight 0, fp16, the
sample-size scaling under 2 gloo workers, logging; its task's reading of bad dictionaries."""

import logging
import math
import sys

import pytest
import torch
from conftest import checkpoint_state, run, setup_task, train

from alignmlm.fairseq_log import read_records


def model_state(checkpoint):
    return checkpoint_state(checkpoint)["model"]


@pytest.mark.slow
def test_weight_zero_trains_exactly_like_mlm(tiny_pair, tmp_path):
    train("mlm", tiny_pair, tmp_path / "mlm", "--max-update", "20")
    train(
        "align_mlm", tiny_pair, tmp_path / "w0", "--max-update", "20", overrides=["criterion.align_weight=0"]
    )
    mlm = read_records(tmp_path / "mlm" / "train.log", "train_inner")
    align = read_records(tmp_path / "w0" / "train.log", "train_inner")
    assert [r["loss"] for r in mlm] == [r["loss"] for r in align] == [r["mlm_loss"] for r in align]
    assert all(float(r["align_weight"]) == 0 for r in align)
    a, b = (
        model_state(tmp_path / "mlm" / "checkpoint_last.pt"),
        model_state(tmp_path / "w0" / "checkpoint_last.pt"),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_align_mlm_logs_terms_and_aligns_the_trained_pairs(tiny_pair, tmp_path):
    train("align_mlm", tiny_pair, tmp_path / "run", "--max-update", "40")
    inner = read_records(tmp_path / "run" / "train.log", "train_inner")
    assert {"mlm_loss", "align_loss", "align_weight"} <= inner[0].keys()
    align = [float(r["align_loss"]) for r in inner]
    assert align[-1] < align[0] - 0.3  # minus mean cosine falls: pairs pulled together
    valid = read_records(tmp_path / "run" / "train.log", "valid")
    assert float(valid[-1]["valid_align_train_p1_nn"]) > 90.0
    assert float(valid[-1]["valid_align_heldout_p1_nn"]) < 10.0  # 40 updates: held-out words not yet
    per_lang = read_records(tmp_path / "run" / "train.log", "valid_en_trans_inv")
    assert "valid_en_trans_inv_align_heldout_p1_nn" in per_lang[-1]
    # the same terms land in the tensorboard event files
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = {}
    for subset in ("train_inner", "valid"):
        events = EventAccumulator(str(tmp_path / "run" / "tensorboard" / subset))
        events.Reload()
        tags[subset] = set(events.Tags()["scalars"])
    assert {"mlm_loss", "align_loss", "align_weight"} <= tags["train_inner"]
    assert {"mlm_loss", "align_loss", "align_train_p1_nn", "align_heldout_p1_nn"} <= tags["valid"]
    p1 = EventAccumulator(str(tmp_path / "run" / "tensorboard" / "valid"))
    p1.Reload()
    assert p1.Scalars("align_train_p1_nn")[-1].value == pytest.approx(
        float(valid[-1]["valid_align_train_p1_nn"]), abs=0.01
    )


@pytest.mark.slow
def test_memory_efficient_fp16_keeps_finite_alignment_loss(tiny_pair, tmp_path):
    proc = train(
        "align_mlm",
        tiny_pair,
        tmp_path / "fp16",
        "--max-update",
        "30",
        overrides=["common.fp16=true", "common.memory_efficient_fp16=true"],
    )
    inner = read_records(tmp_path / "fp16" / "train.log", "train_inner")
    assert [int(r["num_updates"]) for r in inner][:3] == [10, 20, 30]
    assert all(math.isfinite(float(r["align_loss"])) for r in inner)
    assert all(float(r["loss_scale"]) >= 1.0 for r in inner)  # no collapse from 128
    assert "Minimum loss scale reached" not in proc.stdout + proc.stderr
    assert float(inner[-1]["align_loss"]) < float(inner[0]["align_loss"])


@pytest.mark.slow
def test_two_gloo_workers_match_one_worker_with_the_same_total_batch(tiny_pair, tmp_path):
    """Training on the 100-sentence valid split: one worker takes all of it as one batch, two
    workers half each. The alignment term is made to dominate (l2 form, always positive;
    weight 1000), so an alignment weight that depended on the batch or world size (no
    sample-size scaling) would shift the loss by about 1% (checked by removing the scaling);
    a wrong gradient would show at updates 2 and 3."""
    common = ["--max-update", "3", "--log-interval", "1", "--warmup-updates", "1"]
    hydra = [
        "dataset.train_subset=valid",
        "dataset.valid_subset=valid",
        "dataset.disable_validation=true",
        "model.dropout=0",
        "model.attention_dropout=0",
        "dataset.max_tokens=100000",
        "dataset.required_batch_size_multiple=1",
        "criterion.align_loss=l2",
        "criterion.align_weight=1000",
    ]
    n_blocks = _count_blocks(tiny_pair)
    train(
        "align_mlm",
        tiny_pair,
        tmp_path / "one",
        *common,
        overrides=hydra + [f"dataset.batch_size={n_blocks}"],
    )
    train(
        "align_mlm",
        tiny_pair,
        tmp_path / "two",
        *common,
        "--cpu-workers",
        "2",
        overrides=hydra + [f"dataset.batch_size={(n_blocks + 1) // 2}"],
    )
    one = read_records(tmp_path / "one" / "train.log", "train_inner")[:3]
    two = read_records(tmp_path / "two" / "train.log", "train_inner")[:3]
    assert [r["bsz"] for r in one] == [r["bsz"] for r in two] == [str(n_blocks)] * 3
    for a, b in zip(one, two):
        for key in ("loss", "mlm_loss", "align_loss"):
            assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-4), (key, a, b)


def _count_blocks(pair) -> int:
    """Training blocks of 64 tokens in the pair's valid split (both languages)."""
    from fairseq.data import Dictionary, TokenBlockDataset, data_utils

    d = Dictionary.load(str(pair / "bin" / "dict.txt"))
    total = 0
    for lang in ("en", "en_trans_inv"):
        ds = data_utils.load_indexed_dataset(str(pair / "bin" / lang / "valid"), d)
        total += len(TokenBlockDataset(ds, ds.sizes, 63, pad=d.pad(), eos=d.eos(), break_mode="none"))
    return total


# The task reads its bilingual dictionary when it is built: built here in-process from the config
# `alignmlm train -- task.bilingual_dict=...` composes, so a bad dictionary's error and the counts
# are checked without a training run.
@pytest.mark.slow
@pytest.mark.parametrize(
    "content, error, expected",
    [
        (None, ValueError, "nope.txt: bilingual dictionary not found (--bilingual-dict)"),
        ("▁the §▁the\n▁a §▁a extra\n", ValueError, "bad.txt:2: expected 2 whitespace-separated fields"),
        (
            "zz1 yy1\nzz2 yy2\nzz3 yy3\n",
            ValueError,
            "bad.txt: none of its 3 pairs is usable (out of vocabulary: 3",
        ),
    ],
)
def test_bad_alignment_dictionaries(tiny_pair, tmp_path, content, error, expected):
    path = tmp_path / ("nope.txt" if content is None else "bad.txt")
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(error) as raised:
        setup_task("align_mlm", tiny_pair, f"task.bilingual_dict={path}")
    assert expected in str(raised.value)


@pytest.mark.slow
def test_out_of_vocabulary_pairs_are_counted_and_shown(tiny_pair, tmp_path, caplog):
    path = tmp_path / "partly.txt"
    path.write_text("▁the §▁the\nqqq1 zzz1\n▁a §▁a\nqqq2 zzz2\n", encoding="utf-8")
    caplog.set_level(logging.INFO)
    task = setup_task("align_mlm", tiny_pair, f"task.bilingual_dict={path}")
    assert (
        "partly.txt: 4 pairs; used: 2 single-piece, 0 multi-piece (mean of pieces); "
        "skipped: 0 multi-piece, 2 out of vocabulary (e.g. qqq1 zzz1; qqq2 zzz2)"
    ) in caplog.text
    d = task.dictionary  # the two usable pairs, as dictionary ids
    assert task.dictionary_pairs.single_piece_pairs().tolist() == [
        [d.index("▁the"), d.index("§▁the")],
        [d.index("▁a"), d.index("§▁a")],
    ]


@pytest.mark.slow
def test_natural_pair_words_of_several_pieces_use_the_mean(tmp_path):
    import sentencepiece as spm
    from conftest import prepare_pair, upper_case_corpora
    from fairseq.data import Dictionary

    from alignmlm.data.bilingual_dictionary import read_word_pairs

    en, up = upper_case_corpora(tmp_path, 800, 800)
    words = ["the", "of", "government", "president", "antidisestablishmentarianism", "日本"]
    (tmp_path / "en-up.txt").write_text("".join(f"{w} {w.upper()}\n" for w in words), encoding="utf-8")
    pair = tmp_path / "pair"
    prepare_pair(
        "--corpus",
        en,
        "--corpus2",
        up,
        "--lang2",
        "up",
        "--dictionary",
        tmp_path / "en-up.txt",
        "--out",
        pair,
        "--vocab-size",
        "600",
        "--valid-size",
        "50",
        "--dict-train-fraction",
        "1.0",
    )
    proc = train("align_mlm", pair, tmp_path / "run", "--max-update", "10")
    log = proc.stdout + proc.stderr
    # the words' pieces, independently: the pair's sentencepiece model and dictionary
    sp = spm.SentencePieceProcessor(model_file=str(pair / "spm.model"))
    d = Dictionary.load(str(pair / "bin" / "dict.txt"))

    def ids(word):
        return [d.index(p) for p in sp.encode(word, out_type=str)]

    used = [
        (ids(w), ids(t))
        for w, t in read_word_pairs(pair / "dict" / "train.txt")
        if d.unk() not in ids(w) + ids(t)
    ]
    multi = sum(len(s) > 1 or len(t) > 1 for s, t in used)
    assert multi >= 1 and len(ids("antidisestablishmentarianism")) > 1
    assert (
        f"dict/train.txt: 6 pairs; used: {len(used) - multi} single-piece, {multi} multi-piece (mean "
        "of pieces); skipped: 0 multi-piece, 1 out of vocabulary (e.g. 日本 日本)"
    ) in log
    # the validation after the last update: L_align = minus the mean cosine of the pairs' piece
    # means, recomputed from the checkpoint's embeddings
    E = model_state(tmp_path / "run" / "checkpoint_last.pt")[
        "encoder.sentence_encoder.embed_tokens.weight"
    ].float()
    cosines = [torch.cosine_similarity(E[s].mean(0), E[t].mean(0), dim=0).item() for s, t in used]
    valid = read_records(tmp_path / "run" / "train.log", "valid")
    assert [int(r["valid_num_updates"]) for r in valid] == [10]
    assert float(valid[-1]["valid_align_loss"]) == pytest.approx(-sum(cosines) / len(cosines), abs=2e-4)


@pytest.mark.slow
def test_evaluate_alignment_script(tiny_pair, tiny_corpus, other_pair, tmp_path):
    import json

    from conftest import prepare_pair

    train("align_mlm", tiny_pair, tmp_path / "align", "--max-update", "30")
    train("xlm", tiny_pair, tmp_path / "xlm", "--max-update", "5")
    out = tmp_path / "alignment.json"
    run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "evaluate-alignment",
            "--checkpoint",
            tmp_path / "align" / "checkpoint_last.pt",
            "--output",
            out,
        ]
    )
    result = json.loads(out.read_text())
    assert result["candidates"] == 499 and result["paper"]["queries"] == 199  # int(40% of 499)
    assert result["train"]["p1_nn"] > 90 and result["mean_cosine"]["train"] > 0.9
    assert (
        result["heldout"]["queries"] + result["train"]["queries"] == 499 and not result["language_embeddings"]
    )
    # the validation at the end logged the very same numbers (one implementation)
    valid = read_records(tmp_path / "align" / "train.log", "valid")[-1]
    for group, metric in (
        ("heldout", "p1_nn"),
        ("heldout", "p1_csls"),
        ("train", "p5_nn"),
        ("paper", "p1_nn"),
    ):
        assert float(valid[f"valid_align_{group}_{metric}"]) == pytest.approx(result[group][metric], abs=0.01)
    # the paper's protocol samples from all pieces, half of them trained: about half retrieve
    assert 35 < result["paper"]["p1_nn"] < 65
    xlm = json.loads(
        run(
            [
                sys.executable,
                "-m",
                "alignmlm",
                "evaluate-alignment",
                "--checkpoint",
                tmp_path / "xlm" / "checkpoint_last.pt",
            ]
        ).stdout
    )
    assert xlm["language_embeddings"] and xlm["train"]["p1_nn"] < 20
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "evaluate-alignment",
            "--checkpoint",
            tmp_path / "align" / "checkpoint_last.pt",
            "--pair",
            other_pair,
        ],
        check=False,
    )
    assert proc.returncode != 0 and "was not trained on the data of" in proc.stderr
    # a pair with the same number of tokens in another order is refused too (not just by size)
    same_size = tmp_path / "same_size"
    prepare_pair(
        "--corpus",
        tiny_corpus,
        "--transform",
        "trans+inv",
        "--out",
        same_size,
        "--vocab-size",
        "500",
        "--valid-size",
        "50",
    )
    assert len((same_size / "bin" / "dict.txt").read_text().splitlines()) == len(
        (tiny_pair / "bin" / "dict.txt").read_text().splitlines()
    )
    proc = run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "evaluate-alignment",
            "--checkpoint",
            tmp_path / "align" / "checkpoint_last.pt",
            "--pair",
            same_size,
        ],
        check=False,
    )
    assert proc.returncode != 0 and f"was not trained on the data of {same_size}: token" in proc.stderr
