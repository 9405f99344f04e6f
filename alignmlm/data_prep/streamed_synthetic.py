"""A synthetic pair of a plain-text corpus of any size, in bounded memory.

The corpus is read three times and never held: (1) its sentences are counted (the validation
lines are a seeded choice among them), (2) sentencepiece trains on the training lines, streamed
to it (it keeps a seeded sample of at most 2 M sentences), (3) chunks of lines are encoded and
transformed in parallel (`--workers` processes, in corpus order) and written straight to fairseq's
binaries (binary_writer), with their piece text when asked. Memory is the chunks in flight,
sentencepiece's sample and the per-piece tables, whatever the corpus size. The result is the
same, byte for byte, as the in-memory pipeline's (tests/test_streamed_prep.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import InputError
from .binary_writer import SplitStreams, fairseq_dictionary, id_map
from .corpus import iter_lines, valid_mask
from .dictionary import choose_anchors, joint_tokens, write_synthetic_dictionaries
from .sentencepiece_model import train_sentencepiece, vocabulary
from .transforms import PieceSentenceTransform, parse_transforms, split_final_punctuation

logger = logging.getLogger(__name__)

CHUNK_LINES = 20_000  # lines per task of a worker: ~2 MB of text


def progress(total: int, desc: str, unit: str = "B") -> tqdm:
    """A progress bar with rates on stderr, for inputs worth one (over 50 MB / 200k sentences)."""
    big = total >= (50_000_000 if unit == "B" else 200_000)
    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, file=sys.stderr, disable=not big)


def count_lines(path: Path, flag: str) -> tuple[int, int]:
    """(sentences, bytes) of a corpus, streamed."""
    size = path.stat().st_size
    with progress(size, "count sentences") as bar:
        n = sum(1 for _ in iter_lines(path, bar))
    if n == 0:
        raise InputError(f"{flag} {path}: corpus is empty (no non-blank lines)")
    return n, size


def chunks(path: Path, flag: str, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """(index of the first line, lines) of consecutive chunks of CHUNK_LINES lines, of the
    corpus's lines START..STOP-1 (the lines before START are read and skipped)."""
    size = CHUNK_LINES
    lines = islice(iter_lines(path), start, stop)
    while chunk := list(islice(lines, size)):
        yield start, chunk
        start += len(chunk)


# ------------------------------------------------------------------ the workers' state and task
_worker: dict = {}


def _init_worker(spm_file: str, pieces, transforms, seed, anchors, map1, map2, text: bool) -> None:
    import sentencepiece as spm

    _worker.update(
        sp=spm.SentencePieceProcessor(model_file=spm_file),
        derive=PieceSentenceTransform(pieces, transforms, seed=seed, anchors=anchors),
        pieces=pieces,
        map1=map1,
        map2=map2,
        text=text,
    )


def encode_chunk(chunk: tuple[int, list[str]]) -> dict:
    """Both languages' fairseq ids (flat) and lengths of a chunk's lines, their sentencepiece
    ids (for the counts), and the piece text when asked."""
    start, lines = chunk
    w = _worker
    encoded = w["sp"].encode([split_final_punctuation(line) for line in lines])
    derived = [w["derive"].derive_ids(ids) for ids in encoded]
    lengths = np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=len(encoded))
    flat1 = np.fromiter(chain.from_iterable(encoded), dtype=np.int64, count=int(lengths.sum()))
    flat2 = np.fromiter(chain.from_iterable(derived), dtype=np.int64, count=int(lengths.sum()))
    result = {
        "start": start,
        "lengths": lengths,  # word-order transforms keep every piece: the same lengths
        "ids1": w["map1"][flat1],
        "ids2": w["map2"][flat2],
        "sp_ids": flat1,
    }
    if w["text"]:
        pieces, out_pieces = w["pieces"], w["derive"].out_pieces
        result["text1"] = [" ".join([pieces[i] for i in ids]) for ids in encoded]
        result["text2"] = [" ".join([out_pieces[i] for i in ids]) for ids in derived]
    return result


@dataclass
class Vocabulary:
    """What encoding any range of the corpus needs: the line count and validation mask, the
    sentencepiece model and the pair's fairseq ids of both languages' pieces."""

    sentences: int
    mask: np.ndarray
    spm_file: Path
    pieces: list
    anchors: list
    transforms: list
    out_pieces: list
    dictionary: object
    map1: np.ndarray
    map2: np.ndarray

    @property
    def trans(self) -> bool:
        return "trans" in self.transforms


def train_vocabulary(args, spm_prefix: Path, stats: dict) -> Vocabulary:
    """Count the corpus, draw the validation lines, train sentencepiece on the others (streamed
    to it) into SPM_PREFIX.{model,vocab}."""
    t = time.perf_counter()
    n, size = count_lines(args.corpus, "--corpus")
    stats["seconds"]["read"] = time.perf_counter() - t
    stats["corpus_bytes"] = size
    mask = corpus_mask(args, n)
    logger.info("%s: %d sentences (%d for validation)", args.corpus, n, mask.sum())
    t = time.perf_counter()
    training_lines = (
        split_final_punctuation(line) for k, line in enumerate(iter_lines(args.corpus)) if not mask[k]
    )
    train_sentencepiece(training_lines, spm_prefix, args.vocab_size, str(args.corpus), seed=args.seed)
    stats["seconds"]["sentencepiece_train"] = time.perf_counter() - t
    return load_vocabulary(args, Path(f"{spm_prefix}.model"), n)


def corpus_mask(args, n: int) -> np.ndarray:
    return valid_mask(n, args.valid_size, args.seed, f"--corpus {args.corpus} ({args.lang1})")


def load_vocabulary(args, spm_file: Path, sentences: int) -> Vocabulary:
    """The Vocabulary of a trained sentencepiece model and the pair's settings (ARGS)."""
    import sentencepiece as spm

    transforms = parse_transforms(args.transform)
    pieces = vocabulary(spm.SentencePieceProcessor(model_file=str(spm_file)))
    anchors = choose_anchors(len(pieces), args.anchor_fraction, args.seed) if args.anchor_fraction else []
    derive = PieceSentenceTransform(pieces, transforms, seed=args.seed, anchors=anchors)
    trans = "trans" in transforms
    tokens = [token for token, _ in joint_tokens(pieces, np.zeros(len(pieces), dtype=np.int64), trans)]
    dictionary = fairseq_dictionary(tokens)
    return Vocabulary(
        sentences=sentences,
        mask=corpus_mask(args, sentences),
        spm_file=spm_file,
        pieces=pieces,
        anchors=anchors,
        transforms=list(transforms),
        out_pieces=derive.out_pieces,
        dictionary=dictionary,
        map1=id_map(dictionary, pieces),
        map2=id_map(dictionary, derive.out_pieces),
    )


def encode_range(args, vocab: Vocabulary, streams: SplitStreams, start: int = 0, stop: int | None = None):
    """Encode, transform and write lines START..STOP-1 of the corpus (every line by default) to
    STREAMS, in order, with --workers processes; returns (piece counts of every line, of the
    training lines) by sentencepiece id."""
    stop = vocab.sentences if stop is None else stop
    counts = np.zeros(len(vocab.pieces), dtype=np.int64)
    train_counts = np.zeros(len(vocab.pieces), dtype=np.int64)
    text = streams.texts is not None
    init = (
        str(vocab.spm_file),
        vocab.pieces,
        vocab.transforms,
        args.seed,
        vocab.anchors,
        vocab.map1,
        vocab.map2,
        text,
    )
    with (
        pool(args.workers, init) as workers,
        progress(stop - start, "encode, transform, binarize", "sent") as bar,
    ):
        for result in workers.imap(encode_chunk, chunks(args.corpus, "--corpus", start=start, stop=stop)):
            lengths, first = result["lengths"], result["start"]
            valid = vocab.mask[first : first + len(lengths)]
            streams.add(args.lang1, result["ids1"], lengths, valid, result.get("text1"))
            streams.add(args.lang2, result["ids2"], lengths, valid, result.get("text2"))
            counts += np.bincount(result["sp_ids"], minlength=len(vocab.pieces))
            train_counts += np.bincount(
                result["sp_ids"][np.repeat(~valid, lengths)], minlength=len(vocab.pieces)
            )
            bar.update(len(lengths))
    return counts, train_counts


def finish_pair(vocab: Vocabulary, counts: np.ndarray, train_counts: np.ndarray, out: Path) -> dict:
    """bin/dict.txt and dict/anchors.txt; returns what prepare_synthetic returns."""
    return write_synthetic_dictionaries(
        out, vocab.pieces, vocab.transforms, vocab.anchors, counts, train_counts
    )


def prepare_streamed_synthetic(args, out: Path, stats: dict, write_text: bool = True) -> dict:
    """prepare_pair's synthetic pair of a plain-text --corpus, streamed (see the module doc);
    returns what prepare_synthetic returns, and writes bin/ (and text/) itself."""
    vocab = train_vocabulary(args, out / "spm", stats)
    t = time.perf_counter()
    streams = SplitStreams(
        out / "bin", [args.lang1, args.lang2], vocab.dictionary, out / "text" if write_text else None
    )
    counts, train_counts = encode_range(args, vocab, streams)
    stats["sentences"] = streams.close()[args.lang1]
    stats["seconds"]["encode_transform_binarize"] = time.perf_counter() - t
    return finish_pair(vocab, counts, train_counts, out)


class pool:
    """A process pool of N workers (N = 1: this process, no pool) running _init_worker(*INIT)."""

    def __init__(self, n: int, init: tuple):
        self.n, self.init, self._pool = n, init, None

    def __enter__(self):
        if self.n > 1:
            context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            self._pool = context.Pool(self.n, initializer=_init_worker, initargs=self.init)
        else:
            _init_worker(*self.init)
        return self

    def imap(self, fn, items):
        return self._pool.imap(fn, items) if self._pool is not None else map(fn, items)

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.terminate() if exc[0] else self._pool.close()
            self._pool.join()
        return False
