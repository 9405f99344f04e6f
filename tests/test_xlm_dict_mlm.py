"""XLM (TLM + language embeddings) and DICT-MLM: their data, their tasks' checks of bad input,
and real fairseq-train runs."""

import logging
import re
import sys

import numpy as np
import pytest
import torch
from conftest import run, setup_task, train, training_config

from alignmlm.data.dict_substitution import DictSubstitutionDataset, substitute_at, translation_table
from alignmlm.data.tlm_packing import PackedPairDataset
from alignmlm.fairseq_log import read_records

# ---------------------------------------------------------------- data: TLM


# packed TLM samples: tests/test_tlm_packing.py


def test_parallel_files_of_different_lengths_are_an_error():
    source = _Listed([[5, 6, 2]] * 7)
    with pytest.raises(ValueError, match="parallel data differ in length: 7 != 3"):
        PackedPairDataset(source, _Listed([[5, 2]] * 3), [np.arange(3)], bos=0)


@pytest.mark.slow
def test_xlm_task_masks_15_percent_and_adds_language_inputs(tiny_pair, caplog):
    caplog.set_level(logging.INFO)
    task = setup_task("xlm", tiny_pair)
    task.load_dataset("train")
    dataset = task.datasets["train"]
    # the TLM samples the task reports: a quarter of the 1,400 pairs, those whose halves fit in
    # 32 tokens each, packed several to a sample
    chosen, pairs, samples, too_long = map(
        int,
        re.search(
            r"TLM train: (\d+) of (\d+) sentence pairs in (\d+) samples .*\((\d+) left out", caplog.text
        ).groups(),
    )
    assert pairs == 1400 and chosen + too_long == 350 and chosen > 100 and samples < chosen
    masked = total = tlm = 0
    for i in range(len(dataset)):
        item = dataset[i]  # flattened keys: 'net_input.src_tokens', ...
        masked += int((item["target"] != task.dictionary.pad()).sum())
        total += len(item["target"])
        tlm += int(item["net_input.src_lang_ids"].unique().numel() == 2)
    assert masked / total == pytest.approx(0.15, abs=0.01)
    assert tlm == samples  # every reported TLM sample has both languages, nothing else has
    batch = dataset.collater([dataset[i] for i in range(8)])
    net = batch["net_input"]
    assert net["src_lang_ids"].shape == net["src_tokens"].shape == net["src_positions"].shape
    assert set(net["src_lang_ids"].unique().tolist()) <= {0, 1}


# ---------------------------------------------------------------- data: DICT-MLM

PAD = 1


def test_substitute_hand_worked():
    pairs = torch.tensor([[10, 20], [11, 21], [11, 22]])
    table, counts = translation_table(pairs, 30)
    assert counts[10] == 1 and counts[11] == 2 and counts[20] == 1 and counts[12] == 0
    assert set(table[11, :2].tolist()) == {21, 22} and table[21, 0] == 11
    source = np.array([0, 5, 10, 11, 12, 2])  # <s> x  a  b  c </s>, all but x masked
    target = np.array([PAD, PAD, 10, 11, 12, PAD])
    rng = np.random.default_rng(0)
    src, tgt, _ = substitute_at(source, target, table, counts, "input", 1.0, PAD, rng)
    assert src[2] == 20 and src[3] in (21, 22) and src[4] == 12  # 12 has no entry
    assert tgt.tolist() == target.tolist()  # input mode: labels stay the originals
    src, tgt, _ = substitute_at(source, target, table, counts, "target", 1.0, PAD, rng)
    assert src.tolist() == source.tolist()
    assert tgt[2] == 20 and tgt[3] in (21, 22) and tgt[4] == 12
    src, tgt, _ = substitute_at(source, target, table, counts, "input", 0.0, PAD, rng)
    assert src.tolist() == source.tolist() and tgt.tolist() == target.tolist()


class _Listed(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = [torch.tensor(x) for x in items]
        self.sizes = np.array([len(x) for x in items])

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)

    def set_epoch(self, epoch):
        pass


def test_substitution_rate_only_where_the_dictionary_has_entries_and_deterministic():
    rng = np.random.default_rng(1)
    vocab, n = 200, 400
    pairs = torch.tensor([[t, t + 100] for t in range(4, 54)])  # tokens 4..53 have entries
    table, counts = translation_table(pairs, vocab)
    sources = [rng.integers(4, 100, size=50) for _ in range(n)]
    targets = [np.where(rng.random(50) < 0.15, s, PAD) for s in sources]
    src_ds, tgt_ds = _Listed(sources), _Listed(targets)

    def make(field):
        return DictSubstitutionDataset(src_ds, tgt_ds, table, counts, "input", 0.5, PAD, seed=7, field=field)

    out_src = make("source")
    out_src.set_epoch(3)
    changed = eligible = 0
    for i in range(n):
        new, old, tgt = out_src[i].numpy(), sources[i], targets[i]
        diff = new != old
        assert (tgt[diff] != PAD).all()  # only masked positions
        assert (counts[old[diff]] > 0).all() and (new[diff] == old[diff] + 100).all()
        changed += diff.sum()
        eligible += ((tgt != PAD) & (counts[old] > 0)).sum()
    assert changed / eligible == pytest.approx(0.5, abs=0.05)
    again = make("source")  # a resumed run: same seed, epoch and index -> same sample
    again.set_epoch(3)
    assert all(torch.equal(again[i], out_src[i]) for i in range(0, n, 37))
    again.set_epoch(4)
    assert any(not torch.equal(again[i], out_src[i]) for i in range(0, n, 7))


# The errors below are raised where training builds the task, loads the training split and builds
# the model: done here in-process from the config `alignmlm train` composes, without a training run.
@pytest.mark.slow
@pytest.mark.parametrize(
    "content, expected",
    [
        ("zzq1 yyq1\nzzq2 yyq2\n", "other.txt: none of its 2 pairs is usable"),
        ("\n", "other.txt: bilingual dictionary is empty"),
    ],
)
def test_dict_mlm_rejects_an_empty_or_non_overlapping_dictionary(tiny_pair, tmp_path, content, expected):
    path = tmp_path / "other.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        setup_task("dict_mlm", tiny_pair, f"task.bilingual_dict={path}")
    assert expected in str(raised.value)


@pytest.mark.slow
def test_xlm_bad_inputs(tiny_pair, tmp_path):
    import shutil

    broken = tmp_path / "pair"
    shutil.copytree(tiny_pair, broken)
    para = broken / "bin" / "para"
    for ext in ("bin", "idx"):  # the derived side of train now has the 100 lines of valid
        shutil.copyfile(
            para / f"valid.en-en_trans_inv.en_trans_inv.{ext}",
            para / f"train.en-en_trans_inv.en_trans_inv.{ext}",
        )
    task = setup_task("xlm", broken)
    with pytest.raises(ValueError) as raised:
        task.load_dataset("train")
    message = str(raised.value)
    assert (
        "parallel files differ in line count: " in message
        and "train.en-en_trans_inv.en has 1400 sentences, " in message
        and "train.en-en_trans_inv.en_trans_inv has 100" in message
    )
    cfg = training_config("xlm", tiny_pair, "model.num_langs=1")
    task = setup_task("xlm", tiny_pair)
    with pytest.raises(
        ValueError,
        match=re.escape("--num-langs 1 is smaller than the 2 languages of the data (en, en_trans_inv)"),
    ):
        task.build_model(cfg.model)
    cfg = training_config("xlm", tiny_pair)  # by default, one language embedding per language
    task.build_model(cfg.model)
    assert cfg.model.num_langs == 2


# ---------------------------------------------------------------- real training


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["xlm", "dict_mlm"])
def test_training_loss_falls_and_resumes(objective, tiny_pair, tmp_path):
    train(objective, tiny_pair, tmp_path / "run", "--max-update", "40")
    records = read_records(tmp_path / "run" / "train.log", "train_inner")
    losses = [float(r["loss"]) for r in records]
    assert losses[-1] < losses[0] - 0.5, losses
    proc = train(objective, tiny_pair, tmp_path / "run", "--max-update", "50")
    assert "Loaded checkpoint" in proc.stdout + proc.stderr and "@ 40 updates" in proc.stdout + proc.stderr
    updates = sorted(
        {int(r["num_updates"]) for r in read_records(tmp_path / "run" / "train.log", "train_inner")}
    )
    assert updates[-2:] == [40, 50]


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["xlm", "dict_mlm"])
def test_two_gloo_workers(objective, tiny_pair, tmp_path):
    proc = train(objective, tiny_pair, tmp_path / "run", "--max-update", "10", "--cpu-workers", "2")
    log = proc.stdout + proc.stderr
    assert "distributed init (rank 1)" in log and "distributed init (rank 0)" in log
    records = read_records(tmp_path / "run" / "train.log", "train_inner")
    assert int(records[-1]["num_updates"]) == 10 and np.isfinite(float(records[-1]["loss"]))
    # each update's batch is both workers': more tokens than one worker's --max-tokens 2048 allows
    assert 2048 < float(records[-1]["wpb"]) <= 2 * 2048


LOAD_SCRIPT = """
import sys, torch
from alignmlm.checkpoint import load_checkpoint
model, task = load_checkpoint(sys.argv[1])
d = task.dictionary
tokens = torch.tensor([[d.bos()] + [d.index(p) for p in ["▁the", "▁government", "§▁the"]] + [d.eos()]])
plain, _ = model(tokens, features_only=True)
langs = torch.tensor([[0, 0, 0, 1, 1]])
with_langs, _ = model(tokens, features_only=True, src_lang_ids=langs,
                      src_positions=torch.tensor([[0, 1, 2, 0, 1]]))
print("shapes", tuple(plain.shape), tuple(with_langs.shape), "differ", not torch.allclose(plain, with_langs))
try:
    model(tokens, features_only=True, src_lang_ids=torch.tensor([[0, 0, 0, 2, 2]]))
except ValueError as err:
    print("error:", err)
"""


@pytest.mark.slow
def test_xlm_checkpoint_encodes_with_and_without_language_ids(tiny_pair, tmp_path):
    train("xlm", tiny_pair, tmp_path / "run", "--max-update", "5")
    proc = run([sys.executable, "-c", LOAD_SCRIPT, tmp_path / "run" / "checkpoint_last.pt"])
    assert "shapes (1, 5, 64) (1, 5, 64) differ True" in proc.stdout
    assert "error: language ids must be in [0, 2); got [0, 2]" in proc.stdout
