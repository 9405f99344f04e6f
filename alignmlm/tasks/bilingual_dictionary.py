"""The multilingual MLM task plus the pair's bilingual dictionary: the base of the objectives that
train on the dictionary. ALIGN-MLM (`align_mlm`) pulls its pairs' input embeddings together
(criterion `align_mlm`); DICT-MLM (`dict_mlm`, tasks/dict_mlm.py) substitutes translations into
the masked input. Validation scores alignment as for every pretraining task (multilingual_mlm).
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from ..data.alignment_pairs import build_pair_bags, word_tokenizer
from ..data.bilingual_dictionary import read_word_pairs
from ..errors import InputError
from .multilingual_mlm import MultilingualMLMConfig, MultilingualMLMTask

logger = logging.getLogger(__name__)


@dataclass
class BilingualDictionaryConfig(MultilingualMLMConfig):
    bilingual_dict: str = field(
        default="",
        metadata={
            "help": "bilingual dictionary the objective trains on, `word translation` per line; "
            "default: dict/train.txt of the prepared pair whose bin/ is DATA"
        },
    )
    align_dict: str = field(default="", metadata={"help": "old name of --bilingual-dict"})
    dict_units: ChoiceEnum(["auto", "pieces", "words"]) = field(
        default="auto",
        metadata={
            "help": "what the dictionary lists: 'pieces' (dictionary tokens, e.g. the synthetic "
            "ground truth), 'words' (encoded with --spm-model); auto: as the prepared pair says"
        },
    )
    multi_piece: ChoiceEnum(["mean", "skip"]) = field(
        default="mean",
        metadata={"help": "a word of several pieces is the mean of their embeddings, or is skipped"},
    )
    spm_model: str = field(
        default="",
        metadata={"help": "sentencepiece model for --dict-units words; default: the pair's spm.model"},
    )


class BilingualDictionaryTask(MultilingualMLMTask):
    """`self.dictionary_pairs`: the training pairs as bags of dictionary ids (PairBags)."""

    cfg: BilingualDictionaryConfig

    def __init__(self, cfg: BilingualDictionaryConfig, dictionary=None):
        super().__init__(cfg, dictionary)
        path = self._dictionary_path(cfg)
        self.dictionary_pairs = build_pair_bags(
            read_word_pairs(path),
            self._tokenizer(cfg),
            self.dictionary.unk(),
            str(cfg.multi_piece),
            name=str(path),
        )

    def _dictionary_path(self, cfg) -> Path:
        if cfg.bilingual_dict and cfg.align_dict and cfg.bilingual_dict != cfg.align_dict:
            raise InputError(
                f"--bilingual-dict {cfg.bilingual_dict} and its old name "
                f"--align-dict {cfg.align_dict} disagree; give one"
            )
        given = cfg.bilingual_dict or cfg.align_dict
        if given:
            path = Path(given)
        elif self.pair is not None:
            path = self.pair.bilingual_dictionary("train")
        else:
            raise InputError("--bilingual-dict is required: DATA is not the bin/ of a prepared pair")
        if not path.is_file():  # InputError: one line at the top of fairseq-train
            where = "--bilingual-dict" if given else f"the prepared pair {self.pair.root}"
            raise InputError(
                f"{path}: bilingual dictionary not found ({where}); prepare the pair again "
                "or pass --bilingual-dict (task.bilingual_dict)"
            )
        return path

    def _tokenizer(self, cfg):
        units = str(cfg.dict_units)
        if units == "auto":
            units = self.pair.dictionary_units if self.pair else "pieces"
        spm_model = Path(cfg.spm_model) if cfg.spm_model else (self.pair.spm_model if self.pair else None)
        return word_tokenizer(self.dictionary, units, spm_model)


@register_task("align_mlm", dataclass=BilingualDictionaryConfig)
class AlignMLMTask(BilingualDictionaryTask):
    """ALIGN-MLM's task: the dictionary pairs for the `align_mlm` criterion's alignment loss."""
