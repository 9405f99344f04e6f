"""ALIGN-MLM's task: the multilingual MLM task plus the bilingual dictionary of the pair.

The dictionary's training pairs feed the alignment loss (criterion `align_mlm`); at every
validation the task reports alignment P@1 (percent) of the input embeddings on the training
pairs (`align_p1_train`) and on held-out pairs never seen by the loss (`align_p1_heldout`).
"""
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from fairseq import metrics, utils
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from ..alignment import precision_at_1
from ..data.alignment_pairs import build_pair_bags, word_tokenizer
from ..data.bilingual_dictionary import read_word_pairs
from ..models.embeddings import input_embedding_matrix
from .multilingual_mlm import MultilingualMLMConfig, MultilingualMLMTask

logger = logging.getLogger(__name__)
PAIR_MANIFEST = "pair.json"


@dataclass
class AlignMLMConfig(MultilingualMLMConfig):
    align_dict: str = field(default="", metadata={
        "help": "bilingual dictionary the alignment loss trains on, `word translation` per "
        "line; default: dict/train.txt of the prepared pair whose bin/ is DATA"})
    align_heldout_dict: str = field(default="", metadata={
        "help": "pairs the loss never sees, for held-out P@1 at validation; default: "
        "dict/heldout.txt of the prepared pair if present; 'none' to skip"})
    align_dict_units: ChoiceEnum(["auto", "pieces", "words"]) = field(default="auto", metadata={
        "help": "what the dictionary lists: 'pieces' (dictionary tokens, e.g. the synthetic "
        "ground truth), 'words' (encoded with --spm-model); auto: as pair.json says"})
    align_multi_piece: ChoiceEnum(["mean", "skip"]) = field(default="mean", metadata={
        "help": "a word of several pieces is the mean of their embeddings, or is skipped"})
    spm_model: str = field(default="", metadata={
        "help": "sentencepiece model for --align-dict-units words; default: the pair's spm.model"})


def prepared_pair(data_path: str):
    """(directory, manifest) of the prepared pair whose bin/ is `data_path`, else (None, {})."""
    root = Path(data_path).resolve().parent
    manifest = root / PAIR_MANIFEST
    return (root, json.loads(manifest.read_text())) if manifest.is_file() else (None, {})


@register_task("align_mlm", dataclass=AlignMLMConfig)
class AlignMLMTask(MultilingualMLMTask):
    cfg: AlignMLMConfig

    def __init__(self, cfg: AlignMLMConfig, dictionary=None):
        super().__init__(cfg, dictionary)
        pair_dir, manifest = prepared_pair(utils.split_paths(cfg.data)[0])
        token_ids = self._tokenizer(cfg, pair_dir, manifest)
        train_path = self._dict_path(cfg.align_dict, pair_dir, "train.txt", "--align-dict")
        self.align_pairs = build_pair_bags(
            read_word_pairs(train_path), token_ids, self.dictionary.unk(),
            str(cfg.align_multi_piece), name=str(train_path))
        heldout_path = (None if cfg.align_heldout_dict == "none" else self._dict_path(
            cfg.align_heldout_dict, pair_dir, "heldout.txt", None))
        self.heldout_pairs = None if heldout_path is None else build_pair_bags(
            read_word_pairs(heldout_path), token_ids, self.dictionary.unk(),
            str(cfg.align_multi_piece), name=str(heldout_path))
        self.num_updates = 0
        self._eval_metrics: dict = {}

    @staticmethod
    def _dict_path(given: str, pair_dir, default_name: str, flag):
        if given:
            return Path(given)
        if pair_dir is not None and (pair_dir / "dict" / default_name).is_file():
            return pair_dir / "dict" / default_name
        if flag is None:
            return None
        raise ValueError(f"{flag} is required: DATA is not the bin/ of a prepared pair with "
                         f"dict/{default_name}")

    def _tokenizer(self, cfg, pair_dir, manifest):
        units = str(cfg.align_dict_units)
        if units == "auto":
            units = manifest.get("dictionary_units", "pieces")
        spm_model = Path(cfg.spm_model) if cfg.spm_model else (
            pair_dir / manifest.get("spm_model", "spm.model") if pair_dir else None)
        return word_tokenizer(self.dictionary, units, spm_model)

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        self.num_updates = update_num  # the criterion's weight schedule reads it
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def begin_valid_epoch(self, epoch, model):
        """P@1 needs only the embeddings: computed once per validation, then reported with
        every validation batch (so each valid subset logs it)."""
        super().begin_valid_epoch(epoch, model)
        embeddings = input_embedding_matrix(model).detach()
        self._eval_metrics = {}
        for name, bags in (("train", self.align_pairs), ("heldout", self.heldout_pairs)):
            if bags is not None and len(bags.single_piece_pairs()):
                self._eval_metrics[f"align_p1_{name}"] = 100.0 * precision_at_1(
                    embeddings, bags.single_piece_pairs())

    def valid_step(self, sample, model, criterion):
        loss, sample_size, logging_output = super().valid_step(sample, model, criterion)
        if self._eval_metrics:
            logging_output.update(self._eval_metrics, align_eval_count=1)
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)
        count = sum(log.get("align_eval_count", 0) for log in logging_outputs)
        if count:
            for key in ("align_p1_train", "align_p1_heldout"):
                if any(key in log for log in logging_outputs):
                    total = sum(log.get(key, 0) for log in logging_outputs)
                    metrics.log_scalar(key, total / count, count, round=2)
