"""Masked LM over the monolingual streams of a language pair (the MLM baseline's task, and the
base of the other objectives' tasks).

Data layout (what `alignmlm prepare-pair` writes): DATA/dict.txt, the joint
dictionary, and DATA/LANG/{train,valid}.{bin,idx} for each language. The streams of all
languages are concatenated; a split named `valid_LANG` loads one language only, so
`--valid-subset valid,valid_en,valid_en_trans_inv` logs the loss per language as well.

When DATA is the bin/ of a prepared pair, every validation also scores the word alignment of the
input embeddings against the pair's bilingual dictionary (alignmlm.alignment_benchmark), whatever
the objective: `align_heldout_p1_nn`, `align_heldout_p1_csls`, `align_train_p1_nn`,
`align_paper_p1_nn`, ... (percent), the same numbers alignmlm evaluate-alignment reports, and
`align_anisotropy` (the mean cosine of random pairs of pieces: near 1 is a collapsed space).
"""

import logging
import os
import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fairseq import metrics, utils
from fairseq.data import (
    ConcatDataset,
    IdDataset,
    MaskTokensDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    RightPadDataset,
    SortDataset,
    data_utils,
)
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask
from omegaconf import II, OmegaConf, open_dict

from ..alignment_benchmark import AlignmentBenchmark, flat_metrics
from ..config_checks import check_task_config
from ..data.token_features import ConstantTokenDataset, PositionDataset
from ..data.unified_output import UnifiedTargetDataset
from ..errors import InputError, describe_os_error
from ..kernels import describe, fused_kernels
from ..models.architectures import language_embedding_arch
from ..pair import PARALLEL_SUBDIR, PreparedPair
from ..save_dir_guard import guard_save_dir, in_fairseq_training

logger = logging.getLogger(__name__)

# P@k figures and the anisotropy of the embeddings; not the criterion's align_loss
ALIGN_METRIC = re.compile(r"^align_(\w+_p\d+_(nn|csls)|anisotropy)$")


@dataclass
class MultilingualMLMConfig(MaskedLMConfig):
    langs: str = field(
        default="",
        metadata={
            "help": "comma-separated languages, each a subdirectory of the data directory "
            "holding binarized splits, in language-id order (the first is id 0, the source of "
            "alignment evaluation and fine-tuning); default: a prepared pair's languages in the "
            "order given to prepare-pair (--lang1 first), else every such subdirectory (but 'para') "
            "sorted by name"
        },
    )
    eval_alignment: bool = field(
        default=True,
        metadata={
            "help": "at every validation, score the input embeddings' word alignment against the "
            "prepared pair's bilingual dictionary (held-out and training source words, NN and "
            "CSLS, P@1 and P@5, the paper's protocol); needs DATA to be a prepared pair's bin/"
        },
    )
    shared_layers_from: int = field(
        default=0,
        metadata={
            "help": "partial sharing (Conneau et al. 2020), for any objective: layers 0 (the input "
            "embeddings, with the tied output table) .. K-1 get one copy per language, each token "
            "routed to its own language's; layers K and above are shared; 0: one shared model. "
            "The model becomes the roberta_lang twin of --arch"
        },
    )
    save_dir: str = II("checkpoint.save_dir")  # for the save directory's guard (save_dir_guard.py)
    unified_output: bool = field(
        default=False,
        metadata={
            "help": "mOthello's unified output space: the MLM target of a masked language-2 piece "
            "is its language-1 original's id (a synthetic pair with trans, where the map is "
            "known); the input is unchanged"
        },
    )


def discover_languages(data_path: str, pair: PreparedPair | None = None) -> list:
    """The languages of `data_path` in language-id order: a prepared pair's own order (--lang1
    is id 0: alignment evaluation takes it as the source, fine-tuning gives `_derived` splits,
    language 2, id 1), else the subdirectories holding binarized data, sorted by name."""
    root = Path(data_path)
    if not root.is_dir():
        raise InputError(
            f"{root}: data directory not found; --data / task.data is the bin/ of a prepared pair"
        )
    langs = sorted(
        d.name for d in root.iterdir() if d.is_dir() and d.name != PARALLEL_SUBDIR and any(d.glob("*.idx"))
    )
    if not langs:
        raise InputError(
            f"{root}: no language subdirectories with binarized data (LANG/train.idx); "
            "prepare the data with `alignmlm prepare-pair`"
        )
    if pair is None:
        return langs
    missing = [lang for lang in pair.languages if lang not in langs]
    if missing:
        raise InputError(
            f"{root}: the prepared pair's language(s) {', '.join(missing)} have no binarized data "
            f"(found: {', '.join(langs)}); prepare the pair again with `alignmlm prepare-pair`"
        )
    return pair.languages


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
        check_task_config(cfg)  # probabilities in [0, 1], no NaN: subclasses' fields included
        super().__init__(cfg, dictionary)
        if cfg.mask_whole_words:
            raise InputError(
                "--mask-whole-words is not supported: it needs fairseq's --bpe "
                "settings; the pieces here come from alignmlm.data_prep's sentencepiece"
            )
        data_path = utils.split_paths(cfg.data)[0]
        self.pair = PreparedPair.of_data(data_path)  # None for a plain fairseq data directory
        self.langs = (
            [lang.strip() for lang in cfg.langs.split(",") if lang.strip()]
            if cfg.langs
            else discover_languages(data_path, self.pair)
        )
        logger.info("languages (in language-id order): %s", ", ".join(self.langs))
        logger.info(describe(fused_kernels()))
        if cfg.unified_output and (self.pair is None or not self.pair.twin_offset):
            raise InputError(
                "--unified-output needs a synthetic pair with a script change (--transform trans...): "
                f"there each language-2 piece is the twin of a language-1 piece; {data_path} "
                + ("is not a prepared pair" if self.pair is None else "has no twins")
            )
        if cfg.shared_layers_from < 0:
            raise InputError(f"--shared-layers-from {cfg.shared_layers_from}: expected >= 0")
        if cfg.shared_layers_from and cfg.unified_output:
            raise InputError(
                "--unified-output and --shared-layers-from > 0 do not combine: with one embedding "
                "table per language there is no single output space to unify"
            )
        self.alignment_benchmark = None
        if cfg.eval_alignment and self.pair is not None:
            self.alignment_benchmark = AlignmentBenchmark(self.pair, self.dictionary)
        self.num_updates = 0
        self._alignment_scores: tuple[int, dict] = (-1, {})

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        try:
            return super().setup_task(cfg, **kwargs)
        except OSError as err:  # a missing or unreadable data file: one line, not a traceback
            raise InputError(describe_os_error(err)) from None

    def build_model(self, cfg, from_checkpoint=False):
        """Under partial sharing, the roberta_lang twin of the asked architecture (the same size),
        with one branch per language of the data. In fairseq's training, first the save
        directory's guard (alignmlm/save_dir_guard.py)."""
        if not from_checkpoint and in_fairseq_training():
            # fairseq loads checkpoint_last.pt next: lock the directory, repair a truncated one
            guard_save_dir(self.cfg.save_dir)
        if self.cfg.shared_layers_from:
            with open_dict(cfg) if OmegaConf.is_config(cfg) else nullcontext():
                use_language_arch(cfg)
                cfg.shared_layers_from = self.cfg.shared_layers_from
                cfg.lang_branches = len(self.langs)
        return super().build_model(cfg, from_checkpoint)

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        self.num_updates = update_num  # for weight schedules and the validation cache
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def begin_valid_epoch(self, epoch, model):
        """Alignment needs only the embeddings: scored once per validation (fairseq calls this
        for every valid subset), then reported with every batch so each subset logs it."""
        super().begin_valid_epoch(epoch, model)
        if self.alignment_benchmark is not None and self._alignment_scores[0] != self.num_updates:
            scores = flat_metrics(self.alignment_benchmark.evaluate(model))
            self._alignment_scores = (self.num_updates, {f"align_{k}": v for k, v in scores.items()})

    def valid_step(self, sample, model, criterion):
        loss, sample_size, logging_output = super().valid_step(sample, model, criterion)
        if self._alignment_scores[1]:
            logging_output.update(self._alignment_scores[1], align_eval_count=1)
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)
        count = sum(log.get("align_eval_count", 0) for log in logging_outputs)
        if count:
            keys = sorted({k for log in logging_outputs for k in log if ALIGN_METRIC.match(k)})
            for key in keys:
                if all(key in log for log in logging_outputs if log.get("align_eval_count")):
                    total = sum(log.get(key, 0) for log in logging_outputs)
                    metrics.log_scalar(key, total / count, count, round=2)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        """fairseq's masked-LM dataset, built from `build_token_dataset` (tokens plus any
        per-token inputs) and passed through `transform_masked` after masking: the two places
        where XLM and DICT-MLM differ from MLM."""
        tokens, extra_inputs = self.build_token_dataset(split, epoch, combine)
        pad = self.source_dictionary.pad()
        src, tgt = MaskTokensDataset.apply_mask(
            tokens,
            self.source_dictionary,
            pad_idx=pad,
            mask_idx=self.mask_idx,
            seed=self.cfg.seed,
            mask_prob=self.cfg.mask_prob,
            leave_unmasked_prob=self.cfg.leave_unmasked_prob,
            random_token_prob=self.cfg.random_token_prob,
            freq_weighted_replacement=self.cfg.freq_weighted_replacement,
            mask_multiple_length=self.cfg.mask_multiple_length,
            mask_stdev=self.cfg.mask_stdev,
            skip_masking=self.cfg.skip_masking,
        )
        src, tgt, extra_inputs = self.transform_masked(src, tgt, extra_inputs)
        if self.cfg.unified_output:
            tgt = UnifiedTargetDataset(tgt, self.source_dictionary.nspecial, self.pair.twin_offset)
        with data_utils.numpy_seed(self.cfg.seed):
            shuffle = np.random.permutation(len(src))
        net_input = {
            "src_tokens": RightPadDataset(src, pad_idx=pad),
            "src_lengths": NumelDataset(src, reduce=False),
        }
        net_input.update({name: RightPadDataset(ds, pad_idx=0) for name, ds in extra_inputs.items()})
        dataset = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": net_input,
                "target": RightPadDataset(tgt, pad_idx=pad),
                "nsentences": NumSamplesDataset(),
                "ntokens": NumelDataset(src, reduce=True),
            },
            sizes=[src.sizes],
        )
        self.datasets[split] = SortDataset(dataset, sort_order=[shuffle, src.sizes])

    def build_token_dataset(self, split, epoch, combine):
        """(token dataset, {net_input name: per-token dataset}); MLM: the blocks of every
        language concatenated, with each token's language id under partial sharing only."""
        if not self.cfg.shared_layers_from:
            return self._load_dataset_split(split, epoch, combine), {}
        streams = self.language_streams(split, epoch, combine)
        tokens, lang_ids = (ConcatDataset([s[f] for s in streams]) for f in ("tokens", "lang_ids"))
        return tokens, {"src_lang_ids": lang_ids}

    def language_streams(self, split, epoch, combine) -> list[dict]:
        """[{'tokens', 'lang_ids', 'positions': dataset}]: each language's MLM blocks (in
        language-id order, as `_load_dataset_split` concatenates them) with the language's id
        and positions counted from 0 at every token."""
        _, langs = split_languages(split, self.langs)
        streams = []
        for lang in langs:
            blocks = self._load_dataset_split(f"{split}_{lang}" if len(langs) > 1 else split, epoch, combine)
            streams.append(
                {
                    "tokens": blocks,
                    "lang_ids": ConstantTokenDataset(blocks, self.langs.index(lang)),
                    "positions": PositionDataset(blocks),
                }
            )
        return streams

    def transform_masked(self, src, tgt, extra_inputs):
        """Hook on the masked (source, target) datasets and the per-token inputs, returning all
        three; MLM leaves them as they are."""
        return src, tgt, extra_inputs

    def _load_dataset_split(self, split, epoch, combine):
        base_split, langs = split_languages(split, self.langs)
        per_lang = []
        for lang in langs:
            # the parent resolves DATA/<lang>/<split> and builds blocks with <s> prepended
            per_lang.append(super()._load_dataset_split(os.path.join(lang, base_split), epoch, combine))
        return per_lang[0] if len(per_lang) == 1 else ConcatDataset(per_lang)


def use_language_arch(cfg) -> None:
    """Make the model config the roberta_lang twin of its architecture (roberta_tiny ->
    roberta_lang_tiny), in place; CFG must be writable."""
    arch = language_embedding_arch(getattr(cfg, "_name", None) or cfg.arch)
    cfg._name = arch
    if getattr(cfg, "arch", None):
        cfg.arch = arch
