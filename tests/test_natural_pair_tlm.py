"""XLM (TLM) on a natural pair: prepare-pair --parallel writes bin/para/ from sentence-aligned
text, the monolingual data stay as without it, and the XLM task packs true translations, in the
pair's language order (here --lang1 up, --lang2 en: the reverse of the names' sort order)."""

import json
import logging
import re
from collections import Counter

import numpy as np
import pytest
import sentencepiece as spm
from conftest import BUNDLED_CORPUS, prepare_pair, refusal, setup_task, train
from fairseq.data import Dictionary, data_utils

from alignmlm.data_prep.corpus import valid_mask
from alignmlm.errors import InputError
from alignmlm.fairseq_log import read_records
from alignmlm.safe_files import file_sha256

N_PARALLEL, N_VALID = 400, 40


def natural_inputs(directory):
    """Corpora of 'up' (upper-cased English) and 'en', 1000 lines each; parallel text of 400
    other lines, up.txt's side upper-cased; a tiny dictionary."""
    lines = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()
    files = {
        "up.txt": [line.upper() for line in lines[:1000]],
        "en.txt": lines[1000:2000],
        "para.up": [line.upper() for line in lines[2000 : 2000 + N_PARALLEL]],
        "para.en": lines[2000 : 2000 + N_PARALLEL],
        "dict.txt": ["THE the", "OF of", "AND and"],
    }
    for name, text in files.items():
        (directory / name).write_text("\n".join(text) + "\n", encoding="utf-8")
    return directory


def natural_args(inputs, out, *parallel) -> list:
    return [
        *("--corpus", inputs / "up.txt", "--lang1", "up", "--corpus2", inputs / "en.txt", "--lang2", "en"),
        *("--dictionary", inputs / "dict.txt", "--out", out, "--vocab-size", "800", "--valid-size", N_VALID),
        *(["--parallel", *parallel] if parallel else []),
    ]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return natural_inputs(tmp_path_factory.mktemp("natural_inputs"))


@pytest.fixture(scope="module")
def para_pair(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "up_en"
    prepare_pair(*natural_args(inputs, out, inputs / "para.up", inputs / "para.en"))
    return out


@pytest.fixture(scope="module")
def plain_pair(inputs, tmp_path_factory):
    """The same pair without --parallel."""
    out = tmp_path_factory.mktemp("pairs") / "up_en_plain"
    prepare_pair(*natural_args(inputs, out))
    return out


def decoder(pair):
    """text(ids): a binarized sentence (</s> dropped) as the text sentencepiece decodes."""
    d = Dictionary.load(str(pair / "bin" / "dict.txt"))
    sp = spm.SentencePieceProcessor(model_file=str(pair / "spm.model"))
    return d, lambda ids: sp.decode([d[int(i)] for i in ids])


def reference(pair, lines: list[str]) -> list[str]:
    """The lines as they come back through the pair's sentencepiece model alone (normalized)."""
    sp = spm.SentencePieceProcessor(model_file=str(pair / "spm.model"))
    return [sp.decode(ids) for ids in sp.encode(lines)]


@pytest.mark.slow
def test_parallel_text_is_binarized_split_and_decodes_back(para_pair, inputs):
    manifest = json.loads((para_pair / "pair.json").read_text())
    assert manifest["languages"] == ["up", "en"]
    stats = manifest["stats"]["parallel_sentences"]
    assert (stats["train"], stats["valid"]) == (N_PARALLEL - N_VALID, N_VALID)
    assert stats["unk_pieces"] < 0.01 * stats["pieces"]
    recorded = manifest["settings"]["inputs"]  # by content, as every input
    assert recorded["parallel"] == "sha256:" + file_sha256(inputs / "para.up")
    assert recorded["parallel2"] == "sha256:" + file_sha256(inputs / "para.en")
    d, text = decoder(para_pair)
    mask = valid_mask(N_PARALLEL, N_VALID, 1)  # the corpora's rule, with the pair's seed
    exact = 0
    for lang in ("up", "en"):
        lines = (inputs / f"para.{lang}").read_text(encoding="utf-8").splitlines()
        for split, held_out in (("train", False), ("valid", True)):
            wanted = [line for line, v in zip(lines, mask) if v == held_out]
            binarized = data_utils.load_indexed_dataset(
                str(para_pair / "bin" / "para" / f"{split}.up-en.{lang}"), d
            )
            decoded = [text(binarized[i][:-1]) for i in range(len(binarized))]
            assert decoded == reference(para_pair, wanted)
            exact += sum(a == b for a, b in zip(decoded, wanted))
    assert exact > 0.9 * 2 * N_PARALLEL  # most come back exactly (the others have <unk>: `, <, ...)


@pytest.mark.slow
def test_parallel_text_changes_nothing_but_bin_para(para_pair, plain_pair):
    """Sentencepiece and the monolingual streams are made from the corpora alone: every objective
    sees the same pieces and streams, with or without --parallel."""
    assert not (plain_pair / "bin" / "para").exists()
    for name in (
        "spm.vocab",  # spm.model differs: it records where it was trained (OUT)
        "bin/dict.txt",
        *(f"bin/{lang}/{s}.bin" for lang in ("up", "en") for s in ("train", "valid")),
    ):
        assert (para_pair / name).read_bytes() == (plain_pair / name).read_bytes(), name


@pytest.mark.slow
def test_xlm_packs_translations_in_the_pairs_language_order(para_pair, inputs, caplog):
    caplog.set_level(logging.INFO)
    task = setup_task("xlm", para_pair, "task.tokens_per_sample=128", "task.tlm_fraction=1.0")
    assert task.langs == ["up", "en"]  # the pair's order: up is language 0, the first half
    d, text = decoder(para_pair)
    tlm = task.token_streams("train", 1, False)[-1]
    chosen = int(re.search(r"TLM train: (\d+) of 360 sentence pairs", caplog.text).group(1))
    lines = {
        lang: reference(para_pair, (inputs / f"para.{lang}").read_text().splitlines())
        for lang in ("up", "en")
    }
    held_out = valid_mask(N_PARALLEL, N_VALID, 1)
    unused = Counter(  # (up text, en text) of the training lines, each as often as it occurs
        pair for pair, v in zip(zip(lines["up"], lines["en"]), held_out) if not v
    )
    n_pairs = 0
    for k in range(len(tlm["tokens"])):
        tokens, lang_ids = tlm["tokens"][k].numpy(), tlm["lang_ids"][k].numpy()
        n_source = int((lang_ids == 0).sum())
        assert tokens[0] == d.bos() and lang_ids.tolist() == [0] * n_source + [1] * (len(tokens) - n_source)
        halves = [
            np.split(h, np.flatnonzero(h == d.eos())[:-1] + 1)
            for h in (tokens[1:n_source], tokens[n_source:])
        ]
        assert len(halves[0]) == len(halves[1])
        for up_ids, en_ids in zip(*halves):
            assert up_ids[-1] == en_ids[-1] == d.eos()
            pair = (text(up_ids[:-1]), text(en_ids[:-1]))
            # the k-th sentences of the halves: one training line of the parallel files, up first
            assert unused[pair] > 0, pair
            unused[pair] -= 1
            n_pairs += 1
    assert n_pairs == chosen > 300  # every chosen pair once


@pytest.mark.slow
def test_xlm_trains_on_the_natural_pair(para_pair, tmp_path):
    proc = train("xlm", para_pair, tmp_path / "run", "--max-update", "10")
    log = proc.stdout + proc.stderr
    assert re.search(r"TLM train: \d+ of 360 sentence pairs", log)
    records = read_records(tmp_path / "run" / "train.log", "train_inner")
    assert int(records[-1]["num_updates"]) == 10 and np.isfinite(float(records[-1]["loss"]))


@pytest.mark.slow
def test_xlm_without_parallel_data_says_to_give_parallel(plain_pair):
    task = setup_task("xlm", plain_pair)
    with pytest.raises(InputError) as raised:
        task.load_dataset("train")
    message = str(raised.value)
    assert "TLM needs parallel data" in message and "train.up-en" in message
    assert "--parallel TEXT.up TEXT.en" in message and "tlm_fraction=0" in message


def test_parallel_is_refused_for_a_synthetic_pair_and_checked(inputs, tmp_path):
    message = refusal(
        "prepare-pair",
        "--corpus",
        inputs / "en.txt",
        "--transform",
        "inv",
        "--parallel",
        inputs / "para.en",
        "--out",
        tmp_path / "o",
    )
    assert "--parallel is for a natural pair" in message
    message = refusal("prepare-pair", *natural_args(inputs, tmp_path / "o", *[inputs / "para.en"] * 3))
    assert "--parallel takes one TSV file or two aligned files" in message and "got 3" in message
    short = tmp_path / "short.en"
    short.write_text("one\ntwo\n", encoding="utf-8")
    message = refusal("prepare-pair", *natural_args(inputs, tmp_path / "o", inputs / "para.up", short))
    assert f"line 3 of {inputs / 'para.up'} has no partner in {short}" in message
    message = refusal(
        "prepare-pair", *natural_args(inputs, tmp_path / "o", inputs / "para.up", tmp_path / "no.en")
    )
    assert f"--parallel {tmp_path / 'no.en'}: input file not found" in message
    assert not (tmp_path / "o" / "pair.json").exists()
