"""Survey of bad and unusual inputs (issue 13): every case run against one or more checkouts of
this repository, as a user would type it, and a markdown table of how each ended.

    .venv/bin/python -m benchmarks.bad_inputs [--repo PATH ...] [--only WORD] [--out FILE]

Each --repo (default: this checkout) runs with its own code (PYTHONPATH=PATH, the same Python
and packages) on fixtures it prepares itself (a 600-sentence corpus, a Trans+Inv pair of 300
pieces, a 10-update MLM checkpoint, small POS and NLI sets). With two checkouts (e.g. before and
after a change: `git worktree add ../before REV`) the table has a column for each.

A case is what a user did and what should happen: either *refused* -- a one-line `error: ...`
(status != 0, no traceback) and no file lost -- or a *correct* result, checked (files kept,
the corrected rerun done, the value right). A cell reads `exit S: last line` (`traceback: ...`
when Python printed one; `ran on` when a command that should have stopped at once was still
running after the case's time limit), then ✔ or ✘ against what should happen. Commands run as
root here cannot meet permission errors, so those cases are not in the survey (the tests skip
them too). About 10 minutes per checkout on 2 cores; no GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CASES: list = []


@dataclass
class Result:
    status: int | None  # None: stopped by the survey's time limit
    stdout: str
    stderr: str
    seconds: float

    def summary(self) -> str:
        if self.status is None:
            return f"ran on (stopped after {self.seconds:.0f} s)"
        lines = [line for line in (self.stderr + self.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        if "Traceback (most recent call last)" in self.stderr:
            last = next((line for line in reversed(lines) if not line.startswith(" ")), "")
            return f"traceback: {last.strip()}"
        if self.status == 0:
            return "exit 0"
        return f"exit {self.status}: {(errors or lines or [''])[-1].strip()}"

    @property
    def one_line_error(self) -> bool:
        return (
            self.status not in (None, 0)
            and "Traceback (most recent call last)" not in self.stderr
            and any(line.startswith("error:") for line in self.stderr.splitlines())
        )


class Checkout:
    """One checkout's code, run from a scratch directory holding its fixtures."""

    def __init__(self, repo: Path, work: Path):
        self.repo, self.work = repo.resolve(), work
        self.env = dict(os.environ, PYTHONPATH=str(self.repo), OMP_NUM_THREADS="1")

    def run(self, *argv, timeout: float = 120, env: dict | None = None, cwd: Path | None = None) -> Result:
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [str(a) for a in argv],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=cwd or self.work,
                env={**self.env, **(env or {})},
            )
            return Result(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start)
        except subprocess.TimeoutExpired as stopped:
            out = stopped.stdout.decode() if isinstance(stopped.stdout, bytes) else stopped.stdout or ""
            err = stopped.stderr.decode() if isinstance(stopped.stderr, bytes) else stopped.stderr or ""
            return Result(None, out, err, time.perf_counter() - start)

    def cli(self, command: str, *argv, **kwargs) -> Result:
        return self.run(sys.executable, "-m", "alignmlm", command, *argv, **kwargs)

    def slurm(self, env: dict, **kwargs) -> Result:
        variables = {
            "PARTITION": "debug",
            "DATA": self.pair,
            "SAVE_DIR": self.work / "slurm_save",
            "DRY_RUN": "1",
        }
        variables.update(env)
        clean = {k: v for k, v in self.env.items() if not k.startswith("SLURM_")}
        return self.run(
            "bash",
            self.repo / "scripts" / "slurm" / "pretrain.sbatch",
            env={
                **clean,
                "REPO": str(self.repo),
                "PYTHON": sys.executable,
                **{k: str(v) for k, v in variables.items()},
            },
            **kwargs,
        )

    def fresh(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        return path

    def prepare_fixtures(self) -> None:
        w = self.work
        lines = (HERE / "data" / "en_ewt" / "pretrain.txt").read_text(encoding="utf-8").splitlines()
        (w / "corpus.txt").write_text("\n".join(lines[:600]) + "\n", encoding="utf-8")
        self.pair = w / "pair"
        self.must(self.cli(*self.pair_args(w / "corpus.txt", self.pair), timeout=300), "prepare-pair")
        self.checkpoint = w / "mlm" / "checkpoint_last.pt"
        self.must(
            self.cli(
                "train",
                "--objective",
                "mlm",
                "--data",
                self.pair,
                "--save-dir",
                w / "mlm",
                "--max-update",
                10,
                "--save-interval-updates",
                10,
                timeout=300,
            ),
            "train",
        )
        conllu = w / "conllu"
        conllu.mkdir()
        for split, n in (("train", 200), ("dev", 50), ("test", 50)):
            text = (HERE / "data" / "en_ewt" / "pos" / f"{split}.conllu").read_text(encoding="utf-8")
            (conllu / f"{split}.conllu").write_text(
                "\n\n".join(text.split("\n\n")[:n]) + "\n\n", encoding="utf-8"
            )
        self.pos = w / "pos"
        self.must(
            self.cli("prepare-pos", "--conllu-dir", conllu, "--transform", "trans+inv", "--out", self.pos),
            "pos",
        )
        self.nli_source = HERE / "tests" / "data" / "nli"

    @staticmethod
    def pair_args(corpus, out, *extra) -> list:
        return [
            "prepare-pair",
            "--corpus",
            corpus,
            "--transform",
            "trans+inv",
            "--vocab-size",
            300,
            "--out",
            out,
            *extra,
        ]

    @staticmethod
    def must(result: Result, what: str) -> None:
        if result.status != 0:
            raise SystemExit(f"fixture {what} failed:\n{result.stderr[-3000:]}")


def case(group: str, name: str, wanted: str):
    """Register fn(checkout) -> (Result, ok, note) as a case; `wanted` says what should happen."""

    def register(fn):
        CASES.append((group, name, wanted, fn))
        return fn

    return register


def refused(result: Result, *kept: tuple, naming: str = "") -> tuple:
    """A one-line refusal naming `naming` that kept every (path, bytes) in `kept`."""
    lost = [str(p.name) for p, content in kept if not p.is_file() or p.read_bytes() != content]
    result, ok, note = names(result, naming)
    note = "; ".join(n for n in (f"LOST {', '.join(lost)}" if lost else "", note) if n)
    return result, ok and not lost, note


def names(result: Result, *words: str) -> tuple:
    """A one-line refusal whose error line names each of `words` (the flag, file or value at
    fault: an error that does not say what is wrong does not count)."""
    line = next((x for x in reversed(result.stderr.splitlines()) if x.startswith("error:")), "")
    missing = [w for w in words if w and w not in line]
    note = f"does not name {', '.join(missing)}" if result.one_line_error and missing else ""
    return result, result.one_line_error and not missing, note


def snapshot(path: Path) -> tuple:
    return path, path.read_bytes()


# ------------------------------------------------------------------------------ lost data


@case("lost data", "prepare-pair --corpus OUT/corpus.txt --out OUT --overwrite", "refused, corpus kept")
def corpus_inside_out(c: Checkout):
    out = c.fresh("inside")
    out.mkdir()
    shutil.copy(c.work / "corpus.txt", out / "corpus.txt")
    kept = snapshot(out / "corpus.txt")
    return refused(c.cli(*c.pair_args(out / "corpus.txt", out, "--overwrite")), kept)


@case("lost data", "prepare-pair --out DIR --overwrite, DIR holding a checkpoint", "refused, file kept")
def foreign_files(c: Checkout):
    out = c.fresh("runs")
    out.mkdir()
    (out / "checkpoint_best.pt").write_bytes(b"weights")
    kept = snapshot(out / "checkpoint_best.pt")
    return refused(c.cli(*c.pair_args(c.work / "corpus.txt", out, "--overwrite")), kept)


@case("lost data", "transform-conllu --input X --output X --overwrite", "refused, X kept")
def conllu_in_place(c: Checkout):
    x = c.work / "in_place.conllu"
    shutil.copy(c.pos / "test.conllu", x)
    kept = snapshot(x)
    return refused(
        c.cli("transform-conllu", "--input", x, "--output", x, "--transform", "inv", "--overwrite"), kept
    )


@case("lost data", "two prepare-pair runs on one --out at once", "second refused at once, first completes")
def concurrent(c: Checkout):
    out = c.fresh("concurrent")
    first = subprocess.Popen(
        [sys.executable, "-m", "alignmlm", *map(str, c.pair_args(c.work / "corpus.txt", out))],
        cwd=c.work,
        env=c.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3)
    second = c.cli(*c.pair_args(c.work / "corpus.txt", out, "--seed", 2, "--overwrite"), timeout=120)
    first.wait(timeout=300)
    manifest = json.loads((out / "pair.json").read_text()) if (out / "pair.json").is_file() else {}
    first_ok = first.returncode == 0 and manifest.get("complete") and manifest["settings"]["seed"] == 1
    note = (
        ""
        if first_ok
        else f"first run: exit {first.returncode}, pair.json seed {manifest.get('settings', {}).get('seed')}"
    )
    return second, second.one_line_error and bool(first_ok), note


# ------------------------------------------------------------------------ wrong results


@case("exit 0, wrong result", "train --objective dict_mlm into an MLM run's --save-dir", "refused")
def resume_other_objective(c: Checkout):
    save = c.fresh("resume")
    save.mkdir()
    shutil.copy(c.checkpoint, save / "checkpoint_last.pt")
    r = c.cli("train", "--objective", "dict_mlm", "--data", c.pair, "--save-dir", save, "--dry-run")
    return names(r, "another run")


@case("exit 0, wrong result", "SLURM template OBJECTIVE=dict_mlm, SAVE_DIR of an MLM run", "refused")
def slurm_resume_other_objective(c: Checkout):
    save = c.fresh("slurm_resume")
    save.mkdir()
    shutil.copy(c.checkpoint, save / "checkpoint_last.pt")
    r = c.slurm(
        {
            "OBJECTIVE": "dict_mlm",
            "SAVE_DIR": save,
            "SIZE": "tiny",
            "RUN": "cpu",
            "DEVICE": "cpu",
            "PRECISION": "fp32",
        }
    )
    return names(r, "another run")


@case("exit 0, wrong result", "evaluate-alignment --pair (another pair of the same size)", "refused")
def other_pair_same_size(c: Checkout):
    other = c.work / "pair_seed2"
    if not other.is_dir():
        c.must(c.cli(*c.pair_args(c.work / "corpus.txt", other, "--seed", 2), timeout=300), "second pair")
    r = c.cli("evaluate-alignment", "--checkpoint", c.checkpoint, "--pair", other, timeout=300)
    return names(r, "not trained on the data")


@case(
    "exit 0, wrong result",
    "finetune --task pos on POS data derived with trans+perm (pair: trans+inv)",
    "refused",
)
def pos_other_transform(c: Checkout):
    pos = c.fresh("pos_perm")
    c.must(
        c.cli("prepare-pos", "--conllu-dir", c.work / "conllu", "--transform", "trans+perm", "--out", pos),
        "pos",
    )
    r = c.cli(
        "finetune", "--task", "pos", "--data", pos, "--pair", c.pair, "--checkpoint", c.checkpoint,
        "--out", c.fresh("ft_perm"), "--updates", 5, timeout=300,
    )  # fmt: skip
    return names(r, "trans+perm")


@case("exit 0, wrong result", "compare --pair A --pair B, both trans+inv", "refused")
def compare_same_transform(c: Checkout):
    other = c.fresh("pair_copy")
    shutil.copytree(c.pair, other)
    r = c.cli(
        "compare", "--pair", c.pair, "--pair", other, "--pos", c.pos, "--pos", c.pos, "--objectives", "mlm",
        "--max-update", 2, "--out", c.fresh("cmp_same"), timeout=45,
    )  # fmt: skip
    return names(r, "both")


@case("exit 0, wrong result", "compare --objectives mlm,align_mlm,mlm,align_mlm", "refused")
def compare_repeated(c: Checkout):
    r = c.cli(
        "compare", "--pair", c.pair, "--pos", c.pos, "--objectives", "mlm,align_mlm,mlm,align_mlm",
        "--max-update", 2, "--out", c.fresh("cmp_rep"), timeout=45,
    )  # fmt: skip
    return names(r, "repeats")


def nli_files(c: Checkout, name: str, relabel) -> Path:
    d = c.fresh(name)
    d.mkdir()
    for split in ("train", "valid", "test"):
        rows = [json.loads(line) for line in (c.nli_source / f"{split}.jsonl").read_text().splitlines()]
        (d / f"{split}.jsonl").write_text(
            "".join(json.dumps({**r, "label": relabel(r["label"])}) + "\n" for r in rows)
        )
    return d


def prepare_nli(c: Checkout, src: Path, out: str) -> Result:
    """prepare-nli of SRC/{train,valid,test}.jsonl into a fresh OUT."""
    splits = [x for s in ("train", "valid", "test") for x in (f"--{s}", src / f"{s}.jsonl")]
    return c.cli("prepare-nli", *splits, "--transform", "trans+inv", "--out", c.fresh(out))


def prepare_pos(c: Checkout, src: Path, out: str) -> Result:
    """prepare-pos of the CoNLL-U directory SRC into a fresh OUT."""
    return c.cli("prepare-pos", "--conllu-dir", src, "--transform", "trans+inv", "--out", c.fresh(out))


NUMERIC = {"entailment": "0", "neutral": "1", "contradiction": "2"}


@case(
    "exit 0, wrong result",
    "prepare-nli on Hugging Face data (labels 0/1/2)",
    "refused with the mapping to pass",
)
def nli_numeric(c: Checkout):
    src = nli_files(c, "nli_numeric_src", NUMERIC.get)
    r = prepare_nli(c, src, "nli_numeric")
    return names(r, "--numeric-labels")


@case("exit 0, wrong result", "prepare-nli with labels Entailment/Neutral/Contradiction", "refused")
def nli_capitalised(c: Checkout):
    src = nli_files(c, "nli_cap_src", str.capitalize)
    r = prepare_nli(c, src, "nli_cap")
    return names(r, "Entailment")


@case(
    "exit 0, wrong result",
    "finetune --task nli on hand-made data with labels 0/1/2",
    "refused (no 33.3 % result)",
)
def finetune_numeric_labels(c: Checkout):
    data = nli_files(c, "nli_numeric_data", NUMERIC.get)
    for split in ("train", "valid", "test"):
        shutil.copy(data / f"{split}.jsonl", data / f"{split}_derived.jsonl")
    r = c.cli("finetune", "--task", "nli", "--data", data, "--pair", c.pair, "--checkpoint", c.checkpoint,
              "--out", c.fresh("ft_numeric"), "--updates", 5, timeout=300)  # fmt: skip
    return names(r, "label")


@case("exit 0, wrong result", "prepare-pos with lower-case UPOS tags (noun, verb)", "refused")
def pos_lower_case(c: Checkout):
    src = c.fresh("conllu_lower")
    shutil.copytree(c.work / "conllu", src)
    lines = []
    for line in (src / "train.conllu").read_text().splitlines():
        cols = line.split("\t")
        if len(cols) == 10:
            cols[3] = cols[3].lower()
        lines.append("\t".join(cols))
    (src / "train.conllu").write_text("\n".join(lines) + "\n")
    r = prepare_pos(c, src, "pos_lower")
    return names(r, "UPOS")


@case("exit 0, wrong result", "prepare-pos with an empty test.conllu", "refused")
def pos_empty_split(c: Checkout):
    src = c.fresh("conllu_empty")
    shutil.copytree(c.work / "conllu", src)
    (src / "test.conllu").write_text("")
    r = prepare_pos(c, src, "pos_empty")
    return names(r, "test.conllu")


@case("exit 0, wrong result", "prepare-nli with an empty test file", "refused")
def nli_empty_split(c: Checkout):
    src = nli_files(c, "nli_empty_src", lambda label: label)
    (src / "test.jsonl").write_text("")
    r = prepare_nli(c, src, "nli_empty")
    return names(r, "test")


@case(
    "exit 0, wrong result",
    "natural pair whose dictionary repeats every line",
    "held-out and train disjoint, no repeats",
)
def duplicate_dictionary(c: Checkout):
    lines = (c.work / "corpus.txt").read_text().splitlines()
    (c.work / "first.txt").write_text("\n".join(lines[:300]) + "\n")
    (c.work / "upper.txt").write_text("\n".join(s.upper() for s in lines[300:]) + "\n")
    words = sorted({w for s in lines[:300] for w in s.split() if w.isalpha()})[:400]
    (c.work / "twice.txt").write_text("".join(f"{w} {w.upper()}\n" * 2 for w in words))
    out = c.fresh("natural")
    r = c.cli("prepare-pair", "--corpus", c.work / "first.txt", "--corpus2", c.work / "upper.txt", "--lang2", "up",
              "--dictionary", c.work / "twice.txt", "--vocab-size", 300, "--out", out, timeout=300)  # fmt: skip
    if r.status != 0:
        return r, False, ""
    train = (out / "dict" / "train.txt").read_text().splitlines()
    heldout = (out / "dict" / "heldout.txt").read_text().splitlines()
    repeats = len(heldout) - len(set(heldout)) + len(train) - len(set(train))
    shared = {p.split()[0] for p in train} & {p.split()[0] for p in heldout}
    return r, not repeats and not shared, f"{repeats} repeated pairs, {len(shared)} shared source words"


# ------------------------------------------------------------------ OS errors, late checks


@case("one line, not a traceback", "prepare-pair --out FILE", "refused")
def out_is_file(c: Checkout):
    f = c.work / "a_file"
    f.write_text("keep me\n")
    kept = snapshot(f)
    return refused(c.cli(*c.pair_args(c.work / "corpus.txt", f)), kept, naming="--out")


@case("one line, not a traceback", "prepare-pair --out FILE/sub (parent is a file)", "refused")
def out_parent_is_file(c: Checkout):
    f = c.work / "a_file"
    f.write_text("keep me\n")
    kept = snapshot(f)
    return refused(c.cli(*c.pair_args(c.work / "corpus.txt", f / "sub")), kept, naming="--out")


@case("one line, not a traceback", "prepare-pair --corpus DIR", "refused")
def corpus_is_dir(c: Checkout):
    r = c.cli(*c.pair_args(c.work, c.fresh("corpus_dir")))
    return names(r, "--corpus")


@case("one line, not a traceback", "train --save-dir FILE", "refused before training")
def save_dir_is_file(c: Checkout):
    f = c.work / "a_file"
    f.write_text("keep me\n")
    kept = snapshot(f)
    r = c.cli(
        "train", "--objective", "mlm", "--data", c.pair, "--save-dir", f, "--max-update", 2, timeout=120
    )
    return refused(r, kept, naming="--save-dir")


@case("one line, not a traceback", "transform-conllu --output DIR", "refused")
def conllu_output_dir(c: Checkout):
    d = c.fresh("a_dir")
    d.mkdir()
    r = c.cli("transform-conllu", "--input", c.pos / "test.conllu", "--output", d, "--transform", "inv")
    return names(r, "--output")


@case("one line, not a traceback", "evaluate-alignment --output DIR", "refused before evaluating")
def evaluation_output_dir(c: Checkout):
    d = c.fresh("a_dir")
    d.mkdir()
    r = c.cli("evaluate-alignment", "--checkpoint", c.checkpoint, "--output", d, timeout=300)
    return names(r, "--output")


@case("one line, not a traceback", "finetune --out FILE", "refused before fine-tuning")
def finetune_out_file(c: Checkout):
    f = c.work / "a_file"
    f.write_text("keep me\n")
    kept = snapshot(f)
    r = c.cli("finetune", "--task", "pos", "--data", c.pos, "--pair", c.pair, "--checkpoint", c.checkpoint,
              "--out", f, "--updates", 5, timeout=300)  # fmt: skip
    return refused(r, kept, naming="--out")


@case(
    "one line, not a traceback",
    "prepare-pair rerun, corrected, after a failed run",
    "the rerun prepares the pair",
)
def rerun_after_failure(c: Checkout):
    out = c.fresh("rerun")
    c.cli(
        *c.pair_args(c.work / "corpus.txt", out, "--heldout-band", "5000-6500"), timeout=300
    )  # fails: too few words
    r = c.cli(*c.pair_args(c.work / "corpus.txt", out), timeout=300)
    return r, r.status == 0 and json.loads((out / "pair.json").read_text()).get("complete", False), ""


@case(
    "one line, not a traceback",
    "prepare-pair again with --corpus ./corpus.txt (was absolute)",
    "nothing to do, exit 0",
)
def path_spelling(c: Checkout):
    out = c.fresh("spelling")
    c.must(c.cli(*c.pair_args(c.work / "corpus.txt", out), timeout=300), "first preparation")
    r = c.cli(*c.pair_args("./corpus.txt", out), timeout=300)
    return r, r.status == 0 and "nothing to do" in r.stderr + r.stdout, ""


@case("late checks", "prepare-pair --dict-train-fraction 1.5", "refused before sentencepiece")
def fraction_late(c: Checkout):
    r = c.cli(
        *c.pair_args(c.work / "corpus.txt", c.fresh("fraction"), "--dict-train-fraction", 1.5), timeout=300
    )
    trained = any(c.work.glob("fraction/**/spm.model"))  # sentencepiece ran before the check
    r, ok, note = names(r, "--dict-train-fraction")
    return r, ok and not trained, note or ("after training sentencepiece" if trained else "")


@case("late checks", "prepare-pair --workers 0", "refused")
def workers_zero(c: Checkout):
    r = c.cli(*c.pair_args(c.work / "corpus.txt", c.fresh("workers"), "--workers", 0), timeout=300)
    return names(r, "--workers")


@case("late checks", "prepare-pair --lang1 para", "refused (bin/para is the parallel stream)")
def lang_para(c: Checkout):
    r = c.cli(*c.pair_args(c.work / "corpus.txt", c.fresh("para"), "--lang1", "para"), timeout=300)
    return names(r, "para")


def train_dry(c: Checkout, *flags, objective="mlm", extra=()) -> Result:
    return c.cli("train", "--objective", objective, "--data", c.pair, "--save-dir", c.fresh("dry"), *flags,
                 "--dry-run", *(["--", *extra] if extra else []))  # fmt: skip


@case("late checks", "train --max-tokens 64 (--tokens-per-sample 128) --dry-run", "refused")
def max_tokens_small(c: Checkout):
    r = train_dry(c, "--max-tokens", 64)
    return names(r, "--max-tokens")


@case("late checks", "train --max-update 0 --dry-run (fairseq: no limit)", "refused")
def max_update_zero(c: Checkout):
    r = train_dry(c, "--max-update", 0)
    return names(r, "--max-update")


@case("late checks", "train --dry-run -- criterion.align_weight (no value)", "refused")
def malformed_override(c: Checkout):
    r = train_dry(c, objective="align_mlm", extra=["criterion.align_weight"])
    return names(r, "align_weight")


@case("late checks", "train --objective align_mlm -- criterion.align_weight=nan", "refused before training")
def weight_nan(c: Checkout):
    r = c.cli("train", "--objective", "align_mlm", "--data", c.pair, "--save-dir", c.fresh("nan"), "--max-update", 3,
              "--", "criterion.align_weight=nan", timeout=150)  # fmt: skip
    return names(r, "align_weight")


@case("late checks", "train --objective align_mlm -- criterion.align_weight=-1", "refused before training")
def weight_negative(c: Checkout):
    r = c.cli("train", "--objective", "align_mlm", "--data", c.pair, "--save-dir", c.fresh("neg"), "--max-update", 3,
              "--", "criterion.align_weight=-1", timeout=150)  # fmt: skip
    return names(r, "align_weight")


@case("late checks", "train into a --save-dir whose checkpoint_last.pt was cut short", "refused, file named")
def truncated_checkpoint(c: Checkout):
    save = c.fresh("truncated")
    save.mkdir()
    (save / "checkpoint_last.pt").write_bytes(c.checkpoint.read_bytes()[:1000])
    r = c.cli("train", "--objective", "mlm", "--data", c.pair, "--save-dir", save, "--dry-run")
    return names(r, "checkpoint_last.pt")


@case("late checks", "evaluate-alignment --checkpoint (a text file)", "refused")
def not_a_checkpoint(c: Checkout):
    r = c.cli("evaluate-alignment", "--checkpoint", c.work / "corpus.txt", "--pair", c.pair, timeout=120)
    return names(r, "corpus.txt")


@case("late checks", "compare --objectives mlm,mlmm (a typo)", "refused before any cell")
def compare_unknown_objective(c: Checkout):
    r = c.cli("compare", "--pair", c.pair, "--pos", c.pos, "--objectives", "mlm,mlmm", "--max-update", 2,
              "--out", c.fresh("cmp_typo"), timeout=45)  # fmt: skip
    return names(r, "mlmm")


@case("late checks", "compare --pos DIR without the POS files", "refused before any cell")
def compare_empty_task_dir(c: Checkout):
    empty = c.fresh("empty_pos")
    empty.mkdir()
    r = c.cli("compare", "--pair", c.pair, "--pos", empty, "--objectives", "mlm", "--max-update", 2,
              "--out", c.fresh("cmp_empty"), timeout=45)  # fmt: skip
    pretrained = any(c.work.glob("cmp_empty/*/pretrain.json"))  # a cell pretrained before the check
    r, ok, note = names(r, "--pos")
    return r, ok and not pretrained, note or ("after pretraining a cell" if pretrained else "")


@case("late checks", "fairseq-train --task align_mlm --bilingual-dict MISSING", "one line from the plugin")
def plugin_error(c: Checkout):
    r = c.run(sys.executable, "-m", "fairseq_cli.train", c.pair / "bin", "--user-dir", c.repo / "alignmlm",
              "--task", "align_mlm", "--bilingual-dict", c.work / "missing.txt", "--arch", "roberta_tiny",
              "--criterion", "align_mlm", "--optimizer", "adam", "--lr", "1e-3", "--max-tokens", 1024,
              "--tokens-per-sample", 128, "--max-update", 1, "--cpu", "--no-save", timeout=150)  # fmt: skip
    return names(r, "missing.txt")


# ----------------------------------------------------------------------------- SLURM


def slurm_case(env: dict):
    def fn(c: Checkout):
        return names(c.slurm(env), *env)  # the variable at fault

    return fn


for _env, _what in (
    ({"PORT": "notaport"}, "PORT=notaport"),
    ({"EXTRA_ARGS": "--max-update 5"}, "EXTRA_ARGS='--max-update 5' (fairseq flags)"),
    ({"OBJECTIVE": "../run/cpu"}, "OBJECTIVE=../run/cpu"),
):
    case("SLURM template (DRY_RUN=1)", _what, "refused on the login node")(slurm_case(_env))


@case(
    "SLURM template (DRY_RUN=1)",
    "DATA = a pair whose preparation did not finish",
    "refused on the login node",
)
def slurm_unfinished(c: Checkout):
    d = c.fresh("unfinished")
    shutil.copytree(c.pair, d)
    manifest = json.loads((d / "pair.json").read_text())
    (d / "pair.json").write_text(json.dumps({**manifest, "complete": False}))
    r = c.slurm({"DATA": d})
    return names(r, "unfinished")


@case(
    "SLURM template (DRY_RUN=1)",
    "compare --slurm --slurm-args --partition=gpu",
    "accepted (fails only at sbatch here)",
)
def slurm_args_dash(c: Checkout):
    r = c.cli("compare", "--pair", c.pair, "--pos", c.pos, "--objectives", "mlm", "--slurm", "--slurm-args",
              "--partition=gpu", "--out", c.fresh("cmp_slurm"), timeout=60)  # fmt: skip
    return r, "expected one argument" not in r.stderr and "Traceback" not in r.stderr, ""


# ------------------------------------------------------------------------------- driver


def survey(repo: Path, only: str | None) -> dict:
    """{case: (ok, how it ended, note)} for one checkout."""
    with tempfile.TemporaryDirectory(prefix="bad_inputs_") as tmp:
        checkout = Checkout(repo, Path(tmp))
        start = time.perf_counter()
        checkout.prepare_fixtures()
        print(f"[{repo}] fixtures ready in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        results = {}
        for _, name, _, fn in CASES:
            if only and only not in name:
                continue
            result, ok, note = fn(checkout)
            text = result.summary().replace("|", "\\|").replace(str(checkout.work), "…")
            text = text if len(text) <= 150 else text[:147] + "..."
            results[name] = (ok, text, note)
            print(f"[{repo.name}] {name}: {cell(*results[name])}", file=sys.stderr, flush=True)
        return results


def escape(text: str) -> str:
    return text.replace("|", "\\|")


def label(repo: Path) -> str:
    """A checkout as `git describe` names its commit (plus `+changes` for a dirty tree)."""
    rev = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain"], capture_output=True, text=True)
    return (rev.stdout.strip() or repo.name) + ("+changes" if dirty.stdout.strip() else "")


def cell(ok: bool, text: str, note: str, compact: bool = False) -> str:
    """'✔ exit 2: error: ...' (compact: '✔ error line'), with the note in parentheses."""
    if compact:
        if text.startswith(("exit 0", "traceback", "ran on")):
            text = text.split(" (")[0].split(":")[0]
        elif text.split(": ", 1)[-1].startswith("error:"):
            text = "error line"
        elif ": error: " in text:  # argparse's usage error
            text = "usage error"
        else:
            text = text.split(":")[0] + ", no error line"
    return f"{'✔' if ok else '✘'} {text}" + (f" ({note})" if note else "")


def table(repos: list, columns: list, compact: bool) -> str:
    lines = ["| case | should | " + " | ".join(f"`{label(r)}`" for r in repos) + " |"]
    lines.append("|---|---|" + "---|" * len(repos))
    group = None
    for g, name, wanted, _ in CASES:
        if name not in columns[0]:
            continue
        if g != group:
            lines.append(f"| **{g}** | | " + " | " * (len(repos) - 1) + " |")
            group = g
        cells = [cell(*col[name], compact=compact) for col in columns]
        lines.append(f"| {escape(name)} | {wanted} | " + " | ".join(cells) + " |")
    passed = [sum(ok for ok, _, _ in col.values()) for col in columns]
    summary = ", ".join(f"`{label(r)}` {n}/{len(col)}" for r, n, col in zip(repos, passed, columns))
    return "\n".join([*lines, "", f"Cases ending as they should: {summary}"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", type=Path, action="append", help="checkout to run (repeat; default: this one)")
    p.add_argument("--only", help="run the cases whose description contains this")
    p.add_argument(
        "--out", type=Path, help="also write the table to OUT (and the compact one to OUT.compact.md)"
    )
    p.add_argument(
        "--compact", action="store_true", help="print cells that say only ✔/✘ and how the case ended"
    )
    args = p.parse_args(argv)
    repos = args.repo or [HERE]
    columns = [survey(repo, args.only) for repo in repos]
    full, short = table(repos, columns, compact=False), table(repos, columns, compact=True)
    print(short if args.compact else full)
    if args.out:  # both: FILE (with the messages) and FILE's .compact.md twin
        args.out.write_text(full + "\n")
        args.out.with_suffix(".compact.md").write_text(short + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
