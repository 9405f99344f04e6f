"""XLM's objective (Lample & Conneau 2019) on a language pair: MLM on each language's stream
plus TLM on parallel pairs packed to the block length as the ALIGN-MLM authors do (the source
sentences in the first half of the block, their translations in the second:
alignmlm/data/tlm_packing.py), every token carrying its language id and, in TLM samples,
positions that restart at 0 where the second half starts. 15% masking with 80/10/10 over the
whole sample. The model is the `roberta_lang` twin of the asked architecture
(tasks/language_embeddings.py).

Parallel data: DATA/para/{split}.L1-L2.{L1,L2} (what data_prep.prepare_pair writes for a
synthetic pair, and for a natural pair given --parallel). A seeded random --tlm-fraction of its
sentence pairs are packed into TLM samples (its default is the ALIGN-MLM authors' code's).

Languages are in the task's order (`self.langs`: a prepared pair's --lang1 first, whatever the
names' sort order), never in name order: language 1 is id 0 and the first half of every TLM
sample; a para/ binarized the other way round (L2-L1) is read with its sides swapped.
"""

import logging
import os
from dataclasses import dataclass, field

import numpy as np
from fairseq import utils
from fairseq.data import data_utils
from fairseq.tasks import register_task

from ..data.tlm_packing import PackedPairDataset, half_capacities, pack_pairs
from ..errors import InputError
from ..pair import PARALLEL_SUBDIR
from .language_embeddings import LanguageEmbeddingTask
from .multilingual_mlm import MultilingualMLMConfig, MultilingualMLMTask, split_languages

logger = logging.getLogger(__name__)


@dataclass
class XLMConfig(MultilingualMLMConfig):
    tlm_fraction: float = field(
        default=0.25,
        metadata={
            "help": "share of the parallel sentence pairs that also appear in TLM samples "
            "(seeded; several pairs packed per block); 0 turns TLM off (MLM with language "
            "embeddings only)"
        },
    )


@register_task("xlm", dataclass=XLMConfig)
class XLMTask(LanguageEmbeddingTask, MultilingualMLMTask):
    cfg: XLMConfig

    def token_streams(self, split, epoch, combine) -> list[dict]:
        streams = super().token_streams(split, epoch, combine)
        base_split, langs = split_languages(split, self.langs)
        if len(langs) > 1 and self.cfg.tlm_fraction > 0:
            streams.append(self._tlm_pairs(base_split))
        return streams

    def _tlm_pairs(self, split) -> dict:
        """{field: PackedPairDataset} of the packed TLM samples of a seeded selection of pairs."""
        data_path = utils.split_paths(self.cfg.data)[0]
        l1, l2 = self.langs[0], self.langs[1]
        # as prepare-pair names them (L1-L2), else binarized the other way round
        candidates = [
            os.path.join(data_path, PARALLEL_SUBDIR, f"{split}.{a}-{b}") for a, b in ((l1, l2), (l2, l1))
        ]
        prefix = next((c for c in candidates if os.path.exists(f"{c}.{l1}.idx")), candidates[0])
        source = data_utils.load_indexed_dataset(f"{prefix}.{l1}", self.source_dictionary)
        target = data_utils.load_indexed_dataset(f"{prefix}.{l2}", self.source_dictionary)
        if source is None or target is None:
            raise InputError(
                f"TLM needs parallel data {prefix}.{{{l1},{l2}}}.{{bin,idx}}, which the data do not "
                f"have: prepare the natural pair with `alignmlm prepare-pair ... --parallel TEXT.{l1} "
                f"TEXT.{l2}` (sentence-aligned text; a synthetic pair has it always), or train without "
                "TLM: --tlm-fraction 0 (`alignmlm train ... -- task.tlm_fraction=0`)"
            )
        if len(source) != len(target):
            raise InputError(
                f"parallel files differ in line count: {prefix}.{l1} has "
                f"{len(source)} sentences, {prefix}.{l2} has {len(target)}"
            )
        with data_utils.numpy_seed(self.cfg.seed, 7919):
            chosen = np.random.permutation(len(source))[: int(round(self.cfg.tlm_fraction * len(source)))]
        chosen = np.sort(chosen)
        groups, left_out = pack_pairs(source.sizes[chosen], target.sizes[chosen], self.cfg.tokens_per_sample)
        groups = [chosen[g] for g in groups]
        first, second = half_capacities(self.cfg.tokens_per_sample)
        logger.info(
            "TLM %s: %d of %d sentence pairs in %d samples of up to %d tokens "
            "(%d left out: longer than a half, %d + %d tokens)",
            split,
            len(chosen) - len(left_out),
            len(source),
            len(groups),
            self.cfg.tokens_per_sample,
            len(left_out),
            first,
            second,
        )
        return {
            field_name: PackedPairDataset(
                source, target, groups, self.source_dictionary.bos(), langs=(0, 1), field=field_name
            )
            for field_name in PackedPairDataset.FIELDS
        }
