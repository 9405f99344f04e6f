"""ALIGN-MLM's alignment term once per update: with batches accumulated into one update
(--update-freq), L_align and its gradient are computed at the first batch only, and the update
gets exactly the loss and gradients of one batch holding all of them."""

import pytest
import torch
from conftest import training_config

from alignmlm.criterions.align_mlm import ReplayedGradient

NO_DROPOUT = ("model.dropout=0.0", "model.attention_dropout=0.0", "model.activation_dropout=0.0")


def build(pair, *overrides, update_freq=4):
    from fairseq import tasks

    cfg = training_config(
        "align_mlm", pair, *NO_DROPOUT, f"optimization.update_freq=[{update_freq}]", *overrides
    )
    task = tasks.setup_task(cfg.task)
    torch.manual_seed(1)
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    task.load_dataset("train")
    return task, model.train(), criterion


def accumulate(task, model, criterion, batches, update):
    """fairseq's accumulation: each batch's summed loss backpropagated in turn, one update."""
    model.zero_grad()
    task.num_updates = update
    before = criterion.term_computations
    loss = sample_size = 0
    for batch in batches:
        batch_loss, size, _ = criterion(model, batch)
        batch_loss.backward()
        loss, sample_size = loss + batch_loss.item(), sample_size + size
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss, sample_size, grads, criterion.term_computations - before


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp(min=1e-30)).item()


@pytest.mark.parametrize(
    "overrides", [(), ("task.shared_layers_from=1",)], ids=["shared", "per-language tables"]
)
def test_update_freq_4_equals_one_batch_four_times_as_large(tiny_pair, overrides):
    task, model, criterion = build(tiny_pair, *overrides)
    dataset = task.dataset("train")
    items = [dataset[i] for i in range(32)]
    small = [dataset.collater(items[k : k + 8]) for k in range(0, 32, 8)]
    large = [dataset.collater(items)]

    loss_4, size_4, grads_4, computed_4 = accumulate(task, model, criterion, small, update=7)
    loss_1, size_1, grads_1, computed_1 = accumulate(task, model, criterion, large, update=8)

    assert computed_4 == 1 and computed_1 == 1  # L_align once per update, however many batches
    assert size_4 == size_1 > 100
    assert abs(loss_4 - loss_1) / abs(loss_1) < 1e-5
    assert grads_4.keys() == grads_1.keys()
    flat = lambda grads: torch.cat([g.flatten() for _, g in sorted(grads.items())])  # noqa: E731
    assert relative_error(flat(grads_4), flat(grads_1)) < 1e-5
    scale = flat(grads_1).norm()
    for name, grad in grads_1.items():
        # the key projections' biases have zero gradient in exact arithmetic (softmax does not
        # see them): rounding noise only, which no relative measure can compare
        if grad.norm() > 1e-6 * scale:
            assert relative_error(grads_4[name], grad) < 1e-5, name


def test_the_replayed_gradient_is_the_terms_own(tiny_pair):
    """Against an independent computation: the criterion's loss backpropagated gives the MLM
    gradient plus λ · sample_size · ∂L_align/∂E computed directly by autograd."""
    task, model, criterion = build(tiny_pair)
    dataset = task.dataset("train")
    batch = dataset.collater([dataset[i] for i in range(8)])
    task.num_updates = 3
    loss, size, _ = criterion(model, batch)
    loss.backward()
    table = model.encoder.sentence_encoder.embed_tokens.weight
    total = table.grad.clone()

    model.zero_grad()
    mlm_loss, mlm_size, _ = super(type(criterion), criterion).forward(model, batch)
    mlm_loss.backward()
    mlm_grad = table.grad.clone()
    model.zero_grad()
    align = criterion.alignment_term(model, 3)
    (align * criterion.weight(3) * size).backward()
    assert mlm_size == size
    assert relative_error(total, mlm_grad + table.grad) < 1e-5
    assert relative_error(total, mlm_grad) > 1e-3  # the term's share is not negligible here


def test_replayed_gradient_casts_after_scaling():
    """Half-precision tables: the fp32 gradient is scaled by the incoming gradient (fp16's loss
    scale) before the cast, so small gradients do not underflow."""
    table = torch.zeros(3, 2, dtype=torch.float16, requires_grad=True)
    grad = torch.full((3, 2), 1e-8)  # below fp16's smallest subnormal (6e-8)
    value = torch.tensor(0.5)
    out = ReplayedGradient.apply(value, table, grad)
    assert out.item() == 0.5
    (out * 1024.0).backward()
    assert table.grad.dtype == torch.float16
    assert torch.allclose(table.grad.float(), torch.full((3, 2), 1.024e-5), rtol=1e-3)


def test_one_batch_per_update_computes_the_term_directly(tiny_pair):
    """--update-freq 1: nothing to share between batches, so no replay (it would add a pass):
    the term is computed at each batch, with the same gradient."""
    task, model, criterion = build(tiny_pair, update_freq=1)
    assert not criterion.replay
    dataset = task.dataset("train")
    batch = dataset.collater([dataset[i] for i in range(8)])
    _, _, direct, computed = accumulate(task, model, criterion, [batch, batch], update=2)
    assert computed == 2 and criterion._update_term is None
    criterion.replay = True
    _, _, replayed, computed = accumulate(task, model, criterion, [batch, batch], update=3)
    assert computed == 1
    for name, grad in direct.items():
        assert relative_error(replayed[name], grad) < 1e-5, name
