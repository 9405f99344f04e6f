"""Every objective gets the same real tokens per update (issue 14): MLM, ALIGN-MLM, XLM (packed TLM
samples) and DICT-MLM, under every size config, counted through fairseq's own batch iterator."""

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BUNDLED_CORPUS, trans_inv_pair

from alignmlm import CONFIG_DIR, PLUGIN_DIR

OBJECTIVES = ("mlm", "align_mlm", "xlm", "dict_mlm")
# the default recipe (configs/pretrain.yaml) and every configs/size/*.yaml
SIZES = [None] + sorted(p.stem for p in (CONFIG_DIR / "size").glob("*.yaml"))


@pytest.fixture(scope="module")
def ewt_pair(tmp_path_factory) -> Path:
    """The whole bundled EN-EWT corpus (12.5k sentences) as a Trans+Inv pair, 500 pieces: enough
    text for several full batches of 512-token blocks."""
    return trans_inv_pair(BUNDLED_CORPUS, tmp_path_factory.mktemp("pairs") / "ewt_trans_inv")


def real_tokens_per_batch(objective: str, pair: Path, size: str | None) -> tuple[float, int, dict]:
    """(mean non-pad tokens over the epoch's full batches, number of those batches, config) of the
    composed `alignmlm train --objective OBJECTIVE [--size SIZE]` config, with fairseq's batch
    iterator and the config's max_tokens / batch_size / required_batch_size_multiple."""
    from fairseq import tasks

    from alignmlm.pretraining_config import compose

    overrides = [f"task.data={pair / 'bin'}", f"common.user_dir={PLUGIN_DIR}"]
    cfg = compose(objective, overrides + ([f"+size={size}"] if size else []))
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    dataset = task.dataset("train")
    iterator = task.get_batch_iterator(
        dataset,
        max_tokens=cfg.dataset.max_tokens,
        max_sentences=cfg.dataset.batch_size,
        max_positions=task.max_positions(),
        ignore_invalid_inputs=True,
        required_batch_size_multiple=cfg.dataset.required_batch_size_multiple,
        seed=cfg.common.seed,
        epoch=1,
    ).next_epoch_itr(shuffle=True)
    pad = task.source_dictionary.pad()
    counts = []
    for batch in iterator:
        tokens = batch["net_input"]["src_tokens"]
        n, length = tokens.shape
        # full: fairseq closed it because one more sample would break a limit (the last
        # batch of the sorted epoch is what is left over)
        full = n == cfg.dataset.batch_size or (n + 1) * length > cfg.dataset.max_tokens
        if full:
            counts.append(int((tokens != pad).sum()))
    return float(np.mean(counts)), len(counts), cfg


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=lambda s: s or "default")
def test_every_objective_gets_the_same_real_tokens_per_update(ewt_pair, size, capsys):
    measured = {objective: real_tokens_per_batch(objective, ewt_pair, size) for objective in OBJECTIVES}
    means = {objective: m[0] for objective, m in measured.items()}
    cfg = measured["mlm"][2]
    with capsys.disabled():
        print(
            f"\nreal tokens per batch, size {size or 'default'} (max_tokens {cfg.dataset.max_tokens}, "
            f"batch_size {cfg.dataset.batch_size}, block {cfg.task.tokens_per_sample}): "
            + ", ".join(f"{o} {means[o]:.0f} ({measured[o][1]} batches)" for o in OBJECTIVES),
            file=sys.stderr,
        )
    assert all(m[1] >= 5 for m in measured.values()), {o: m[1] for o, m in measured.items()}
    # MLM's blocks are full: its batches are as large as the limits allow
    limit = cfg.dataset.max_tokens
    if cfg.dataset.batch_size:
        limit = min(limit, cfg.dataset.batch_size * cfg.task.tokens_per_sample)
    assert means["mlm"] >= 0.98 * limit, means
    low, high = min(means.values()), max(means.values())
    assert high <= 1.02 * low, means
