"""Benchmark of evaluation (issue: evaluation and comparison). Prints figures and ratios.

    .venv/bin/python -m benchmarks.bench_evaluation [--skip-alignment] [--tokens 300000]

(from the repository root).

1. Alignment evaluation end to end (alignmlm evaluate-alignment, the command the comparison
   runner calls) of a paper-size checkpoint: 8x512 model (+size=paper), joint vocabulary of 80k
   rows (40k + 40k twins), a 20k-pair dictionary (10k train, 10k held-out). Wall time and peak
   resident memory of the evaluation process, against a process that only loads the same
   checkpoint (target: seconds on CPU, memory bounded: the evaluation's extra peak is reported
   in MB).
2. Data loading per token: fairseq's batch iterator over the fine-tuning tasks (POS tagging,
   NLI; alignmlm finetune's tasks and model of the recipe's size) against the pretraining task
   (the MLM objective's config: multilingual_mlm, blocks, masking, batching), in tokens/s of the
   collated batches, at the pretraining recipe's tokens per batch for all three (target:
   fine-tuning >= pretraining, ratio >= 1).
"""

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from alignmlm import PLUGIN_DIR
from alignmlm.pair import FORMAT_VERSION
from benchmarks.bench_align_mlm import CPU, REPO, paper_data, run, run_config, tiny_data

# a child process that loads a checkpoint (mode load) or evaluates it (mode evaluate) and prints
# its wall time and peak resident memory (MB)
CHILD = """
import resource, sys, time
start = time.perf_counter()
if sys.argv[1] == "load":
    from alignmlm.checkpoint import load_checkpoint
    load_checkpoint(sys.argv[2])
else:
    from alignmlm.cli.evaluate_alignment import main
    main(["--checkpoint", sys.argv[2], "--pair", sys.argv[3], "--output", sys.argv[4]])
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
    (pair / "pair.json").write_text(
        json.dumps(
            {
                "complete": True,
                "data": "bin",
                "languages": ["en", "xx"],
                "dictionary_units": "pieces",
                "twin_offset": vocab,
                "spm_model": "spm.model",
                "settings": {"transform": "trans", "format_version": FORMAT_VERSION},
            }
        )
    )
    save = tmp / "ckpt"
    # the MLM recipe at the paper's size, changed only to save after 1 update of one block (the
    # synthetic data has no validation set)
    run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "train",
            "--objective",
            "mlm",
            "--data",
            str(pair),
            "--save-dir",
            str(save),
            *CPU,
            "--size",
            "paper",
            "--max-update",
            "1",
            "--max-tokens",
            "512",
            "--",
            "dataset.disable_validation=true",
        ]
    )
    return pair, save / "checkpoint_last.pt"


def child(*args) -> tuple:
    out = run([sys.executable, "-c", CHILD, *map(str, args)])
    seconds, megabytes = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), float(megabytes)


def bench_alignment(tmp: Path) -> None:
    pair, checkpoint = paper_checkpoint(tmp)
    load_s, load_mb = min(child("load", checkpoint) for _ in range(2))
    eval_s, eval_mb = min(child("evaluate", checkpoint, pair, tmp / "a.json") for _ in range(2))
    result = json.loads((tmp / "a.json").read_text())
    print(
        f"alignment evaluation, 80k x 512 checkpoint ({checkpoint.stat().st_size / 2**20:.0f} MB), "
        f"{result['paper']['queries']} sources (paper protocol) + {result['heldout']['queries']} "
        f"held-out + {result['train']['queries']} train queries against {result['candidates']} candidates: {eval_s:.1f} s end to end (loading alone "
        f"{load_s:.1f} s), peak memory {eval_mb:.0f} MB against {load_mb:.0f} MB for loading "
        f"alone: {eval_mb - load_mb:.0f} MB extra"
    )


def batch_tokens_per_second(task_cfg, max_tokens: int, total: int) -> tuple:
    """(tokens/s, tokens, load seconds) of fairseq's train batch iterator for a task config, at
    `max_tokens` tokens per batch; epochs repeat until `total` tokens have been collated."""
    from fairseq import tasks

    task = tasks.setup_task(task_cfg)
    start = time.perf_counter()
    task.load_dataset("train")
    load_s = time.perf_counter() - start
    tokens, epoch, start = 0, 1, time.perf_counter()
    while tokens < total:
        iterator = task.get_batch_iterator(
            task.dataset("train"),
            max_tokens=max_tokens,
            max_positions=task.max_positions(),
            seed=1,
            num_workers=0,
            epoch=epoch,
        )
        for batch in iterator.next_epoch_itr(shuffle=True):
            tokens += int(batch["ntokens"])  # real tokens, padding not counted
            if tokens >= total:
                break
        epoch += 1
    return tokens / (time.perf_counter() - start), tokens, load_s


def finetuning_task_cfg(task: str, data: Path, pair: Path, pretrained_arch: str):
    """The task config fairseq-train builds for `alignmlm finetune --task TASK` (its fairseq
    task and model family, at the pretrained model's size)."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    from alignmlm.cli.finetune import TASKS, finetuning_arch

    fairseq_task, _, family = TASKS[task]
    args = options.parse_args_and_arch(
        options.get_training_parser(),
        [
            str(data),
            "--user-dir",
            str(PLUGIN_DIR),
            "--task",
            fairseq_task,
            "--pair",
            str(pair),
            "--arch",
            finetuning_arch(pretrained_arch, family),
            "--num-workers",
            "0",
        ],
    )
    return convert_namespace_to_omegaconf(args).task


def task_data(tmp: Path) -> tuple:
    """The quickstart's pair and POS data if there, else prepared here; the NLI test set."""
    pair = tiny_data(tmp)
    pos = REPO / "runs" / "quickstart" / "pos"
    if not (pos / "train.conllu").is_file():
        pos = tmp / "pos"
        run(
            [
                sys.executable,
                "-m",
                "alignmlm",
                "prepare-pos",
                "--conllu-dir",
                str(REPO / "data" / "en_ewt" / "pos"),
                "--transform",
                "trans+inv",
                "--out",
                str(pos),
            ]
        )
    nli = tmp / "nli"
    run(
        [
            sys.executable,
            "-m",
            "alignmlm",
            "prepare-nli",
            *(
                x
                for split in ("train", "valid", "test")
                for x in (f"--{split}", str(REPO / "tests" / "data" / "nli" / f"{split}.jsonl"))
            ),
            "--transform",
            "trans+inv",
            "--out",
            str(nli),
        ]
    )
    return pair.root, pos, nli


def bench_loading(tmp: Path, total: int) -> None:
    pair, pos, nli = task_data(tmp)
    pretraining = run_config("mlm", pair, CPU)
    arch, max_tokens = pretraining.model._name, pretraining.dataset.max_tokens
    runs = {
        f"pretraining ({pretraining.task._name}, {pretraining.task.tokens_per_sample}-token blocks)": pretraining.task,
        "POS fine-tuning (pos_tagging)": finetuning_task_cfg("pos", pos, pair, arch),
        "NLI fine-tuning (nli)": finetuning_task_cfg("nli", nli, pair, arch),
    }
    speeds = {}
    for label, task_cfg in runs.items():
        speeds[label], tokens, load_s = batch_tokens_per_second(task_cfg, max_tokens, total)
        print(
            f"{label}: {speeds[label]:,.0f} tokens/s over {tokens:,} tokens (dataset load {load_s:.2f} s)",
            flush=True,
        )
    base = speeds[next(iter(runs))]
    for label in list(runs)[1:]:
        print(f"{label} / pretraining: ratio {speeds[label] / base:.2f} (target >= 1)")


def main() -> None:
    logging.disable(logging.INFO)  # fairseq's per-epoch messages
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
