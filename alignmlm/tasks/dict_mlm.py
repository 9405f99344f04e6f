"""DICT-MLM: masked LM where masked tokens interact with a bilingual dictionary (docs/design.md §3).

--dict-mlm-mode input  (default; the ALIGN-MLM authors' DICT-MLM-50): with probability
    --dict-mlm-prob a masked token that has a dictionary entry is shown as its translation,
    and the model must still predict the original token;
--dict-mlm-mode target (Chaudhary et al. 2020): with that probability the model must predict
    a translation of the masked token instead of the token.
The dictionary is the bilingual-dictionary task's (--bilingual-dict, as ALIGN-MLM), read
in both directions; only single-piece pairs can substitute tokens. Draws are deterministic per
(seed, epoch, sample), so a resumed run sees the same data.
"""

import logging
from dataclasses import dataclass, field

from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from ..data.dict_substitution import DictSubstitutionDataset, translation_table
from ..errors import InputError
from .bilingual_dictionary import BilingualDictionaryConfig, BilingualDictionaryTask

logger = logging.getLogger(__name__)


@dataclass
class DictMLMConfig(BilingualDictionaryConfig):
    dict_mlm_mode: ChoiceEnum(["input", "target"]) = field(
        default="input",
        metadata={
            "help": "input: show a masked token's translation, predict the token (DICT-MLM-50 of "
            "the ALIGN-MLM authors); target: predict the translation (Chaudhary et al.)"
        },
    )
    dict_mlm_prob: float = field(
        default=0.5,
        metadata={"help": "probability that a masked token with a dictionary entry is substituted"},
    )


@register_task("dict_mlm", dataclass=DictMLMConfig)
class DictMLMTask(BilingualDictionaryTask):
    """Train it with --criterion masked_lm: no alignment loss."""

    cfg: DictMLMConfig

    def __init__(self, cfg: DictMLMConfig, dictionary=None):
        super().__init__(cfg, dictionary)
        pairs = self.dictionary_pairs.single_piece_pairs()
        if len(pairs) == 0:
            raise InputError(
                "dict_mlm: the dictionary has no pair of single pieces to substitute; check --bilingual-dict"
            )
        self.table, self.counts = translation_table(pairs, len(self.dictionary))
        logger.info(
            "dict_mlm: mode %s, p=%.2f, %d tokens have a translation",
            cfg.dict_mlm_mode,
            cfg.dict_mlm_prob,
            (self.counts > 0).sum(),
        )

    def transform_masked(self, src, tgt):
        common = dict(
            table=self.table,
            counts=self.counts,
            mode=str(self.cfg.dict_mlm_mode),
            prob=self.cfg.dict_mlm_prob,
            pad=self.source_dictionary.pad(),
            seed=self.cfg.seed,
        )
        return (
            DictSubstitutionDataset(src, tgt, field="source", **common),
            DictSubstitutionDataset(src, tgt, field="target", **common),
        )
