"""Benchmark of evaluation (issue: evaluation and comparison). Prints figures and ratios.

    .venv/bin/python benchmarks/bench_evaluation.py [--skip-alignment] [--tokens 300000]

1. Alignment evaluation end to end (alignmlm evaluate-alignment, the command the comparison
   runner calls) of a paper-size checkpoint: 8x512 model, joint vocabulary of 80k rows (40k +
   40k twins), a 20k-pair dictionary (10k train, 10k held-out). Wall time and peak resident
   memory of the evaluation process, against a process that only loads the same checkpoint
   (target: seconds on CPU, memory bounded: the evaluation's extra peak is reported in MB).
2. Data loading per token: fairseq's batch iterator over the fine-tuning tasks (POS tagging,
   NLI) against the pretraining task (multilingual_mlm: blocks, masking, batching), in tokens/s
   of the collated batches, same --max-tokens (target: fine-tuning >= pretraining, ratio >= 1).
"""
import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_align_mlm import paper_data  # noqa: E402

# a child process that loads a checkpoint (mode load) or evaluates it (mode evaluate) and prints
# its wall time and peak resident memory (MB)
CHILD = """
import resource, sys, time
start = time.perf_counter()
if sys.argv[1] == "load":
    from alignmlm.checkpoint import load_checkpoint
    load_checkpoint(sys.argv[2])
else:
    sys.argv = ["evaluate_alignment.py", "--checkpoint", sys.argv[2], "--pair", sys.argv[3],
                "--output", sys.argv[4]]
    sys.path.insert(0, "scripts")
    import evaluate_alignment
    evaluate_alignment.main()
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def paper_checkpoint(tmp: Path) -> tuple:
    """A prepared-pair directory at paper scale and a real 1-update checkpoint trained on it."""
    bin_dir = paper_data(tmp, tokens=30_000)
    pair = bin_dir.parent
    vocab = 40_000
    (pair / "dict").mkdir()
    words = [f"p{i} §p{i}\n" for i in range(0, vocab, 2)]  # 20k pairs
    (pair / "dict" / "all.txt").write_text("".join(words))
    (pair / "dict" / "train.txt").write_text("".join(words[::2]))
    (pair / "dict" / "heldout.txt").write_text("".join(words[1::2]))
    (pair / "pair.json").write_text(json.dumps({
        "complete": True, "data": "bin", "languages": ["en", "xx"], "dictionary_units": "pieces",
        "twin_offset": vocab, "spm_model": "spm.model", "settings": {"transform": "trans"}}))
    save = tmp / "ckpt"
    subprocess.run([sys.executable, "-m", "fairseq_cli.train", str(bin_dir), "--user-dir",
                    str(REPO / "user_dir"), "--task", "multilingual_mlm", "--criterion", "masked_lm",
                    "--arch", "roberta_align_paper", "--tokens-per-sample", "512", "--max-tokens",
                    "512", "--optimizer", "adam", "--lr", "1e-4", "--max-update", "1",
                    "--disable-validation", "--save-dir", str(save), "--num-workers", "0"],
                   cwd=REPO, check=True, capture_output=True)
    return pair, save / "checkpoint_last.pt"


def child(*args) -> tuple:
    out = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], cwd=REPO, check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(REPO)})
    seconds, megabytes = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), float(megabytes)


def bench_alignment(tmp: Path) -> None:
    pair, checkpoint = paper_checkpoint(tmp)
    load_s, load_mb = min(child("load", checkpoint) for _ in range(2))
    eval_s, eval_mb = min(child("evaluate", checkpoint, pair, tmp / "a.json") for _ in range(2))
    result = json.loads((tmp / "a.json").read_text())
    print(f"alignment evaluation, 80k x 512 checkpoint ({checkpoint.stat().st_size / 2**20:.0f} MB), "
          f"{result['sources_scored']} sources (paper protocol) + 10k held-out + 10k train pairs "
          f"against {result['candidates']} candidates: {eval_s:.1f} s end to end (loading alone "
          f"{load_s:.1f} s), peak memory {eval_mb:.0f} MB against {load_mb:.0f} MB for loading "
          f"alone: {eval_mb - load_mb:.0f} MB extra")


def batch_tokens_per_second(argv: list, max_tokens: int) -> tuple:
    """(tokens/s, tokens, load seconds) of fairseq's train batch iterator for a task set up
    from fairseq-train arguments; epochs repeat until `max_tokens` tokens have been collated."""
    from fairseq import options, tasks, utils
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    utils.import_user_module(args)
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    start = time.perf_counter()
    task.load_dataset("train")
    load_s = time.perf_counter() - start
    tokens, epoch, start = 0, 1, time.perf_counter()
    while tokens < max_tokens:
        iterator = task.get_batch_iterator(task.dataset("train"), max_tokens=4096,
                                           max_positions=task.max_positions(), seed=1,
                                           num_workers=0, epoch=epoch)
        for batch in iterator.next_epoch_itr(shuffle=True):
            tokens += int(batch["ntokens"])  # real tokens, padding not counted
            if tokens >= max_tokens:
                break
        epoch += 1
    return tokens / (time.perf_counter() - start), tokens, load_s


def task_data(tmp: Path) -> tuple:
    """The quickstart's pair and POS data if there, else prepared here; the NLI test set."""
    pair, pos = REPO / "runs" / "quickstart" / "data", REPO / "runs" / "quickstart" / "pos"
    if not (pair / "pair.json").is_file() or not (pos / "train.conllu").is_file():
        pair, pos = tmp / "pair", tmp / "pos"
        for module, args in (("prepare_pair", ["--corpus", REPO / "data" / "en_ewt" / "pretrain.txt",
                                               "--out", pair, "--workers", "2"]),
                             ("prepare_pos", ["--conllu-dir", REPO / "data" / "en_ewt" / "pos", "--out", pos])):
            subprocess.run([sys.executable, "-m", f"data_prep.{module}", "--transform", "trans+inv",
                            *map(str, args)], cwd=REPO, check=True, capture_output=True)
    nli = tmp / "nli"
    subprocess.run([sys.executable, "-m", "alignmlm.data_prep.prepare_nli", *(
        x for split in ("train", "valid", "test") for x in (f"--{split}", str(REPO / "tests" / "data" / "nli" / f"{split}.jsonl"))),
        "--transform", "trans+inv", "--out", str(nli)], cwd=REPO, check=True, capture_output=True)
    return pair, pos, nli


def bench_loading(tmp: Path, max_tokens: int) -> None:
    pair, pos, nli = task_data(tmp)
    common = ["--user-dir", str(REPO / "user_dir"), "--max-tokens", "4096", "--num-workers", "0"]
    runs = {
        "pretraining (multilingual_mlm, 128-token blocks)": [
            str(pair / "bin"), "--task", "multilingual_mlm", "--arch", "roberta_tiny",
            "--tokens-per-sample", "128", *common],
        "POS fine-tuning (pos_tagging)": [
            str(pos), "--task", "pos_tagging", "--pair", str(pair), "--arch", "roberta_tagger_tiny", *common],
        "NLI fine-tuning (nli)": [
            str(nli), "--task", "nli", "--pair", str(pair), "--arch", "roberta_classifier_tiny", *common],
    }
    speeds = {}
    for label, argv in runs.items():
        speeds[label], tokens, load_s = batch_tokens_per_second(argv, max_tokens)
        print(f"{label}: {speeds[label]:,.0f} tokens/s over {tokens:,} tokens "
              f"(dataset load {load_s:.2f} s)", flush=True)
    base = speeds[next(iter(runs))]
    for label in list(runs)[1:]:
        print(f"{label} / pretraining: ratio {speeds[label] / base:.2f} (target >= 1)")


def main() -> None:
    logging.disable(logging.INFO)  # fairseq's per-epoch messages
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skip-alignment", action="store_true", help="only the data-loading part")
    p.add_argument("--tokens", type=int, default=300_000, help="tokens collated per task")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bench_loading(tmp, args.tokens)
        if not args.skip_alignment:
            bench_alignment(tmp)


if __name__ == "__main__":
    main()
