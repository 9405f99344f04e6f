"""Masked LM over the monolingual streams of a language pair (the MLM baseline's task, and the
base of the other objectives' tasks).

Data layout (what `python -m data_prep.prepare_pair` writes): DATA/dict.txt, the joint
dictionary, and DATA/LANG/{train,valid}.{bin,idx} for each language. The streams of all
languages are concatenated; a split named `valid_LANG` loads one language only, so
`--valid-subset valid,valid_en,valid_en_trans_inv` logs the loss per language as well.
"""

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fairseq import utils
from fairseq.data import (ConcatDataset, IdDataset, MaskTokensDataset, NestedDictionaryDataset,
                          NumelDataset, NumSamplesDataset, RightPadDataset, SortDataset,
                          data_utils)
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

from ..kernels import describe, fused_kernels

logger = logging.getLogger(__name__)

PARALLEL_SUBDIR = "para"


@dataclass
class MultilingualMLMConfig(MaskedLMConfig):
    langs: str = field(
        default="",
        metadata={"help": "comma-separated languages, each a subdirectory of the data directory "
                  "holding binarized splits; default: every such subdirectory (but 'para')"},
    )


def discover_languages(data_path: str) -> list:
    """Subdirectories of `data_path` that hold binarized data, sorted by name."""
    root = Path(data_path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: data directory not found")
    langs = sorted(d.name for d in root.iterdir()
                   if d.is_dir() and d.name != PARALLEL_SUBDIR and any(d.glob("*.idx")))
    if not langs:
        raise FileNotFoundError(
            f"{root}: no language subdirectories with binarized data (LANG/train.idx); "
            "prepare the data with `python -m data_prep.prepare_pair`")
    return langs


def split_languages(split: str, langs: list[str]) -> tuple[str, list[str]]:
    """'valid' -> ('valid', all languages); 'valid_en' -> ('valid', ['en'])."""
    for lang in sorted(langs, key=len, reverse=True):
        if split.endswith("_" + lang) and len(split) > len(lang) + 1:
            return split[: -len(lang) - 1], [lang]
    return split, list(langs)


@register_task("multilingual_mlm", dataclass=MultilingualMLMConfig)
class MultilingualMLMTask(MaskedLMTask):
    """fairseq's masked LM (15% masking, 80/10/10) over every language of the pair."""

    cfg: MultilingualMLMConfig

    def __init__(self, cfg: MultilingualMLMConfig, dictionary=None):
        super().__init__(cfg, dictionary)
        if cfg.mask_whole_words:
            raise ValueError("--mask-whole-words is not supported: it needs fairseq's --bpe "
                             "settings; the pieces here come from data_prep's sentencepiece")
        data_path = utils.split_paths(cfg.data)[0]
        self.langs = ([lang.strip() for lang in cfg.langs.split(",") if lang.strip()]
                      if cfg.langs else discover_languages(data_path))
        logger.info("languages: %s", ", ".join(self.langs))
        logger.info(describe(fused_kernels()))

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        """fairseq's masked-LM dataset, built from `build_token_dataset` (tokens plus any
        per-token inputs) and passed through `transform_masked` after masking: the two places
        where XLM and DICT-MLM differ from MLM."""
        tokens, extra_inputs = self.build_token_dataset(split, epoch, combine)
        pad = self.source_dictionary.pad()
        src, tgt = MaskTokensDataset.apply_mask(
            tokens, self.source_dictionary, pad_idx=pad, mask_idx=self.mask_idx,
            seed=self.cfg.seed, mask_prob=self.cfg.mask_prob,
            leave_unmasked_prob=self.cfg.leave_unmasked_prob,
            random_token_prob=self.cfg.random_token_prob,
            freq_weighted_replacement=self.cfg.freq_weighted_replacement,
            mask_multiple_length=self.cfg.mask_multiple_length, mask_stdev=self.cfg.mask_stdev,
            skip_masking=self.cfg.skip_masking)
        src, tgt = self.transform_masked(src, tgt)
        with data_utils.numpy_seed(self.cfg.seed):
            shuffle = np.random.permutation(len(src))
        net_input = {"src_tokens": RightPadDataset(src, pad_idx=pad),
                     "src_lengths": NumelDataset(src, reduce=False)}
        net_input.update({name: RightPadDataset(ds, pad_idx=0) for name, ds in extra_inputs.items()})
        dataset = NestedDictionaryDataset(
            {"id": IdDataset(), "net_input": net_input, "target": RightPadDataset(tgt, pad_idx=pad),
             "nsentences": NumSamplesDataset(), "ntokens": NumelDataset(src, reduce=True)},
            sizes=[src.sizes])
        self.datasets[split] = SortDataset(dataset, sort_order=[shuffle, src.sizes])

    def build_token_dataset(self, split, epoch, combine):
        """(token dataset, {net_input name: per-token dataset}); MLM: the blocks of every
        language concatenated, no extra inputs."""
        return self._load_dataset_split(split, epoch, combine), {}

    def transform_masked(self, src, tgt):
        """Hook on the masked (source, target) datasets; MLM leaves them as they are."""
        return src, tgt

    def _load_dataset_split(self, split, epoch, combine):
        base_split, langs = split_languages(split, self.langs)
        per_lang = []
        for lang in langs:
            # the parent resolves DATA/<lang>/<split> and builds blocks with <s> prepended
            per_lang.append(super()._load_dataset_split(os.path.join(lang, base_split), epoch,
                                                        combine))
        return per_lang[0] if len(per_lang) == 1 else ConcatDataset(per_lang)
