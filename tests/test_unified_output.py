"""--unified-output (mOthello): the MLM targets of masked language-2 pieces are their language-1
originals' ids, for every objective; the input and the masking are unchanged."""

import json
import shutil

import pytest
import torch
from conftest import setup_task

from alignmlm.data.unified_output import unify_targets
from alignmlm.errors import InputError


def test_unify_targets_maps_twins_only():
    # first piece 4, V = 3: pieces 4..6, twins 7..9; 1 is padding, 10 is <mask> (not a twin)
    targets = torch.tensor([1, 4, 6, 7, 8, 9, 10, 2])
    assert unify_targets(targets, 4, 3).tolist() == [1, 4, 6, 4, 5, 6, 10, 2]


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["mlm", "align_mlm", "xlm", "dict_mlm"])
def test_targets_of_a_batch_are_language_1_ids(tiny_pair, objective):
    """The same training data with and without the flag (same seed, so the same masking): the
    inputs are identical, the targets equal through unify_targets, and no target is a twin."""
    datasets = {}
    for unified in (False, True):
        task = setup_task(objective, tiny_pair, f"task.unified_output={str(unified).lower()}")
        task.load_dataset("train")
        datasets[unified] = task.dataset("train")
    first, v = task.source_dictionary.nspecial, task.pair.twin_offset
    twins_seen = 0
    for index in range(0, len(datasets[False]), 7):
        plain, unified = datasets[False][index], datasets[True][index]
        assert torch.equal(plain["net_input.src_tokens"], unified["net_input.src_tokens"])
        assert torch.equal(unify_targets(plain["target"], first, v), unified["target"])
        twins_seen += int(((plain["target"] >= first + v) & (plain["target"] < first + 2 * v)).sum())
        assert not ((unified["target"] >= first + v) & (unified["target"] < first + 2 * v)).any()
    assert twins_seen > 100  # the derived language's masked pieces were there to map


@pytest.mark.slow
def test_unified_output_needs_twins(tiny_pair, tmp_path):
    """A pair without twins (its manifest says so; the data are tiny_pair's) is refused."""
    pair = tmp_path / "no_twins"
    shutil.copytree(tiny_pair, pair)
    manifest = json.loads((pair / "pair.json").read_text())
    manifest["twin_offset"] = 0
    (pair / "pair.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="--unified-output needs a synthetic pair with a script change"):
        setup_task("mlm", pair, "task.unified_output=true")
