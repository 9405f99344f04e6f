"""Zero-shot transfer of a pretrained checkpoint: the one fine-tuning recipe of the toolkit,
used by `alignmlm compare`, the docs and the tests.

    alignmlm finetune --task pos --data runs/pos/en_trans_inv --pair runs/data/en_trans_inv \\
        --checkpoint runs/align/checkpoint_last.pt --out runs/align/pos [--recipe paper] [--seed 1]

Two runs of the real fairseq-train from the checkpoint, both tested on the test split of the
pair's second language (`test_derived`):
  B_Z   trained on language 1 (`train`), never sees language 2;
  B_S   trained on language 2 (`train_derived`);
  delta = B_Z - B_S (closer to 0: better zero-shot transfer).
Language 2 is the pair's derived language (a synthetic pair: --data made with its --transform)
or, for a natural pair (prepare-pair --corpus2), its second language (--data made by prepare-pos
--target-conllu-dir from a treebank of it); its splits take language id 1, as in pretraining.
--data is checked against the pair first (task_data.check_matches_pair).
With the quick recipe, each run's score is its test accuracy at the validation with the best
accuracy on the dev set of its *training* language (`valid`, resp. `valid_derived`), so B_Z never
selects on the language it is tested on. The paper recipe reports what the authors' scripts
report: the final model's score on the dev set of language 2 (`valid_derived`), no selection. The
model's size and language embeddings come from the checkpoint, and so does the sequence length
(its --tokens-per-sample). The paper cut fine-tuning inputs at 128 pieces; these recipes cut
them only at the model's positions.

Recipes (--recipe; their numbers are in RECIPES below), both Adam with linear decay:
  quick  the CPU demo's: a fixed number of updates (--updates overrides it) of a fixed number of
         tokens, after a short warm-up; one validation, at the end
  paper  the paper's: lr 2e-5, 32 sentences per batch, POS and NER 10 epochs, NLI 5, validation
         after every epoch, the last one reported on the derived dev set
The result is printed as JSON and written to OUT/transfer.json.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from alignmlm import PLUGIN_DIR
from alignmlm.data_prep.task_data import check_matches_pair
from alignmlm.errors import InputError, reported
from alignmlm.fairseq_log import read_records
from alignmlm.models.architectures import size_name
from alignmlm.pair import PreparedPair
from alignmlm.safe_files import write_text_atomic

# transfer task -> (fairseq task, criterion, fine-tuning model family)
TASKS = {
    "pos": ("pos_tagging", "token_classification", "roberta_tagger"),
    "nli": ("nli", "sequence_classification", "roberta_classifier"),
    "ner": ("ner", "token_classification", "roberta_tagger"),
}


@dataclass(frozen=True)
class Recipe:
    lr: float
    max_tokens: int | None = None  # tokens per batch (quick) ...
    batch_size: int | None = None  # ... or sentences per batch (paper)
    updates: int | None = None  # a fixed number of updates (quick) ...
    epochs: tuple = ()  # ... or epochs per task, ((task, n), ...) (paper)
    warmup_updates: int = 0
    # what is reported: None = test_derived at the best dev score of the training language (our
    # protocol); "valid_derived" = the derived dev set after the last epoch, as the authors'
    # run_*_synthetic.py scripts report it (no model selection)
    score_on: str | None = None


RECIPES = {
    "quick": Recipe(lr=1e-3, max_tokens=4096, updates=200, warmup_updates=20),
    "paper": Recipe(
        lr=2e-5, batch_size=32, epochs=(("pos", 10), ("ner", 10), ("nli", 5)), score_on="valid_derived"
    ),
}
TEST_SPLIT = "test_derived"


def recipe_settings(name: str, updates: int | None = None) -> dict:
    """The recipe as a plain dict (what compare.py records per cell); `updates` overrides the
    quick recipe's number of updates."""
    if name not in RECIPES:
        raise SystemExit(f"error: unknown recipe {name!r}; expected one of {sorted(RECIPES)}")
    settings = asdict(RECIPES[name])
    if updates is not None:
        if name != "quick":
            raise SystemExit(
                "error: --updates applies to the quick recipe only (the paper's "
                "trains for a number of epochs)"
            )
        settings["updates"] = updates
    return {"recipe": name, **settings, "epochs": dict(settings["epochs"])}


def count_examples(task: str, data: Path, split: str) -> int:
    """Training examples of a split, to size the paper recipe's linear decay."""
    if task == "pos":
        text = (data / f"{split}.conllu").read_text(encoding="utf-8")
        return sum(
            1
            for block in text.split("\n\n")
            if any(line and not line.startswith("#") for line in block.splitlines())
        )
    if task == "ner":  # a blank line after each sentence
        text = (data / f"{split}.ner").read_text(encoding="utf-8")
        return sum(1 for block in text.split("\n\n") if block.strip())
    path = data / f"{split}.jsonl"
    if path.is_file():
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return max(0, len((data / f"{split}.tsv").read_text(encoding="utf-8").splitlines()) - 1)


def finetuning_arch(pretrained_arch: str, family: str) -> str:
    """roberta_tiny / roberta_lang_tiny -> roberta_tagger_tiny: the same size (the language
    embeddings of an XLM checkpoint come with its weights)."""
    size = size_name(pretrained_arch)
    return f"{family}_{size}" if size else family


def check_out_dir(out: Path) -> None:
    """--out must be a directory or creatable as one, before any fine-tuning starts."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a directory (it is created if missing)")
    parent = next(p for p in out.absolute().parents if p.exists())
    if not parent.is_dir():
        raise InputError(f"--out {out}: {parent} is a file, not a directory")


def fairseq_command(
    task: str,
    data: Path,
    pair: Path,
    checkpoint: Path,
    save_dir: Path,
    train_subset: str,
    valid_subsets: str,
    recipe: dict,
    seed: int,
) -> list:
    from alignmlm.checkpoint import checkpoint_config, training_identity

    fairseq_task, criterion, family = TASKS[task]
    cfg = checkpoint_config(checkpoint)
    arch = finetuning_arch(training_identity(cfg)["arch"], family)
    batching = (
        ["--max-tokens", recipe["max_tokens"]]
        if recipe["max_tokens"]
        else ["--batch-size", recipe["batch_size"]]
    )
    if recipe["updates"]:
        total = recipe["updates"]
        schedule = [
            "--max-update",
            total,
            "--validate-interval-updates",
            total,
            "--validate-interval",
            1_000_000,
        ]
    else:
        if task not in recipe["epochs"]:  # a recipe without this task's epochs
            raise SystemExit(
                f"error: the {recipe['recipe']} recipe has no epoch count for {task}; use --recipe quick"
            )
        epochs = recipe["epochs"][task]
        total = epochs * math.ceil(count_examples(task, data, train_subset) / recipe["batch_size"])
        schedule = ["--max-epoch", epochs, "--validate-interval", 1]
    return [
        str(c)
        for c in [
            sys.executable,
            "-m",
            "fairseq_cli.train",
            data,
            "--user-dir",
            PLUGIN_DIR,
            "--task",
            fairseq_task,
            "--pair",
            pair,
            "--criterion",
            criterion,
            "--arch",
            arch,
            "--pretrained-checkpoint",
            checkpoint,
            "--max-positions",
            cfg["task"]["tokens_per_sample"],
            "--optimizer",
            "adam",
            "--lr",
            recipe["lr"],
            *batching,
            "--lr-scheduler",
            "polynomial_decay",
            "--warmup-updates",
            recipe["warmup_updates"],
            "--total-num-update",
            max(total, recipe["warmup_updates"] + 1),
            *schedule,
            "--train-subset",
            train_subset,
            "--valid-subset",
            valid_subsets,
            "--no-save",
            "--save-dir",
            save_dir,
            "--log-format",
            "json",
            "--log-file",
            save_dir / "train.log",
            "--num-workers",
            0,
            "--seed",
            seed,
        ]
    ]


def last_score(log: Path, split: str) -> dict:
    """The score on `split` at the last validation (the paper recipe: the final model on the
    derived dev set), with NER's span F1 beside it."""
    records = {int(r[f"{split}_num_updates"]): r for r in read_records(log, split)}
    if not records:
        raise SystemExit(f"error: {log} holds no {split} validation records")
    update = max(records)
    record = records[update]
    f1 = {"f1": float(record[f"{split}_f1"])} if f"{split}_f1" in record else {}
    return {"score": float(record[f"{split}_accuracy"]), "split": split, "update": update, **f1}


def selected_score(log: Path, dev: str, test: str = TEST_SPLIT) -> dict:
    """Test accuracy at the validation with the best dev accuracy (the first, on ties)."""
    # by update: fairseq may write a validation's record more than once (and validates at the end
    # of training again)
    devs = {int(r[f"{dev}_num_updates"]): float(r[f"{dev}_accuracy"]) for r in read_records(log, dev)}
    tests = {int(r[f"{test}_num_updates"]): float(r[f"{test}_accuracy"]) for r in read_records(log, test)}
    if not devs or not tests:
        raise SystemExit(f"error: {log} holds no {dev} / {test} validation records")
    update = max(devs, key=lambda u: (devs[u], -u))
    # NER logs the entity span F1 too (tasks/ner.py): reported beside the accuracy it is selected on
    f1s = {
        int(r[f"{test}_num_updates"]): float(r[f"{test}_f1"])
        for r in read_records(log, test)
        if f"{test}_f1" in r
    }
    f1 = {"f1": f1s[update]} if update in f1s else {}
    return {"score": tests[update], "dev": devs[update], "update": update, "validations": len(devs), **f1}


def transfer(
    task: str,
    data: Path,
    pair: Path,
    checkpoint: Path,
    out: Path,
    recipe: dict,
    seed: int,
    env: dict | None = None,
) -> dict:
    """B_Z, B_S and delta (accuracy points) of one checkpoint; logs in OUT/{B_Z,B_S}/."""
    result = {"task": task, "seed": seed, "recipe": recipe}
    scored = recipe.get("score_on") or TEST_SPLIT
    for name, train_subset, dev in (("B_Z", "train", "valid"), ("B_S", "train_derived", "valid_derived")):
        save = out / name
        save.mkdir(parents=True, exist_ok=True)
        (save / "train.log").unlink(missing_ok=True)  # a rerun must not read an older run's records
        command = fairseq_command(
            task,
            data,
            pair,
            checkpoint,
            save,
            train_subset,
            ",".join(dict.fromkeys([dev, scored])),
            recipe,
            seed,
        )
        with open(save / "stdout", "w") as log:
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        if code:
            lines = (save / "stdout").read_text(errors="replace").splitlines(keepends=True)
            # the plugin's bad input ends fairseq's log in one `error:` line: that line says it all
            errors = [line.strip() for line in lines if line.startswith("error:")]
            if errors:
                # RuntimeError as any failed run (compare reports it as the cell's failure)
                raise RuntimeError(
                    f"fine-tuning {name} failed: {errors[-1][len('error:') :].strip()} (log {save / 'stdout'})"
                )
            raise RuntimeError(f"fine-tuning failed, log {save / 'stdout'}:\n{''.join(lines[-20:])}")
        selected = (
            last_score(save / "train.log", scored)
            if recipe.get("score_on")
            else selected_score(save / "train.log", dev)
        )
        result[name], result[f"{name}_selection"] = selected["score"], selected
    result["delta"] = round(result["B_Z"] - result["B_S"], 2)
    if "f1" in result["B_Z_selection"] and "f1" in result["B_S_selection"]:  # NER: span F1 too
        result["f1"] = {k: result[f"{k}_selection"]["f1"] for k in ("B_Z", "B_S")}
        result["f1"]["delta"] = round(result["f1"]["B_Z"] - result["f1"]["B_S"], 2)
    return result


@reported
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=sorted(TASKS), required=True, help="transfer task")
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="task data of the pair's two languages (prepare-pos / prepare-ner / prepare-nli; for "
        "a natural pair prepare-pos --target-conllu-dir)",
    )
    p.add_argument("--pair", type=Path, required=True, help="the prepared pair of the checkpoint")
    p.add_argument("--checkpoint", type=Path, required=True, help="pretrained checkpoint")
    p.add_argument("--out", type=Path, required=True, help="logs and transfer.json go here")
    p.add_argument("--recipe", default="quick", choices=sorted(RECIPES), help="see above")
    p.add_argument(
        "--updates",
        type=int,
        help=f"quick recipe: fine-tuning updates (default: the recipe's {RECIPES['quick'].updates})",
    )
    p.add_argument("--seed", type=int, default=1, help="fine-tuning seed")
    args = p.parse_args(argv)
    check_out_dir(args.out)
    if not args.checkpoint.is_file():
        raise SystemExit(f"error: {args.checkpoint}: checkpoint not found")
    from alignmlm.checkpoint import checkpoint_config

    checkpoint_config(args.checkpoint)  # a truncated or foreign file: one line, before any run
    try:
        warning = check_matches_pair(args.data, PreparedPair.load(args.pair))
    except ValueError as err:  # PairError included
        raise SystemExit(f"error: {err}") from None
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        result = transfer(
            args.task,
            args.data,
            args.pair,
            args.checkpoint,
            args.out,
            recipe_settings(args.recipe, args.updates),
            args.seed,
        )
    except RuntimeError as err:
        raise SystemExit(f"error: {err}") from None
    text = json.dumps(result, indent=2)
    write_text_atomic(args.out / "transfer.json", text + "\n")  # a killed run leaves no half file
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
