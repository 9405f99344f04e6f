"""fairseq's binarized data written straight from token ids, with fairseq's own writer
(`MMapIndexedDatasetBuilder`): the bytes fairseq-preprocess writes for the same piece text (each
sentence's ids looked up in dict.txt, then </s>), without writing, re-reading and looking up the
piece strings again."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from itertools import chain
from pathlib import Path

import numpy as np
from fairseq.data import Dictionary, indexed_dataset


def fairseq_dictionary(tokens: Sequence[str]) -> Dictionary:
    """The Dictionary fairseq loads from a dict.txt listing TOKENS in this order."""
    dictionary = Dictionary()
    for token in tokens:
        dictionary.add_symbol(token)
    return dictionary


def id_map(dictionary: Dictionary, pieces: Sequence[str]) -> np.ndarray:
    """The fairseq id of each piece string (by piece index), as fairseq-preprocess looks a
    string up: `<unk>` for one the dictionary does not have (sentencepiece's own <unk>)."""
    return np.array([dictionary.index(p) for p in pieces], dtype=np.int64)


def with_eos(ids: np.ndarray, lengths: np.ndarray, eos: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids with EOS after each sentence, lengths + 1): fairseq-preprocess's append_eos."""
    ends = np.cumsum(lengths)
    return np.insert(ids, ends, eos), lengths + 1


class StreamBuilder(indexed_dataset.MMapIndexedDatasetBuilder):
    """fairseq's mmap builder, plus `add_items`: many sentences from one flat array at once
    (the per-sentence `add_item` costs more than the data)."""

    def __init__(self, prefix: Path, vocab_size: int):
        self.prefix = Path(prefix)
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        dtype = indexed_dataset.best_fitting_int_dtype(vocab_size)
        super().__init__(indexed_dataset.data_file_path(str(prefix)), dtype=dtype)

    def add_items(self, flat: np.ndarray, lengths: np.ndarray) -> None:
        # the same bytes and index entries as add_item for each sentence in turn
        self._data_file.write(np.asarray(flat, dtype=self._dtype).tobytes(order="C"))
        self._sizes.extend(int(n) for n in lengths)

    def close(self) -> int:
        self.finalize(indexed_dataset.index_file_path(str(self.prefix)))
        return len(self._sizes)


class SplitStreams:
    """BIN/LANG/{train,valid}.{bin,idx} (or, with PARALLEL = (L1, L2), BIN/{split}.L1-L2.LANG.*,
    fairseq-preprocess's names for a parallel corpus), and TEXT/{train,valid}.LANG, the piece
    text, when TEXT is given: each language's sentences, written chunk by chunk in order."""

    def __init__(
        self,
        bin_dir: Path,
        langs: Sequence[str],
        dictionary: Dictionary,
        text_dir: Path | None,
        parallel: tuple[str, str] | None = None,
    ):
        self.eos = dictionary.eos()
        name = (
            (lambda lang, split: f"{lang}/{split}")
            if parallel is None
            else (lambda lang, split: f"{split}.{parallel[0]}-{parallel[1]}.{lang}")
        )
        self.builders = {
            (lang, split): StreamBuilder(bin_dir / name(lang, split), len(dictionary))
            for lang in langs
            for split in ("train", "valid")
        }
        self.texts = None
        if text_dir is not None:
            text_dir.mkdir(parents=True, exist_ok=True)
            self.texts = {
                key: open(text_dir / f"{key[1]}.{key[0]}", "w", encoding="utf-8") for key in self.builders
            }

    def add(self, lang: str, ids: np.ndarray, lengths: np.ndarray, valid: np.ndarray, lines=None) -> None:
        """Sentences of LANG (flat fairseq ids without </s>, their LENGTHS), each to the split
        VALID says; LINES: their piece text, if text is written."""
        ids, lengths = with_eos(ids, lengths, self.eos)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        # runs of consecutive sentences of one split: few, as validation lines are few
        cuts = np.concatenate([[0], np.flatnonzero(np.diff(valid.astype(np.int8))) + 1, [len(lengths)]])
        for a, b in zip(cuts[:-1], cuts[1:]):
            if a == b:
                continue
            split = "valid" if valid[a] else "train"
            self.builders[(lang, split)].add_items(ids[offsets[a] : offsets[b]], lengths[a:b])
            if self.texts is not None:
                self.texts[(lang, split)].writelines(line + "\n" for line in lines[a:b])

    def add_sentences(self, lang: str, sentences, strings: Sequence[str], ids_of: np.ndarray, valid) -> None:
        """SENTENCES (lists of piece indices into STRINGS, whose fairseq ids are IDS_OF) of LANG."""
        lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        flat = np.fromiter(chain.from_iterable(sentences), dtype=np.int64, count=int(lengths.sum()))
        lines = [" ".join([strings[i] for i in s]) for s in sentences] if self.texts is not None else None
        self.add(lang, ids_of[flat], lengths, np.asarray(valid, dtype=bool), lines)

    def close(self) -> dict:
        """{lang: {split: sentences}}; the files are complete."""
        counts: dict = {}
        for (lang, split), builder in self.builders.items():
            counts.setdefault(lang, {})[split] = builder.close()
            if self.texts is not None:
                self.texts[(lang, split)].close()
        return counts


def link_parallel(bin_dir: Path, lang1: str, lang2: str, parallel_subdir: str) -> None:
    """BIN/para/{split}.L1-L2.{L1,L2}.{bin,idx}: the two languages' streams themselves (hard
    links, else copies) -- every sentence of a synthetic pair is parallel."""
    para = bin_dir / parallel_subdir
    para.mkdir(exist_ok=True)
    for lang in (lang1, lang2):
        for split in ("train", "valid"):
            for ext in ("bin", "idx"):
                source = bin_dir / lang / f"{split}.{ext}"
                if source.is_file():  # a sharded pair's bin/ has the validation split only
                    link_or_copy(source, para / f"{split}.{lang1}-{lang2}.{lang}.{ext}")


def link_dictionaries(bin_dir: Path, langs: Sequence[str], parallel_subdir: str) -> None:
    """BIN/dict.txt linked as BIN/LANG/dict.txt, and as BIN/PARA/dict.LANG.txt where that
    directory exists: the joint dictionary where fairseq's readers look for it."""
    for lang in langs:
        link_or_copy(bin_dir / "dict.txt", bin_dir / lang / "dict.txt")
        if (bin_dir / parallel_subdir).is_dir():
            link_or_copy(bin_dir / "dict.txt", bin_dir / parallel_subdir / f"dict.{lang}.txt")


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link (same bytes, no extra disk) where possible, else copy."""
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
