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

from fairseq import utils
from fairseq.data import ConcatDataset
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

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
        data_path = utils.split_paths(cfg.data)[0]
        self.langs = ([lang.strip() for lang in cfg.langs.split(",") if lang.strip()]
                      if cfg.langs else discover_languages(data_path))
        logger.info("languages: %s", ", ".join(self.langs))

    def _load_dataset_split(self, split, epoch, combine):
        base_split, langs = split_languages(split, self.langs)
        per_lang = []
        for lang in langs:
            # the parent resolves DATA/<lang>/<split> and builds blocks with <s> prepended
            per_lang.append(super()._load_dataset_split(os.path.join(lang, base_split), epoch,
                                                        combine))
        return per_lang[0] if len(per_lang) == 1 else ConcatDataset(per_lang)
