"""XLM's objective (Lample & Conneau 2019) on a language pair: MLM on each language's stream
plus TLM on concatenated parallel pairs `<s> original </s> derived </s>`, every token carrying
its language id and, in TLM samples, positions that restart at 0 for the second sentence.
15% masking with 80/10/10 over the whole sample. The model is the `roberta_lang` twin of the
asked architecture (same size, plus language embeddings; --num-langs defaults to the number of
languages).

Parallel data: DATA/para/{split}.L1-L2.{L1,L2} (what data_prep.prepare_pair writes for a
synthetic pair). A seeded random --tlm-fraction of its sentence pairs become TLM samples
(its default is the ALIGN-MLM authors' code's).
"""

import logging
import os
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
from fairseq import utils
from fairseq.data import ConcatDataset, data_utils
from fairseq.tasks import register_task
from omegaconf import OmegaConf, open_dict

from ..data.token_features import ConstantTokenDataset, ParallelPairDataset, PositionDataset
from ..errors import InputError
from ..models.architectures import language_embedding_arch
from ..pair import PARALLEL_SUBDIR
from .multilingual_mlm import MultilingualMLMConfig, MultilingualMLMTask, split_languages

logger = logging.getLogger(__name__)


@dataclass
class XLMConfig(MultilingualMLMConfig):
    tlm_fraction: float = field(
        default=0.25,
        metadata={
            "help": "share of the parallel sentence pairs that also appear as TLM samples "
            "(seeded); 0 turns TLM off (MLM with language embeddings only)"
        },
    )


@register_task("xlm", dataclass=XLMConfig)
class XLMTask(MultilingualMLMTask):
    cfg: XLMConfig

    def build_model(self, cfg, from_checkpoint=False):
        """The language-embedding twin of the asked architecture, of the same size, so that every
        objective is configured with the same `model._name` (roberta_tiny -> roberta_lang_tiny)."""
        num_langs = getattr(cfg, "num_langs", None) or 0
        if 0 < num_langs < len(self.langs):
            raise InputError(
                f"--num-langs {num_langs} is smaller than the {len(self.langs)} "
                f"languages of the data ({', '.join(self.langs)})"
            )
        with open_dict(cfg) if OmegaConf.is_config(cfg) else nullcontext():
            arch = language_embedding_arch(getattr(cfg, "_name", None) or cfg.arch)
            cfg._name = arch
            if getattr(cfg, "arch", None):
                cfg.arch = arch
            if num_langs == 0:  # default: one language embedding per language of the data
                cfg.num_langs = len(self.langs)
        return super().build_model(cfg, from_checkpoint)

    def build_token_dataset(self, split, epoch, combine):
        base_split, langs = split_languages(split, self.langs)
        tokens, lang_ids, positions = [], [], []
        for lang in langs:  # MLM streams
            blocks = self._load_dataset_split(f"{split}_{lang}" if len(langs) > 1 else split, epoch, combine)
            tokens.append(blocks)
            lang_ids.append(ConstantTokenDataset(blocks, self.langs.index(lang)))
            positions.append(PositionDataset(blocks))
        if len(langs) > 1 and self.cfg.tlm_fraction > 0:
            pairs = self._tlm_pairs(base_split)
            for field_name, out in (("tokens", tokens), ("lang_ids", lang_ids), ("positions", positions)):
                out.append(pairs[field_name])
        extra = {"src_lang_ids": ConcatDataset(lang_ids), "src_positions": ConcatDataset(positions)}
        return ConcatDataset(tokens), extra

    def _tlm_pairs(self, split) -> dict:
        """{field: ParallelPairDataset} over the same seeded selection of sentence pairs."""
        data_path = utils.split_paths(self.cfg.data)[0]
        l1, l2 = self.langs[0], self.langs[1]
        prefix = os.path.join(data_path, PARALLEL_SUBDIR, f"{split}.{l1}-{l2}")
        if not os.path.exists(f"{prefix}.{l1}.idx"):  # binarized the other way round
            prefix = os.path.join(data_path, PARALLEL_SUBDIR, f"{split}.{l2}-{l1}")
        source = data_utils.load_indexed_dataset(f"{prefix}.{l1}", self.source_dictionary)
        target = data_utils.load_indexed_dataset(f"{prefix}.{l2}", self.source_dictionary)
        if source is None or target is None:
            raise InputError(
                f"TLM needs parallel data {prefix}.{{{l1},{l2}}}.bin; "
                "prepare a synthetic pair, or pass --tlm-fraction 0"
            )
        if len(source) != len(target):
            raise InputError(
                f"parallel files differ in line count: {prefix}.{l1} has "
                f"{len(source)} sentences, {prefix}.{l2} has {len(target)}"
            )
        with data_utils.numpy_seed(self.cfg.seed, 7919):
            chosen = np.random.permutation(len(source))[: int(round(self.cfg.tlm_fraction * len(source)))]
        fits = source.sizes[chosen] + target.sizes[chosen] + 1 <= self.cfg.tokens_per_sample
        logger.info(
            "TLM %s: %d of %d sentence pairs (%d longer than %d tokens left out)",
            split,
            fits.sum(),
            len(source),
            (~fits).sum(),
            self.cfg.tokens_per_sample,
        )
        return {
            field_name: ParallelPairDataset(
                source,
                target,
                np.sort(chosen[fits]),
                self.source_dictionary.bos(),
                langs=(0, 1),
                field=field_name,
            )
            for field_name in ParallelPairDataset.FIELDS
        }
