"""The GPU paths: fp16, bf16 and torch AMP pretraining through fairseq-hydra-train with
configs/run/gpu1.yaml, the fp32 alignment term under each, and what an fp16 overflow does.
Skipped without CUDA (CI has none); run on a GPU node with `bash scripts/test.sh -m gpu`."""

import math
import sys

import pytest
import torch
from conftest import run

from alignmlm import CONFIG_DIR, PLUGIN_DIR
from alignmlm.alignment import alignment_loss
from alignmlm.fairseq_log import read_records
from alignmlm.pair import PreparedPair

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

PRECISIONS = ["amp", "bf16", "fp16", "fp32"]  # configs/precision/


def hydra_train(objective, pair, save_dir, *overrides):
    return run(
        [
            sys.executable,
            "-m",
            "fairseq_cli.hydra_train",
            "--config-dir",
            CONFIG_DIR,
            "--config-name",
            "pretrain",
            f"+objective={objective}",
            "+run=gpu1",
            f"task.data={PreparedPair.load(pair).bin_dir}",
            f"common.user_dir={PLUGIN_DIR}",
            f"checkpoint.save_dir={save_dir}",
            "dataset.num_workers=0",
            "task.tokens_per_sample=64",
            "dataset.max_tokens=2048",
            "optimization.lr=[0.002]",
            "lr_scheduler.warmup_updates=5",
            "checkpoint.save_interval_updates=40",
            *overrides,
        ],
        cwd=save_dir.parent,
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_alignment_term_is_fp32_for_half_embeddings(dtype):
    torch.manual_seed(0)
    embeddings = torch.randn(1000, 64, device="cuda").to(dtype).requires_grad_()
    pairs = torch.randint(0, 1000, (300, 2), device="cuda")
    loss = alignment_loss(embeddings, pairs)
    reference = alignment_loss(embeddings.detach().double(), pairs).item()
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference, abs=1e-6)  # fp32 sums over fp16/bf16 inputs
    loss.backward()
    assert embeddings.grad.dtype == dtype and torch.isfinite(embeddings.grad).all()


def test_alignment_term_stays_fp32_under_autocast():
    torch.manual_seed(0)
    embeddings = torch.randn(1000, 64, device="cuda")
    pairs = torch.randint(0, 1000, (300, 2), device="cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        loss = alignment_loss(embeddings, pairs)
    assert loss.dtype == torch.float32
    assert loss.item() == alignment_loss(embeddings, pairs).item()  # no fp16 products inside


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
def test_align_mlm_trains_on_the_gpu_in_every_precision(tiny_pair, tmp_path, precision):
    save_dir = tmp_path / precision
    proc = hydra_train(
        "align_mlm", tiny_pair, save_dir, "optimization.max_update=80", f"+precision={precision}"
    )
    output = proc.stdout + proc.stderr
    assert "CUDA enviroments for all 1 workers" in output  # fairseq's own spelling
    assert "apex fused kernels" in output and "no CUDA device" not in output  # kernels.py's report
    inner = read_records(save_dir / "train.log", "train_inner")
    assert [int(r["num_updates"]) for r in inner][-1] == 80
    for term in ("loss", "mlm_loss", "align_loss"):
        values = [float(r[term]) for r in inner]
        assert all(math.isfinite(v) for v in values), (term, values)
    assert float(inner[-1]["mlm_loss"]) < float(inner[0]["mlm_loss"]) - 0.5
    assert float(inner[-1]["align_loss"]) < float(inner[0]["align_loss"]) - 0.3
    scaled = precision in ("fp16", "amp")
    assert ("loss_scale" in inner[-1]) is scaled
    if precision == "fp16":
        assert float(inner[-1]["loss_scale"]) >= 1.0
    assert "gb_free" in inner[-1]  # fairseq reports GPU memory only when it trains on CUDA
    valid = read_records(save_dir / "train.log", "valid")
    assert float(valid[-1]["valid_align_train_p1_nn"]) > 50.0
    state = torch.load(save_dir / "checkpoint_last.pt", map_location="cpu", weights_only=False)
    assert state["cfg"]["common"]["fp16"] is (precision == "fp16")


@pytest.mark.slow
def test_fp16_overflow_skips_the_update_and_halves_the_scale(tiny_pair, tmp_path):
    """An initial loss scale of 2^30 overflows fp16 gradients: fairseq skips those updates,
    halves the scale each time, and training then goes on as usual."""
    save_dir = tmp_path / "overflow"
    proc = hydra_train(
        "align_mlm", tiny_pair, save_dir, "optimization.max_update=40", "common.fp16_init_scale=1073741824"
    )
    output = proc.stdout + proc.stderr
    notes = [line for line in output.splitlines() if "gradient overflow detected" in line]
    assert notes and "setting loss scale to: 536870912.0" in notes[0]
    inner = read_records(save_dir / "train.log", "train_inner")
    assert int(inner[-1]["num_updates"]) == 40  # skipped steps do not count as updates
    assert float(inner[-1]["loss_scale"]) < 2**30
    assert all(math.isfinite(float(r["align_loss"])) for r in inner)
    assert float(inner[-1]["mlm_loss"]) < float(inner[0]["mlm_loss"])
