"""configs/run/* and configs/size/paper.yaml compose with every objective's config under the real
fairseq-hydra-train (hydra's --cfg job prints the composed config without training)."""
import pytest
import yaml

from conftest import REPO, run

HYDRA_TRAIN = REPO / ".venv" / "bin" / "fairseq-hydra-train"


def composed(objective, *overrides) -> dict:
    proc = run([HYDRA_TRAIN, "--config-dir", REPO / "configs" / "pretrain", "--config-name", objective,
                f"hydra.searchpath=[file://{REPO / 'configs'}]", "task.data=/data",
                f"common.user_dir={REPO / 'user_dir'}", *overrides, "--cfg", "job"], cwd=REPO)
    return yaml.safe_load(proc.stdout[proc.stdout.index("_name:"):])


@pytest.mark.parametrize("run_config, world, fp16", [("cpu", 1, False), ("gpu1", 1, True), ("node8", 8, True)])
def test_run_configs_set_devices_and_keep_the_objective(run_config, world, fp16):
    cfg = composed("align_mlm", f"+run={run_config}")
    assert cfg["distributed_training"]["distributed_world_size"] == world
    assert cfg["common"]["fp16"] is fp16 and cfg["common"]["cpu"] is (run_config == "cpu")
    assert cfg["task"]["_name"] == "align_mlm" and cfg["criterion"]["_name"] == "align_mlm"
    assert cfg["criterion"]["align_weight"] == "10" and cfg["model"]["_name"] == "roberta_tiny"


def test_paper_size_on_n_nodes_keeps_the_xlm_model_family():
    cfg = composed("xlm", "+run=nodes", "+size=paper", "distributed_training.distributed_world_size=16")
    assert cfg["distributed_training"]["distributed_world_size"] == 16
    assert cfg["distributed_training"]["distributed_backend"] == "nccl"
    assert cfg["model"]["_name"] == "roberta_lang_tiny"  # language embeddings kept...
    assert (cfg["model"]["encoder_layers"], cfg["model"]["encoder_embed_dim"]) == (8, 512)  # ...at paper size
    assert cfg["task"]["tokens_per_sample"] == 512 and cfg["dataset"]["batch_size"] == 16
    assert cfg["optimization"]["lr"] == [0.0001] and cfg["optimization"]["max_update"] == 500000
    assert cfg["lr_scheduler"]["warmup_updates"] == 10000
    assert 16 * 8 * 512 == 65536  # 16 blocks per GPU x 8 GPUs x 512 tokens: the paper's update



@pytest.mark.parametrize("run_config", ["gpu1", "node8"])
@pytest.mark.parametrize("precision, fp16, bf16, amp", [("fp16", True, False, False),
                                                        ("bf16", False, True, False),
                                                        ("amp", False, False, True),
                                                        ("fp32", False, False, False)])
def test_precision_configs_override_the_run_configs_default(run_config, precision, fp16, bf16, amp):
    common = composed("dict_mlm", f"+run={run_config}", f"+precision={precision}")["common"]
    assert (common["fp16"], common["bf16"], common["amp"]) == (fp16, bf16, amp)
