"""DICT-MLM with a word-level dictionary (a natural pair): whole words are substituted, piece for
piece, when all their pieces are masked and the translation has as many pieces
(alignmlm/data/dict_substitution.py); a piece is never substituted alone."""

import logging
import re
from collections import Counter

import numpy as np
import pytest
import sentencepiece as spm
import torch
from conftest import prepare_pair, setup_task
from fairseq.data import Dictionary
from test_natural_pair_tlm import natural_args, natural_inputs

from alignmlm.data.bilingual_dictionary import read_word_pairs
from alignmlm.data.dict_substitution import DictSubstitutionDataset, WordTranslations, substitute_words

# ---------------------------------------------------------------- hand-worked


def hand_dictionary():
    d = Dictionary()  # <s> 0, <pad> 1, </s> 2, <unk> 3
    for symbol in ("▁the", "▁gov", "ern", "ment", "▁THE", "▁GOV", "ERN", "MENT", "▁a", "▁BIG", "Y", "<mask>"):
        d.add_symbol(symbol)
    ids = {d[i]: i for i in range(len(d))}
    pairs = [("▁the", "▁THE"), ("▁gov ern ment", "▁GOV ERN MENT"), ("▁a", "▁BIG Y")]
    encoded = [([ids[p] for p in a.split()], [ids[p] for p in b.split()]) for a, b in pairs]
    return d, ids, WordTranslations(encoded, d)


def test_word_translations_keep_pairs_of_equal_piece_counts_in_both_directions():
    d, ids, words = hand_dictionary()
    assert words.stats == {"pairs": 3, "single_piece": 1, "multi_piece": 1, "unequal_pieces": 1}
    gov, GOV = (tuple(ids[p] for p in w.split()) for w in ("▁gov ern ment", "▁GOV ERN MENT"))
    assert words.words[gov] == [GOV] and words.words[GOV] == [gov]
    assert words.words[(ids["▁THE"],)] == [(ids["▁the"],)] and (ids["▁a"],) not in words.words
    assert words.starts[ids["▁gov"]] and words.inside[ids["ern"]]
    assert not (words.starts | words.inside)[[d.bos(), d.eos(), d.unk(), ids["<mask>"]]].any()


def sample(ids, d, pieces: str, unmasked=()):
    """(masked source, target) of PIECES after <s>: every piece masked but those at UNMASKED."""
    original = np.array([d.bos()] + [ids[p] for p in pieces.split()])
    masked = np.arange(len(original)) > 0
    masked[list(unmasked)] = False
    return np.where(masked, ids["<mask>"], original), np.where(masked, original, d.pad())


def test_whole_words_are_substituted_and_pieces_never_alone():
    d, ids, words = hand_dictionary()
    rng = np.random.default_rng(0)
    # the, government: dictionary words; "▁the ern": a longer word that begins with ▁the; ▁a: its
    # translation has two pieces; the last ▁the may go on in the next block
    source, target = sample(ids, d, "▁the ▁gov ern ment ▁the ern ▁a ▁the")
    src, tgt, substituted = substitute_words(source, target, words, "input", 1.0, d.pad(), rng)
    assert [d[i] for i in src] == ["<s>", "▁THE", "▁GOV", "ERN", "MENT"] + ["<mask>"] * 4
    assert substituted.tolist() == [1, 2, 3, 4] and np.array_equal(tgt, target)  # labels stay
    src, tgt, substituted = substitute_words(source, target, words, "target", 1.0, d.pad(), rng)
    assert np.array_equal(src, source) and substituted.tolist() == [1, 2, 3, 4]
    assert [d[i] for i in tgt[1:6]] == ["▁THE", "▁GOV", "ERN", "MENT", "▁the"]
    # "ern" not masked: the word is not wholly masked, so neither it nor its masked pieces change
    source, target = sample(ids, d, "▁gov ern ment ▁THE </s>", unmasked=[2])
    src, _, substituted = substitute_words(source, target, words, "input", 1.0, d.pad(), rng)
    assert [d[i] for i in src] == ["<s>", "<mask>", "ern", "<mask>", "▁the", "<mask>"]
    assert substituted.tolist() == [4]
    # the authors' no-entry handling: every masked piece outside a substituted word shown as itself
    src, _, _ = substitute_words(source, target, words, "input", 1.0, d.pad(), rng, no_entry="unchanged")
    assert [d[i] for i in src] == ["<s>", "▁gov", "ern", "ment", "▁the", "</s>"]
    src, tgt, substituted = substitute_words(source, target, words, "input", 0.0, d.pad(), rng)
    assert np.array_equal(src, source) and np.array_equal(tgt, target) and len(substituted) == 0


class Listed(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = [torch.as_tensor(x) for x in items]
        self.sizes = np.array([len(x) for x in items])

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)

    def set_epoch(self, epoch):
        pass


def test_substituted_words_take_the_other_languages_id():
    d, ids, words = hand_dictionary()
    source, target = sample(ids, d, "▁the ▁gov ern ment ▁the </s>")
    langs = Listed([np.zeros(len(source), dtype=np.int64)])

    def field(name):
        return DictSubstitutionDataset(
            Listed([source]),
            Listed([target]),
            None,
            None,
            "input",
            1.0,
            d.pad(),
            seed=3,
            field=name,
            lang_ids=langs,
            other_lang=[1, 0],
            words=words,
        )[0].tolist()

    assert [d[i] for i in field("source")] == ["<s>", "▁THE", "▁GOV", "ERN", "MENT", "▁THE", "<mask>"]
    assert field("lang_ids") == [0, 1, 1, 1, 1, 1, 0]
    assert field("target") == target.tolist()


# ---------------------------------------------------------------- a natural pair


@pytest.fixture(scope="module")
def word_pair(tmp_path_factory):
    """The natural pair up (upper-cased English) / en of test_natural_pair_tlm, with a dictionary
    of 400 frequent words and their upper-case forms (up's word first)."""
    inputs = natural_inputs(tmp_path_factory.mktemp("natural_inputs"))
    lines = (inputs / "en.txt").read_text(encoding="utf-8").splitlines()
    # words that upper-casing changes: a substitution by the same pieces could not be seen
    counts = Counter(w for line in lines for w in line.split() if w.isalpha() and w != w.upper())
    words = [w for w, _ in counts.most_common(400)]
    (inputs / "dict.txt").write_text("".join(f"{w.upper()} {w}\n" for w in words), encoding="utf-8")
    out = tmp_path_factory.mktemp("pairs") / "up_en_words"
    prepare_pair(*natural_args(inputs, out))
    return out


def expected_translations(pair, d) -> tuple[dict, Counter]:
    """From dict/train.txt and spm.model alone: {word's ids: its translations' ids} for pairs of
    equal piece counts, both directions; and how many pairs are single, multi-piece, unequal."""
    sp = spm.SentencePieceProcessor(model_file=str(pair / "spm.model"))
    table, kinds = {}, Counter()
    for a, b in read_word_pairs(pair / "dict" / "train.txt"):
        a, b = (tuple(d.index(p) for p in sp.encode(w, out_type=str)) for w in (a, b))
        if d.unk() in a + b:
            continue
        kinds["single" if len(a) == len(b) == 1 else "multi" if len(a) == len(b) else "unequal"] += 1
        if len(a) == len(b):
            table.setdefault(a, set()).add(b)
            table.setdefault(b, set()).add(a)
    return table, kinds


def runs(tokens, d) -> list[tuple[int, int]]:
    """(start, end) of every word of TOKENS: a '▁' piece and the pieces up to the next '▁' piece
    or special, none that reaches the end of TOKENS."""
    words, start = [], None
    for k, t in enumerate(tokens.tolist() + [d.eos()]):
        symbol = d[t]
        if start is not None and (t < d.nspecial or symbol.startswith("▁") or symbol == "<mask>"):
            if k < len(tokens):
                words.append((start, k))
            start = None
        if t >= d.nspecial and symbol.startswith("▁"):
            start = k
    return words


@pytest.mark.slow
def test_dict_mlm_substitutes_whole_words_on_a_natural_pair(word_pair, caplog):
    caplog.set_level(logging.INFO)
    # mask_prob 0.4: words of two or three pieces are then wholly masked often enough to count
    task = setup_task("dict_mlm", word_pair, "task.mask_prob=0.4")
    d = task.dictionary
    table, kinds = expected_translations(word_pair, d)
    assert kinds["single"] > 20 and kinds["multi"] > 20 and kinds["unequal"] > 20
    logged = re.search(
        r"of the dictionary's (\d+) encoded pairs (\d+) are usable \((\d+) of one piece", caplog.text
    )
    assert tuple(map(int, logged.groups())) == (
        sum(kinds.values()),
        kinds["single"] + kinds["multi"],
        kinds["single"],
    )
    task.load_dataset("train")
    dataset = task.datasets["train"]
    substitution = dataset.dataset.defn["net_input.src_tokens"].dataset  # the DictSubstitutionDataset
    originals, extra = task.build_token_dataset("train", 1, False)
    tally = Counter()
    for i in range(len(dataset)):
        item = dataset[i]
        shown, labels, langs = (
            item[k].numpy() for k in ("net_input.src_tokens", "target", "net_input.src_lang_ids")
        )
        before, masked = substitution.dataset[i].numpy(), labels != d.pad()  # source before substitution
        original, stream_langs = originals[i].numpy(), extra["src_lang_ids"][i].numpy()
        assert np.array_equal(labels[masked], original[masked])  # input mode: labels stay
        changed = np.zeros(len(shown), dtype=bool)
        for start, end in runs(original, d):
            word = tuple(original[start:end].tolist())
            if word not in table or not masked[start:end].all():
                continue  # not a usable dictionary word, or not wholly masked: never substituted
            substituted = not np.array_equal(shown[start:end], before[start:end])
            if substituted:
                assert tuple(shown[start:end].tolist()) in table[word]  # a translation, piece for piece
                changed[start:end] = True
            tally["multi" if end - start > 1 else "single", substituted] += 1
        assert np.array_equal(shown[~changed], before[~changed])  # nothing else changed
        assert np.array_equal(langs, np.where(changed, 1 - stream_langs, stream_langs))
    for size in ("single", "multi"):
        share = tally[size, True] / (tally[size, True] + tally[size, False])
        assert share == pytest.approx(0.5, abs=0.1), (size, tally)
    assert tally["multi", True] > 30, tally  # several-piece words replaced by several pieces
    batch = dataset.collater([dataset[i] for i in range(8)])  # the batch the model gets
    net = batch["net_input"]
    assert net["src_tokens"].shape == net["src_lang_ids"].shape == batch["target"].shape
