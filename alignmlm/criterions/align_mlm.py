"""ALIGN-MLM's loss: masked LM plus λ · L_align on the input embeddings (docs/design.md §2).

fairseq sums a criterion's loss over the batch and divides gradients by the sample size (masked
tokens) summed over all workers and accumulated batches. The alignment term is a *mean* over
dictionary pairs, so it enters as λ · L_align · sample_size: its weight is then the same for
any batch size, world size or --update-freq. It is computed in fp32 whatever the model's
precision.
"""

import math
from dataclasses import dataclass, field

import torch
from fairseq import metrics, utils
from fairseq.criterions import register_criterion
from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss
from fairseq.dataclass import ChoiceEnum
from omegaconf import II

from ..alignment import bag_means, pair_loss
from ..config_checks import align_weight_schedule, check_finite
from ..errors import InputError
from ..models.embeddings import input_embedding_matrix
from ..tasks.bilingual_dictionary import AlignMLMTask


@dataclass
class AlignMLMCriterionConfig(MaskedLmConfig):
    align_weight: str = field(
        default="10",
        metadata={
            "help": "λ, the alignment loss weight (default: the paper's): a number or a "
            "piecewise-linear schedule UPDATE:VALUE,... e.g. 0:0,2000:10"
        },
    )
    align_loss: ChoiceEnum(["cosine", "l2", "contrastive"]) = field(
        default="cosine",
        metadata={
            "help": "cosine: minus the mean cosine of pairs (the paper); l2: the mean L2 distance "
            "(the authors' early version); contrastive: symmetric InfoNCE, each pair's source "
            "picking its translation among the step's pairs (in-batch negatives, "
            "--align-temperature); keeps the space from collapsing on natural dictionaries"
        },
    )
    align_temperature: float = field(
        default=0.1,
        metadata={"help": "temperature of --align-loss contrastive (cosines are divided by it)"},
    )
    align_pairs_per_step: int = field(
        default=0,
        metadata={"help": "pairs sampled per update (same on every worker); 0: all pairs, as the paper"},
    )
    seed: int = II("common.seed")


@register_criterion("align_mlm", dataclass=AlignMLMCriterionConfig)
class AlignMLMLoss(MaskedLmLoss):
    def __init__(self, cfg: AlignMLMCriterionConfig, task):
        check_finite(cfg, "criterion")
        self.weight = align_weight_schedule(cfg.align_weight)  # finite and >= 0
        super().__init__(cfg, task)
        if not isinstance(task, AlignMLMTask):
            raise InputError(
                f"--criterion align_mlm needs --task align_mlm (got "
                f"{type(task).__name__}): the alignment loss is ALIGN-MLM's only"
            )
        self.kind = str(cfg.align_loss)
        if not cfg.align_temperature > 0:
            raise InputError(f"--align-temperature must be > 0, got {cfg.align_temperature}")
        self.temperature = cfg.align_temperature
        self.pairs_per_step = cfg.align_pairs_per_step
        self.seed = cfg.seed
        self._pairs_by_device: dict = {}

    def _pairs(self, device, update: int, training: bool):
        pairs = self._pairs_by_device.get(device)
        if pairs is None:
            pairs = self._pairs_by_device[device] = self.task.dictionary_pairs.to(device)
        if training and 0 < self.pairs_per_step < len(pairs):
            # seeded by the update, so every worker draws the same pairs
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + update)
            index = torch.randperm(len(pairs), generator=generator)[: self.pairs_per_step]
            pairs = pairs.subset(index.to(device))
        return pairs

    def alignment_term(self, model, update: int) -> torch.Tensor:
        # language 1's and language 2's tables: one shared table unless --shared-layers-from
        source_table, target_table = input_embedding_matrix(model, 0), input_embedding_matrix(model, 1)
        pairs = self._pairs(source_table.device, update, model.training)
        return pair_loss(
            bag_means(source_table, pairs.source),
            bag_means(target_table, pairs.target),
            self.kind,
            self.temperature,
            pairs.source_word,
            pairs.target_word,
        )

    def forward(self, model, sample, reduce=True):
        mlm_loss, sample_size, logging_output = super().forward(model, sample, reduce)
        update = self.task.num_updates
        weight = self.weight(update)
        align = self.alignment_term(model, update)
        loss = mlm_loss + weight * align * sample_size
        logging_output.update(
            {
                "loss": loss.data,
                "mlm_loss": mlm_loss.data,
                "align_loss": align.data * sample_size,  # summed; reduce divides by sample size
                "align_weight": weight * sample_size,
            }
        )
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        """loss: the whole objective per masked token (base 2); mlm_loss: the MLM term alone,
        comparable across objectives (base 2), with ppl its perplexity; align_loss: L_align
        itself (cosine: minus the mean cosine; contrastive: its cross-entropy in nats); align_weight:
        λ in force."""
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        if not sample_size:
            return
        total = {
            k: sum(log.get(k, 0) for log in logging_outputs)
            for k in ("loss", "mlm_loss", "align_loss", "align_weight")
        }
        metrics.log_scalar("loss", total["loss"] / sample_size / math.log(2), sample_size, round=3)
        metrics.log_scalar("mlm_loss", total["mlm_loss"] / sample_size / math.log(2), sample_size, round=3)
        metrics.log_derived("ppl", lambda meters: utils.get_perplexity(meters["mlm_loss"].avg))
        metrics.log_scalar("align_loss", total["align_loss"] / sample_size, sample_size, round=4)
        metrics.log_scalar("align_weight", total["align_weight"] / sample_size, sample_size, round=3)
