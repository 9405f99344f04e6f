"""Training the sentencepiece model of a language pair."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import sentencepiece as spm

from ..errors import InputError

# sentencepiece's vocabulary depends on how many threads train it (1 and 2 give other pieces), so
# the count is fixed: --workers changes how fast a pair is prepared, never the pair
THREADS = 2


def train_sentencepiece(
    sentences: Sequence[str],
    model_prefix: Path,
    vocab_size: int,
    corpus_name: str,
    seed: int = 1,
    max_sentences: int = 500_000,
) -> spm.SentencePieceProcessor:
    """A unigram model with <unk> at id 0 and no bos/eos/pad (fairseq adds its own specials).

    SENTENCES may be any iterable (a stream): sentencepiece keeps a seeded sample of at most
    MAX_SENTENCES of them (~2 KB of memory each while it trains: 500k keep it near 1 GB).

    Raises ValueError naming the corpus when it cannot support `vocab_size` pieces.
    """
    model_prefix = Path(model_prefix)
    spm.set_random_generator_seed(seed)  # input sampling is the only random part
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_prefix=str(model_prefix),
            vocab_size=vocab_size,
            model_type="unigram",
            character_coverage=0.9999,
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            hard_vocab_limit=True,
            input_sentence_size=max_sentences,
            shuffle_input_sentence=True,
            num_threads=THREADS,
            minloglevel=2,
        )
    except RuntimeError as err:
        if "Vocabulary size" not in str(err):
            raise
        limit = re.search(r"value <= (\d+)", str(err))
        hint = f"; this corpus supports at most {limit.group(1)}" if limit else ""
        raise InputError(
            f"{corpus_name}: cannot train a sentencepiece vocabulary of {vocab_size} pieces "
            f"({err}){hint}. Lower --vocab-size or use a larger corpus."
        ) from None
    return spm.SentencePieceProcessor(model_file=f"{model_prefix}.model")


def vocabulary(sp: spm.SentencePieceProcessor) -> list[str]:
    """The pieces by id (id 0 is <unk>)."""
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
