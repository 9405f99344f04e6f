"""ALIGN-MLM's loss: masked LM plus λ · L_align on the input embeddings (docs/design.md §2).

fairseq sums a criterion's loss over the batch and divides gradients by the sample size (masked
tokens) summed over all workers and accumulated batches. The alignment term is a *mean* over
dictionary pairs, so it enters as λ · L_align · sample_size: its weight is then the same for
any batch size, world size or --update-freq. It is computed in fp32 whatever the model's
precision.

L_align depends on the embeddings only, and they do not change between the batches accumulated
into one update (--update-freq). So with --update-freq > 1 it is computed once per update, at
the update's first batch, with its gradient; every batch of the update then adds that gradient
times its own sample size (`ReplayedGradient`), which is exactly what computing it at every batch
would give (benchmarks/bench_update_freq.py: at the paper's scale on CPU, 0.46x the term's cost
per update at --update-freq 4, 0.36x at 8; at 1 replaying would cost 1.2x, so it is not done).
"""

import math
from dataclasses import dataclass, field
from typing import Any

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
    update_freq: Any = II("optimization.update_freq")


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
        # batches accumulated per update (one figure per epoch): with more than one, the term is
        # computed once per update and replayed; with one, replaying would only add a pass
        self.replay = max(int(f) for f in cfg.update_freq) > 1
        self._pairs_by_device: dict = {}
        # (update, model, L_align, its gradient per table): the term of the update in progress
        self._update_term = None
        self.term_computations = 0  # how often L_align was computed (tests: once per update)

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

    @staticmethod
    def embedding_tables(model) -> list:
        """The token tables L_align reads: the shared one, or language 1's and language 2's under
        partial sharing (--shared-layers-from)."""
        source, target = input_embedding_matrix(model, 0), input_embedding_matrix(model, 1)
        return [source] if target is source else [source, target]

    def alignment_term(self, model, update: int, tables: list | None = None) -> torch.Tensor:
        """L_align of the model's tables, or of TABLES (the same tables, e.g. as fp32 leaves)."""
        self.term_computations += 1
        tables = tables if tables is not None else self.embedding_tables(model)
        source_table, target_table = tables[0], tables[-1]
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
        if self.replay and model.training and torch.is_grad_enabled():
            align, replayed = self._term_of_update(model, update)
            loss = mlm_loss + weight * sample_size * replayed
        else:
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

    def _term_of_update(self, model, update: int) -> tuple:
        """(L_align, a scalar equal to it whose backward adds its gradient): L_align and its fp32
        gradient are computed at the update's first batch only."""
        tables = self.embedding_tables(model)
        cached = self._update_term
        if cached is None or cached[0] != update or cached[1] is not model:
            # fp32 leaves: the gradient is kept unscaled in fp32 and scaled (by the batch's sample
            # size and fp16's loss scale) before it meets a half-precision table
            leaves = [t.detach().float().requires_grad_() for t in tables]
            with torch.enable_grad():
                align = self.alignment_term(model, update, leaves)
                grads = torch.autograd.grad(align, leaves, allow_unused=True)
            grads = [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]
            cached = self._update_term = (update, model, align.detach(), grads)
        align, grads = cached[2], cached[3]
        return align, ReplayedGradient.apply(align, *tables, *grads)

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


class ReplayedGradient(torch.autograd.Function):
    """VALUE in the forward pass; in the backward pass, GRADS (fp32, one per table, in order)
    times the incoming gradient, in each table's dtype: as if VALUE had been computed from TABLES
    again."""

    @staticmethod
    def forward(ctx, value, *tables_and_grads):
        n = len(tables_and_grads) // 2
        ctx.table_dtypes = [t.dtype for t in tables_and_grads[:n]]
        ctx.save_for_backward(*tables_and_grads[n:])
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output):
        grads = ctx.saved_tensors
        tables = ((g * grad_output.float()).to(dtype) for g, dtype in zip(grads, ctx.table_dtypes))
        return (None, *tables, *(None for _ in grads))
