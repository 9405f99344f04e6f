"""A plain-text synthetic pair in N fairseq data shards, prepared as independent jobs
(`prepare-pair --shards N --stage vocab|shard|finish`; scripts/slurm/prepare_shards.sh runs the
shard stage as a SLURM array). fairseq-train reads DATA=OUT/bin/shard0:OUT/bin/shard1:... one
shard per epoch (`alignmlm train --data OUT` passes that itself).

Stages, each a process of its own, sharing OUT/.shards/ until the pair is finished:
  vocab   count the corpus, draw the validation lines, train sentencepiece (one model and one
          dictionary for every shard): .shards/spm.model and .shards/vocab.json;
  shard K the corpus's lines [K n / N, (K+1) n / N), encoded and binarized like an unsharded
          pair's (streamed_synthetic.encode_range): .shards/shardK/ (written as shardK.partial,
          renamed when complete, so a killed job leaves no half shard; shards may run at once);
  finish  the pair: bin/shardK/LANG/train.* (every training sentence in exactly one shard, in
          corpus order), one validation split merged from the shards (bin/LANG/valid.*, linked
          into every shard, so every epoch validates on the same sentences), bin/dict.txt with the
          counts of all shards, the bilingual dictionary and pair.json.
Concatenated in shard order, the shards' training streams are the unsharded pair's, byte for
byte (tests/test_shards.py).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..pair import PARALLEL_SUBDIR, shard_name
from .binary_writer import SplitStreams, StreamBuilder, link_dictionaries, link_or_copy, link_parallel
from .streamed_synthetic import encode_range, finish_pair, load_vocabulary, train_vocabulary

logger = logging.getLogger(__name__)

WORK = ".shards"  # OUT/.shards: the vocabulary and the finished shards, between the stages
VOCAB_RECORD = "vocab.json"


def shard_bounds(sentences: int, shards: int, k: int) -> tuple[int, int]:
    """Lines [first, last) of shard K of SHARDS: contiguous, sizes differing by at most one."""
    return k * sentences // shards, (k + 1) * sentences // shards


def check_shard_args(args, kind: str, text_corpus: bool) -> None:
    if args.shards < 1:
        raise InputError(f"--shards {args.shards}: expected >= 1")
    if args.shards > 1 and (kind != "synthetic" or not text_corpus):
        raise InputError(
            "--shards is for a synthetic pair of a plain-text corpus (streamed); CoNLL-U corpora "
            "and natural pairs are prepared in one piece"
        )
    if args.stage == "shard" and args.shard_index is None:
        raise InputError("--stage shard needs --shard-index K (e.g. $SLURM_ARRAY_TASK_ID)")
    if args.shard_index is not None and not 0 <= args.shard_index < args.shards:
        raise InputError(
            f"--shard-index {args.shard_index}: expected 0 .. {args.shards - 1} (--shards {args.shards})"
        )
    if args.stage != "all" and args.shards < 2:
        raise InputError(f"--stage {args.stage} needs --shards N >= 2")


def stage_vocab(args, out: Path, wanted: dict) -> None:
    """OUT/.shards/{spm.model, spm.vocab, vocab.json}, replacing an earlier run's OUT/.shards."""
    work = out / WORK
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    stats: dict = {"seconds": {}}
    vocab = train_vocabulary(args, work / "spm", stats)
    record = {"settings": wanted, "sentences": vocab.sentences, "stats": stats}
    (work / VOCAB_RECORD).write_text(json.dumps(record, indent=2))
    logger.info("vocabulary ready in %s; shards 0..%d next (--stage shard)", work, args.shards - 1)


def read_vocab_record(out: Path, wanted: dict) -> dict:
    path = out / WORK / VOCAB_RECORD
    if not path.is_file():
        raise InputError(f"{path} not found: run the vocabulary stage first (--stage vocab, same flags)")
    record = json.loads(path.read_text())
    if record["settings"] != wanted:
        differ = sorted(
            k for k in set(wanted) | set(record["settings"]) if wanted.get(k) != record["settings"].get(k)
        )
        raise InputError(
            f"{path} was made with other settings ({', '.join(differ)} differ): give every stage "
            "the same flags, or run --stage vocab again"
        )
    return record


def stage_shard(args, out: Path, wanted: dict, k: int) -> None:
    """OUT/.shards/shardK/: the shard's lines of both languages (training and validation lines
    apart) and their piece counts; nothing if it is already there."""
    record = read_vocab_record(out, wanted)
    work = out / WORK
    done, partial = work / shard_name(k), work / f"{shard_name(k)}.partial"
    lock = os.open(work / f"{shard_name(k)}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"shard {k} of {out} is being prepared by another job") from None
        if done.is_dir():
            logger.info("%s is already prepared", done)
            return
        if partial.exists():  # left by a killed job
            shutil.rmtree(partial)
        t = time.perf_counter()
        vocab = load_vocabulary(args, work / "spm.model", record["sentences"])
        first, last = shard_bounds(vocab.sentences, args.shards, k)
        streams = SplitStreams(partial, [args.lang1, args.lang2], vocab.dictionary, None)
        counts, train_counts = encode_range(args, vocab, streams, first, last)
        sentences = streams.close()
        np.savez(partial / "counts.npz", counts=counts, train_counts=train_counts)
        summary = {"lines": [first, last], "sentences": sentences, "seconds": time.perf_counter() - t}
        (partial / "shard.json").write_text(json.dumps(summary, indent=2))
        os.replace(partial, done)
        logger.info("shard %d: lines %d..%d in %.0fs -> %s", k, first, last - 1, summary["seconds"], done)
    finally:
        os.close(lock)


def assemble(args, out: Path, stage: Path, wanted: dict, stats: dict) -> dict:
    """The finished pair's bin/ in STAGE (the staging directory of OUT) from OUT/.shards; returns
    what prepare_synthetic returns. The shard directories are moved, not copied."""
    record = read_vocab_record(out, wanted)
    work = out / WORK
    missing = [k for k in range(args.shards) if not (work / shard_name(k)).is_dir()]
    if missing:
        raise InputError(
            f"{out}: shard(s) {', '.join(map(str, missing))} of {args.shards} are not prepared yet "
            "(--stage shard --shard-index K)"
        )
    stats.update(record["stats"])
    for name in ("spm.model", "spm.vocab"):
        shutil.copyfile(work / name, stage / name)
    vocab = load_vocabulary(args, stage / "spm.model", record["sentences"])
    bin_dir = stage / "bin"
    bin_dir.mkdir(exist_ok=True)
    counts = np.zeros(len(vocab.pieces), dtype=np.int64)
    train_counts = np.zeros(len(vocab.pieces), dtype=np.int64)
    valid = {
        lang: StreamBuilder(bin_dir / lang / "valid", len(vocab.dictionary))
        for lang in (args.lang1, args.lang2)
    }
    stats["shards"] = []
    for k in range(args.shards):
        shard = bin_dir / shard_name(k)
        shutil.move(str(work / shard_name(k)), shard)
        with np.load(shard / "counts.npz") as arrays:
            counts += arrays["counts"]
            train_counts += arrays["train_counts"]
        stats["shards"].append(json.loads((shard / "shard.json").read_text()))
        (shard / "counts.npz").unlink()
        (shard / "shard.json").unlink()
        for lang, builder in valid.items():
            builder.merge_file_(str(shard / lang / "valid"))  # fairseq's own concatenation
            for ext in ("bin", "idx"):
                (shard / lang / f"valid.{ext}").unlink()
    sentences = {"train": 0, "valid": 0}
    for builder in valid.values():
        sentences["valid"] = builder.close()
    sentences["train"] = sum(s["sentences"][args.lang1]["train"] for s in stats["shards"])
    stats["sentences"] = sentences
    result = finish_pair(vocab, counts, train_counts, stage)
    for k in range(args.shards):
        shard = bin_dir / shard_name(k)
        for lang in (args.lang1, args.lang2):
            for ext in ("bin", "idx"):
                link_or_copy(bin_dir / lang / f"valid.{ext}", shard / lang / f"valid.{ext}")
        link_or_copy(bin_dir / "dict.txt", shard / "dict.txt")
        link_parallel(shard, args.lang1, args.lang2, PARALLEL_SUBDIR)
        link_dictionaries(shard, (args.lang1, args.lang2), PARALLEL_SUBDIR)
    return result
