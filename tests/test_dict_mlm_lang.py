"""DICT-MLM as the ALIGN-MLM authors ran it: language embeddings (a token shown as its translation
carries the other language's id), and their collator's handling of masked tokens without a
dictionary entry (--dict-mlm-no-entry unchanged: 55 % unchanged, 40 % <mask>, 5 % random)."""

import json
import sys

import numpy as np
import pytest
from conftest import checkpoint_state, run, setup_task, train, training_config

from alignmlm.data.twins import TWIN_MARK
from alignmlm.errors import InputError


def shown_tokens(task, split="train"):
    """Per masked position of the split's samples: (original, shown, language id, translations
    of the original), counted from the task's datasets before and after masking."""
    task.load_dataset(split)
    dataset = task.datasets[split]
    original_tokens, _ = task.build_token_dataset(split, 1, False)  # the same index, unmasked
    d = task.dictionary
    rows = []
    for i in range(len(dataset)):
        item = dataset[i]
        source, target = item["net_input.src_tokens"].numpy(), item["target"].numpy()
        langs, before = item["net_input.src_lang_ids"].numpy(), original_tokens[i].numpy()
        masked = target != d.pad()
        assert np.array_equal(target[masked], before[masked])  # input mode: labels are originals
        assert np.array_equal(source[~masked], before[~masked])
        for pos in np.flatnonzero(masked):
            rows.append((int(before[pos]), int(source[pos]), int(langs[pos])))
        # outside masked positions every piece carries its own script's language (<s>, </s>
        # and <unk> have none)
        plain = ~masked & (source >= d.nspecial)
        script = np.array([int(d[t].startswith(TWIN_MARK)) for t in source[plain]])
        assert np.array_equal(langs[plain], script)
    return rows


def outcome_shares(task, rows):
    """{'has entry'|'no entry': {outcome: share}} with outcomes unchanged / mask / translation /
    random, and the rows where the token is shown as itself or its translation, to check ids."""
    d = task.dictionary
    shares, checked = {}, []
    for kind in ("has entry", "no entry"):
        tally = {"unchanged": 0, "mask": 0, "translation": 0, "random": 0}
        for original, shown, lang in rows:
            if (task.counts[original] > 0) != (kind == "has entry"):
                continue
            translations = set(task.table[original][: task.counts[original]].tolist())
            if shown == original:
                tally["unchanged"] += 1
                checked.append((shown, lang))
            elif shown == task.mask_idx:
                tally["mask"] += 1
            elif shown in translations:
                tally["translation"] += 1
                checked.append((shown, lang))
            else:
                tally["random"] += 1
        total = sum(tally.values())
        shares[kind] = {k: v / total for k, v in tally.items()} | {"n": total}
    for shown, lang in checked:  # the id of the language the shown piece is written in
        if shown >= d.nspecial:
            assert lang == int(d[shown].startswith(TWIN_MARK)), (d[shown], lang)
    return shares


@pytest.mark.slow
@pytest.mark.parametrize("no_entry", ["mask", "unchanged"])
def test_masked_token_outcomes_and_language_ids(tiny_pair, no_entry):
    task = setup_task("dict_mlm", tiny_pair, f"task.dict_mlm_no_entry={no_entry}")
    shares = outcome_shares(task, shown_tokens(task))
    entry, none = shares["has entry"], shares["no entry"]
    assert entry["n"] > 2000 and none["n"] > 5000, shares
    # with an entry, either way: p=0.5 translation, else fairseq's 80/10/10
    for outcome, expected in {"translation": 0.5, "mask": 0.4, "random": 0.05, "unchanged": 0.05}.items():
        assert entry[outcome] == pytest.approx(expected, abs=0.035), (outcome, entry)
    expected = {
        "mask": {"unchanged": 0.1, "mask": 0.8, "random": 0.1},
        "unchanged": {"unchanged": 0.55, "mask": 0.4, "random": 0.05},
    }
    for outcome, share in expected[no_entry].items():  # about 5 standard errors
        assert none[outcome] == pytest.approx(share, abs=0.035 if share > 0.2 else 0.02), (outcome, none)
    assert none["translation"] == 0


def test_no_entry_unchanged_needs_input_mode():
    from alignmlm.data.dict_substitution import DictSubstitutionDataset

    with pytest.raises(InputError, match="no meaning with --dict-mlm-mode target"):
        DictSubstitutionDataset(None, None, None, None, "target", 0.5, 1, 0, "source", no_entry="unchanged")


@pytest.mark.slow
def test_dict_mlm_task_checks_and_builds_a_language_embedding_model(tiny_pair):
    with pytest.raises(InputError, match="no meaning with --dict-mlm-mode target"):
        setup_task("dict_mlm", tiny_pair, "task.dict_mlm_no_entry=unchanged", "task.dict_mlm_mode=target")
    with pytest.raises(ValueError, match="task.dict_mlm_no_entry"):
        setup_task("dict_mlm", tiny_pair, "task.dict_mlm_no_entry=sometimes")
    cfg = training_config("dict_mlm", tiny_pair)
    assert cfg.model._name == "roberta_tiny"  # the same asked model as every objective
    model = setup_task("dict_mlm", tiny_pair).build_model(cfg.model)
    assert cfg.model._name == "roberta_lang_tiny" and cfg.model.num_langs == 2
    assert tuple(model.encoder.embed_langs.weight.shape) == (2, 64)


@pytest.mark.slow
def test_dict_mlm_checkpoint_is_treated_as_xlm_downstream(tiny_pair, tiny_pos, tmp_path):
    """Trains with language ids; alignment evaluation adds each side's language embedding, and
    fine-tuning builds the language-embedding encoder and passes each split's language id."""
    train("dict_mlm", tiny_pair, tmp_path / "run", "--max-update", "20")
    checkpoint = tmp_path / "run" / "checkpoint_last.pt"
    state = checkpoint_state(checkpoint)
    assert tuple(state["model"]["encoder.embed_langs.weight"].shape) == (2, 64)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["arch"] == "roberta_lang_tiny"
    out = tmp_path / "alignment.json"
    run([sys.executable, "-m", "alignmlm", "evaluate-alignment", "--checkpoint", checkpoint, "--output", out])
    assert json.loads(out.read_text())["language_embeddings"] is True
    from conftest import finetune, labelled_logits

    finetune("pos", tiny_pos, tiny_pair, checkpoint, tmp_path / "pos", "--max-update", "20")
    tuned = checkpoint_state(tmp_path / "pos" / "checkpoint_last.pt")["model"]
    assert "encoder.embed_langs.weight" in tuned
    derived, _ = labelled_logits(tmp_path / "pos" / "checkpoint_last.pt", "test_derived")
    as_id_1, _ = labelled_logits(tmp_path / "pos" / "checkpoint_last.pt", "test_derived", lang_id=1)
    as_id_0, _ = labelled_logits(tmp_path / "pos" / "checkpoint_last.pt", "test_derived", lang_id=0)
    assert np.allclose(derived.numpy(), as_id_1.numpy())  # the derived split is language 1
    assert not np.allclose(derived.numpy(), as_id_0.numpy())
