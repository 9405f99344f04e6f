"""--shared-layers-from K (Conneau et al. 2020's partial sharing): layers 0 (embeddings) .. K-1
have one copy per language, each token routed to its own; K = 0 is the shared model unchanged."""

import pytest
import torch
from conftest import checkpoint_state, finetune, setup_task, train, training_config

from alignmlm.errors import InputError
from alignmlm.fairseq_log import read_records
from alignmlm.models.embeddings import input_embedding_matrix, language_embeddings
from alignmlm.models.language_routing import LanguageRoutedLayer
from alignmlm.models.pretrained_encoder import language_layout


def build(objective, pair, shared_layers_from, seed=0):
    overrides = [f"task.shared_layers_from={shared_layers_from}"] if shared_layers_from is not None else []
    cfg = training_config(objective, pair, *overrides)
    from fairseq import tasks

    task = tasks.setup_task(cfg.task)
    torch.manual_seed(seed)
    model = task.build_model(cfg.model)
    return task, model.eval()


def batch(task, lang_of_row):
    """Four 12-token rows of random pieces; row r in language lang_of_row[r] (a list per token is
    a code-switched row)."""
    generator = torch.Generator().manual_seed(3)
    first = task.source_dictionary.nspecial
    tokens = torch.randint(
        first, len(task.source_dictionary) - 1, (len(lang_of_row), 12), generator=generator
    )
    lang_ids = torch.tensor(
        [row if isinstance(row, list) else [row] * tokens.shape[1] for row in lang_of_row], dtype=torch.long
    )
    return tokens, lang_ids


@pytest.mark.parametrize("objective", ["mlm", "xlm"])
def test_shared_layers_from_0_is_todays_model(tiny_pair, objective):
    """Same seed: K = 0 builds the same architecture, the same weights and the same logits as
    a config without the setting."""
    _, today = build(objective, tiny_pair, None)
    task, zero = build(objective, tiny_pair, 0)
    assert type(today.encoder) is type(zero.encoder)
    assert today.state_dict().keys() == zero.state_dict().keys()
    tokens, lang_ids = batch(task, [0, 1, 0, 1])
    extra = {"src_lang_ids": lang_ids} if objective == "xlm" else {}
    assert torch.equal(today(tokens, **extra)[0], zero(tokens, **extra)[0])


def test_copies_are_independent_and_routing_matches_the_shared_model(tiny_pair):
    """K = 2 (embeddings and Transformer layer 1 per language): the copies start different; with
    every copy set to language 0's weights the model computes exactly the shared model."""
    _, shared = build("mlm", tiny_pair, 0)
    task, split = build("mlm", tiny_pair, 2)
    encoder = split.encoder
    assert type(encoder.sentence_encoder.layers[0]) is LanguageRoutedLayer
    assert type(encoder.sentence_encoder.layers[1]) is not LanguageRoutedLayer  # layer 2 is shared
    own, other = encoder.sentence_encoder.layers[0].branches
    assert not torch.equal(encoder.extra_embed_tokens[0].weight, encoder.sentence_encoder.embed_tokens.weight)
    for (name, a), (_, b) in zip(own.named_parameters(), other.named_parameters()):
        if a.dim() == 2:  # weight matrices are drawn afresh (biases and norms start at 0 / 1)
            assert not torch.equal(a, b), name

    # the shared model's weights in every copy: the same function
    state = shared.state_dict()
    mapped = {}
    for key in split.state_dict():
        source = key.replace(".branches.0.", ".").replace(".branches.1.", ".")
        source = "encoder.sentence_encoder.embed_tokens.weight" if "extra_embed_tokens" in key else source
        # plain RoBERTa (the shared MLM model) keeps the positions in its sentence encoder
        source = source.replace("encoder.embed_positions", "encoder.sentence_encoder.embed_positions")
        mapped[key] = state[source]
    split.load_state_dict(mapped)
    tokens, lang_ids = batch(task, [0, 1, [0] * 6 + [1] * 6, 1])
    masked = torch.rand(tokens.shape, generator=torch.Generator().manual_seed(0)) < 0.3
    expected = shared(tokens, masked_tokens=masked)[0]
    assert torch.allclose(split(tokens, src_lang_ids=lang_ids, masked_tokens=masked)[0], expected, atol=1e-6)


def test_each_language_goes_through_its_own_copy(tiny_pair):
    """Changing language 1's copies (token table, layer 1) changes the states of language-1 tokens
    only; changing the shared layer changes both."""
    task, model = build("mlm", tiny_pair, 2)
    encoder = model.encoder
    tokens, lang_ids = batch(task, [0, 1, [0] * 6 + [1] * 6, 0])

    def states():
        with torch.no_grad():
            return model(tokens, src_lang_ids=lang_ids, features_only=True)[0]

    before = states()
    language_1 = lang_ids.eq(1)
    with torch.no_grad():
        encoder.extra_embed_tokens[0].weight.add_(0.5)
        encoder.sentence_encoder.layers[0].branches[1].fc1.weight.mul_(3)
    after = states()
    # monolingual language-0 rows are untouched (code-switched rows mix through attention)
    assert torch.equal(after[[0, 3]], before[[0, 3]])
    assert not torch.allclose(after[1], before[1])
    assert (after - before)[language_1].abs().amax(dim=-1).min() > 1e-3

    with torch.no_grad():
        encoder.sentence_encoder.layers[1].fc1.weight.mul_(3)
    assert not torch.allclose(states()[0], after[0])


def test_masked_tokens_are_predicted_with_their_languages_table(tiny_pair):
    """The LM head of a language-1 token is tied to language 1's table: its logits, computed by
    hand from the head's transform and that table, match the model's."""
    task, model = build("mlm", tiny_pair, 1)
    encoder = model.encoder
    assert not any(isinstance(layer, LanguageRoutedLayer) for layer in encoder.sentence_encoder.layers)
    tokens, lang_ids = batch(task, [0, 1, 1, 0])
    features = model(tokens, src_lang_ids=lang_ids, features_only=True)[0]
    head = encoder.lm_head
    hidden = head.layer_norm(head.activation_fn(head.dense(features)))
    logits = model(tokens, src_lang_ids=lang_ids)[0]
    table_1 = encoder.extra_embed_tokens[0].weight
    assert torch.allclose(logits[1], hidden[1] @ table_1.t() + head.bias, atol=1e-5)
    table_0 = encoder.sentence_encoder.embed_tokens.weight
    assert torch.allclose(logits[0], hidden[0] @ table_0.t() + head.bias, atol=1e-5)
    # what evaluation and the alignment loss read as each language's embeddings
    assert input_embedding_matrix(model, 1) is table_1
    assert torch.equal(language_embeddings(model, 0), table_0.detach())


@pytest.mark.parametrize("objective", ["mlm", "align_mlm", "xlm", "dict_mlm"])
def test_every_objectives_batches_carry_each_tokens_language(tiny_pair, objective):
    """Under partial sharing every objective feeds src_lang_ids, and it is the language of the
    token: on Trans+Inv a piece of language 2 is a twin (id >= first piece + V)."""
    task = setup_task(objective, tiny_pair, "task.shared_layers_from=2")
    task.load_dataset("valid")
    dataset = task.dataset("valid")
    first, v = task.source_dictionary.nspecial, task.pair.twin_offset
    pad = task.source_dictionary.pad()
    checked = substituted = 0
    for index in range(0, len(dataset), 5):
        sample = dataset[index]
        target, tokens = sample["target"], sample["net_input.src_tokens"]
        lang_ids = sample["net_input.src_lang_ids"]
        is_piece = (tokens >= first) & (tokens < first + 2 * v)
        # unmasked pieces: the id is the piece's language
        shown = is_piece & target.eq(pad)
        assert torch.equal(lang_ids[shown], (tokens[shown] >= first + v).long())
        checked += int(shown.sum())
        # DICT-MLM shows some masked pieces as their translation: the id is the translation's
        swapped = is_piece & target.ne(pad) & (tokens - target).abs().eq(v)
        assert torch.equal(lang_ids[swapped], (tokens[swapped] >= first + v).long())
        substituted += int(swapped.sum())
    assert checked > 500
    assert (substituted > 20) == (objective == "dict_mlm")


def test_bad_settings_are_refused(tiny_pair):
    with pytest.raises(InputError, match="--shared-layers-from 3: expected 0 .all shared. .. 2"):
        build("mlm", tiny_pair, 3)
    with pytest.raises(InputError, match="do not combine"):
        setup_task("mlm", tiny_pair, "task.shared_layers_from=1", "task.unified_output=true")
    with pytest.raises(InputError, match="expected >= 0"):
        setup_task("mlm", tiny_pair, "task.shared_layers_from=-1")
    task, model = build("mlm", tiny_pair, 2)
    tokens, _ = batch(task, [0, 1])
    with pytest.raises(ValueError, match="src_lang_ids is required"):
        model(tokens)


@pytest.mark.slow
def test_align_mlm_trains_and_fine_tunes_with_its_own_layers(tiny_pair, pos_data, tmp_path):
    """A real run: ALIGN-MLM with K = 2 trains (the loss falls; the alignment term pulls the two
    languages' tables together), and a POS tagger fine-tuned from it has the same language-
    specific copies, loaded from the checkpoint."""
    save = tmp_path / "pretrain"
    train("align_mlm", tiny_pair, save, "--max-update", "40", "--shared-layers-from", "2")
    losses = [float(r["mlm_loss"]) for r in read_records(save / "train.log", "train_inner")]
    assert len(losses) >= 3 and losses[-1] < losses[0] - 0.5
    state = checkpoint_state(save / "checkpoint_last.pt")
    assert state["cfg"]["model"]["shared_layers_from"] == 2 and state["cfg"]["model"]["lang_branches"] == 2
    encoder = {k[len("encoder.") :]: v for k, v in state["model"].items() if k.startswith("encoder.")}
    assert language_layout(encoder) == (0, 2, 2)

    tagger = tmp_path / "pos"
    finetune("pos", pos_data, tiny_pair, save / "checkpoint_last.pt", tagger, "--max-update", "2")
    tuned = checkpoint_state(tagger / "checkpoint_last.pt")["model"]
    # the routed layer's language-2 copy reached the tagger (it changed a little in 2 updates)
    key = "encoder.sentence_encoder.layers.0.branches.1.fc1.weight"
    assert torch.allclose(tuned[key], state["model"][key], atol=0.05)
    assert not torch.allclose(tuned[key], tuned[key.replace("branches.1", "branches.0")], atol=0.05)
    assert torch.allclose(
        tuned["encoder.extra_embed_tokens.0.weight"], encoder["extra_embed_tokens.0.weight"], atol=0.05
    )
