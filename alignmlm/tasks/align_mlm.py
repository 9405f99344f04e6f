"""ALIGN-MLM's task: the multilingual MLM task plus the bilingual dictionary of the pair.

The dictionary's training pairs feed the alignment loss (criterion `align_mlm`); validation
scores alignment like every pretraining task (multilingual_mlm).
"""
import logging
from dataclasses import dataclass, field
from pathlib import Path

from fairseq import utils
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from ..data.alignment_pairs import build_pair_bags, word_tokenizer
from ..data.bilingual_dictionary import read_word_pairs
from .multilingual_mlm import MultilingualMLMConfig, MultilingualMLMTask, prepared_pair

logger = logging.getLogger(__name__)


@dataclass
class AlignMLMConfig(MultilingualMLMConfig):
    align_dict: str = field(default="", metadata={
        "help": "bilingual dictionary the alignment loss trains on, `word translation` per "
        "line; default: dict/train.txt of the prepared pair whose bin/ is DATA"})
    align_dict_units: ChoiceEnum(["auto", "pieces", "words"]) = field(default="auto", metadata={
        "help": "what the dictionary lists: 'pieces' (dictionary tokens, e.g. the synthetic "
        "ground truth), 'words' (encoded with --spm-model); auto: as pair.json says"})
    align_multi_piece: ChoiceEnum(["mean", "skip"]) = field(default="mean", metadata={
        "help": "a word of several pieces is the mean of their embeddings, or is skipped"})
    spm_model: str = field(default="", metadata={
        "help": "sentencepiece model for --align-dict-units words; default: the pair's spm.model"})


@register_task("align_mlm", dataclass=AlignMLMConfig)
class AlignMLMTask(MultilingualMLMTask):
    cfg: AlignMLMConfig

    def __init__(self, cfg: AlignMLMConfig, dictionary=None):
        super().__init__(cfg, dictionary)
        pair_dir, manifest = prepared_pair(utils.split_paths(cfg.data)[0])
        token_ids = self._tokenizer(cfg, pair_dir, manifest)
        train_path = self._dict_path(cfg.align_dict, pair_dir)
        self.align_pairs = build_pair_bags(
            read_word_pairs(train_path), token_ids, self.dictionary.unk(),
            str(cfg.align_multi_piece), name=str(train_path))

    @staticmethod
    def _dict_path(given: str, pair_dir):
        if given:
            return Path(given)
        if pair_dir is not None and (pair_dir / "dict" / "train.txt").is_file():
            return pair_dir / "dict" / "train.txt"
        raise ValueError("--align-dict is required: DATA is not the bin/ of a prepared pair "
                         "with dict/train.txt")

    def _tokenizer(self, cfg, pair_dir, manifest):
        units = str(cfg.align_dict_units)
        if units == "auto":
            units = manifest.get("dictionary_units", "pieces")
        spm_model = Path(cfg.spm_model) if cfg.spm_model else (
            pair_dir / manifest.get("spm_model", "spm.model") if pair_dir else None)
        return word_tokenizer(self.dictionary, units, spm_model)
