"""Issue 14: CoNLL-U as a pretraining corpus (one tokenization for pretraining and task data),
Syn on the pretraining corpus, Inv / Perm per sentence on multi-sentence text lines, and the
bundled trees (data/en_ewt/pretrain.conllu, data/tr_boun/)."""

import json
import unicodedata
from functools import partial
from pathlib import Path

import conllu
import pytest
from conftest import REPO, prepare_pair, refusal
from test_syn import SOURCE, TARGET

from alignmlm.data.conllu_reader import corpus_sentences, parse_conllu
from alignmlm.data_prep import prepare_pos
from alignmlm.data_prep.corpus import valid_mask
from alignmlm.data_prep.prepare_pair import word_units
from alignmlm.data_prep.syn_order import SynOrder
from alignmlm.data_prep.transforms import (
    FINAL_PUNCTUATION,
    NFKC_FINAL_PUNCTUATION,
    PieceSentenceTransform,
    WordSentenceTransform,
    is_final_punctuation,
    line_order,
    split_final_punctuation,
    word_order_functions,
)
from alignmlm.errors import InputError

nfkc = partial(unicodedata.normalize, "NFKC")
BUNDLED = REPO / "data" / "en_ewt" / "pretrain.conllu"
TR_BOUN = REPO / "data" / "tr_boun" / "train.conllu"
POS_DEV = REPO / "data" / "en_ewt" / "pos" / "dev.conllu"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def words_of(piece_line: str) -> list[str]:
    """The words of a line of pieces (twin marks dropped): a word starts at a '▁' piece."""
    return "".join(p.removeprefix("§") for p in piece_line.split()).split("▁")[1:]


def same_words(decoded: list[list[str]], forms: list[list[str]]) -> bool:
    """Decoded piece text equals the FORMs as sentencepiece normalizes them (NFKC: '…' is
    '...'), a word with a character the vocabulary lacks (decoded with '<unk>') matching any."""
    return len(decoded) == len(forms) and all(
        len(a) == len(b) and all(x == nfkc(y) or "<unk>" in x for x, y in zip(a, b))
        for a, b in zip(decoded, forms)
    )


def pair_words(out: Path, lang: str, n: int, valid_size: int, seed: int = 1) -> list[list[str]]:
    """The words of every corpus sentence of LANG, in corpus order (train and valid merged)."""
    train = iter((out / "text" / f"train.{lang}").read_text(encoding="utf-8").splitlines())
    valid = iter((out / "text" / f"valid.{lang}").read_text(encoding="utf-8").splitlines())
    return [words_of(next(valid if v else train)) for v in valid_mask(n, valid_size, seed)]


# --- Inv / Perm on multi-sentence lines -------------------------------------------------------


def test_split_final_punctuation_detaches_every_sentence_end():
    assert split_final_punctuation("A b c. D e!") == "A b c . D e !"
    assert split_final_punctuation("Really?! Yes... ok") == "Really ?! Yes ... ok"
    # numbers and inner dots stay; abbreviations are split like a sentence end (a known limit)
    assert split_final_punctuation("pay 3.5 to Dr. No") == "pay 3.5 to Dr . No"
    assert split_final_punctuation("the U.S. army") == "the U.S . army"


def test_nfkc_final_punctuation():
    # '…' is '...' once sentencepiece normalizes it: final punctuation as a word and as pieces
    for ch in NFKC_FINAL_PUNCTUATION:
        assert set(nfkc(ch)) <= FINAL_PUNCTUATION
    assert is_final_punctuation("…") and is_final_punctuation("▁...")
    assert split_final_punctuation("Wait… Then") == "Wait … Then"


def test_line_order_inverts_each_sentence():
    inv = word_order_functions(("inv",), seed=1)
    words = "A b c . D e !".split()
    final = [w in ".!" for w in words]
    assert [words[i] for i in line_order(final, inv, True)] == "c b A . e D !".split()
    assert [words[i] for i in line_order(final, inv, False)] == "e D . c b A !".split()
    # a last sentence without final punctuation is inverted whole
    words = "A b . c d".split()
    assert [words[i] for i in line_order([w == "." for w in words], inv, True)] == "b A . d c".split()


def test_word_transform_splits_lines_of_text_not_conllu_sentences():
    words = "A b c . D e !".split()
    assert WordSentenceTransform(("inv",), 1)(words)[0] == "c b A . e D !".split()
    assert WordSentenceTransform(("inv",), 1, split_sentences=False)(words)[0] == "e D . c b A !".split()
    # perm: each sentence gets the permutation of its own length, final punctuation in place
    perm = WordSentenceTransform(("perm",), 3)
    one = perm("A b c .".split())[0]
    assert perm("A b c . A b c .".split())[0] == one + one


PIECES = ["<unk>", "▁A", "▁b", "▁c", "▁.", "▁D", "▁e", "▁!", "▁", ".", "x"]


def test_piece_transform_inverts_each_sentence_of_a_line():
    derive = PieceSentenceTransform(PIECES, ("trans", "inv"), seed=1)
    ids = [1, 2, 3, 4, 5, 6, 7]  # ▁A ▁b ▁c ▁. ▁D ▁e ▁!
    assert [PIECES[i] for i in derive.derive_ids(ids)] == "▁c ▁b ▁A ▁. ▁e ▁D ▁!".split()
    # '▁ .' (two pieces) is a final-punctuation unit too; '▁ x' is not
    ids = [1, 2, 8, 9, 5, 8, 10]
    assert derive.derive_ids(ids) == [2, 1, 8, 9, 8, 10, 5]
    one_sentence = PieceSentenceTransform(PIECES, ("inv",), seed=1, split_sentences=False)
    assert [
        PIECES[i] for i in one_sentence.derive_ids([1, 2, 3, 4, 5, 6, 7])
    ] == "▁e ▁D ▁. ▁c ▁b ▁A ▁!".split()


def test_prepare_pair_inverts_each_sentence_of_a_text_line(tmp_path):
    lines = [f"The cat {w}. A dog barks at {w}!" for w in "sat ran ate slept sang hid came went".split()]
    corpus = write(tmp_path / "corpus.txt", "\n".join(lines * 5) + "\n")
    out = tmp_path / "pair"
    prepare_pair("--corpus", corpus, "--transform", "inv", "--out", out, "--vocab-size", "25")
    en = pair_words(out, "en", 40, 1000)
    derived = pair_words(out, "en_inv", 40, 1000)
    for line, a, b in zip(lines * 5, en, derived):
        assert a == split_final_punctuation(line).split()
        w = a[2]
        assert b == [w, "cat", "The", ".", w, "at", "barks", "dog", "A", "!"]


# --- CoNLL-U corpora: words ----------------------------------------------------------------


def small_corpus(tmp_path: Path, n: int = 200) -> Path:
    """The first N sentences of the bundled POS dev split (with trees)."""
    blocks = POS_DEV.read_text(encoding="utf-8").split("\n\n")[:n]
    return write(tmp_path / "small.conllu", "\n\n".join(blocks) + "\n\n")


def test_conllu_corpus_words_are_the_treebank_tokens(tmp_path):
    corpus = small_corpus(tmp_path)
    texts, trees = corpus_sentences(corpus)
    assert trees is None and len(texts) == 200
    forms = [[t["form"] for t in s] for s in parse_conllu(corpus)]
    assert [t.split(" ") for t in texts] == forms
    out = tmp_path / "pair"
    prepare_pair("--corpus", corpus, "--transform", "trans", "--out", out, "--vocab-size", "300")
    manifest = json.loads((out / "pair.json").read_text())
    assert manifest["settings"]["corpus_format"] == {"corpus": "conllu"}
    assert manifest["stats"]["sentences_encoded_word_by_word"] == 0
    # every piece line decodes to the sentence's FORMs: pretraining text is tokenized as task data
    assert same_words(pair_words(out, "en", 200, 1000), forms)
    assert pair_words(out, "en_trans", 200, 1000) == pair_words(out, "en", 200, 1000)
    # --corpus-format text reads the same file as lines of text: another preparation
    message = refusal("prepare-pair", "--corpus", corpus, "--corpus-format", "text", "--transform", "trans",
                      "--out", out, "--vocab-size", "300")  # fmt: skip
    assert "other settings (corpus_format differ)" in message


def test_natural_pair_reads_conllu_words(tmp_path):
    corpus2 = small_corpus(tmp_path, 120)
    lines = (REPO / "data" / "en_ewt" / "pretrain.txt").read_text(encoding="utf-8").splitlines()[:120]
    text = write(tmp_path / "en.txt", "\n".join(lines) + "\n")
    dictionary = write(tmp_path / "dict.txt", "the the\ncat cat\n")
    out = tmp_path / "pair"
    prepare_pair("--corpus", text, "--corpus2", corpus2, "--lang2", "xx", "--dictionary", dictionary,
                 "--out", out, "--vocab-size", "300")  # fmt: skip
    forms = [[t["form"] for t in s] for s in parse_conllu(corpus2)]
    assert same_words(pair_words(out, "xx", 120, 1000), forms)
    settings = json.loads((out / "pair.json").read_text())["settings"]
    assert settings["corpus_format"] == {"corpus": "text", "corpus2": "conllu"}


class FakeSentencepiece:
    def __init__(self, table):
        self.table = table

    def encode(self, words):
        return [self.table[w] for w in words]


def test_word_units_fall_back_to_word_by_word_encoding():
    # sentencepiece's whitespace splitting makes each word start at a '▁' piece; if one does not
    # (here 'x' encoded without '▁'), the sentence is encoded word by word instead
    derive = PieceSentenceTransform(PIECES, ("inv",), seed=1, split_sentences=False)
    sp = FakeSentencepiece({"A": [1], "x": [8, 10], "b": [2]})
    encoded = [[1, 10, 2], [1, 2]]
    stats = {}
    units = word_units(sp, derive, ["A x b", "A b"], encoded, stats)
    assert units == [[[1], [8, 10], [2]], [[1], [2]]]
    assert encoded == [[1, 8, 10, 2], [1, 2]]  # both languages use the word-by-word pieces
    assert stats["sentences_encoded_word_by_word"] == 1
    assert derive.derive_ids(encoded[0], units=units[0]) == [2, 8, 10, 1]
    # a word that encodes to nothing moves nowhere and breaks nothing
    assert derive.derive_ids([1, 2], word_order=[2, 1, 0], units=[[1], [], [2]]) == [1, 2]  # syn, then inv


def test_bundled_corpus_pieces_start_each_word(tmp_path):
    """The assumption Syn on pieces relies on, on the real corpus and a real sentencepiece model:
    every sentence of data/en_ewt/pretrain.conllu encodes as its words' pieces, one '▁' group
    per word (checked in prepare_pair, and counted in pair.json)."""
    out = tmp_path / "pair"
    prepare_pair("--corpus", BUNDLED, "--transform", "trans+syn", "--syn-treebank", TR_BOUN, "--out", out)
    manifest = json.loads((out / "pair.json").read_text())
    assert manifest["stats"]["sentences_encoded_word_by_word"] == 0
    assert manifest["stats"]["sentences"] == {"train": 11544, "valid": 1000}
    settings = manifest["settings"]
    assert settings["syn_heads"] == "nouns,verbs" and settings["inputs"]["syn_treebank"].startswith("sha256:")
    # the derived language has the same words, reordered
    forms = [t.split(" ") for t in corpus_sentences(BUNDLED)[0]]
    original = pair_words(out, "en", len(forms), 1000)
    assert same_words(original, forms)
    derived = pair_words(out, "en_trans_syn", len(forms), 1000)
    assert all(sorted(a) == sorted(b) for a, b in zip(original, derived))
    assert sum(a != b for a, b in zip(original, derived)) > 0.8 * len(forms)  # Turkish order differs
    # another treebank or other heads: another preparation (refused without --overwrite)
    other = write(tmp_path / "tb.conllu", TARGET)
    args = ["--corpus", BUNDLED, "--transform", "trans+syn", "--out", out]
    assert "syn_heads differ" in refusal(
        "prepare-pair", *args, "--syn-treebank", TR_BOUN, "--syn-heads", "verbs"
    )
    assert "--syn-treebank" in refusal("prepare-pair", *args, "--syn-treebank", other)


# --- Syn on the pretraining corpus ----------------------------------------------------------


def tiny_conllu(tmp_path: Path) -> Path:
    """The hand-worked sentence of test_syn and a few others, enough for sentencepiece."""
    extra = []
    for k, (adj, noun, verb, obj) in enumerate(
        [("red", "fox", "ate", "hen"), ("old", "man", "read", "book"), ("big", "bird", "saw", "worm")]
    ):
        extra.append(
            f"# sent_id = e{k}\n1\tthe\t_\tDET\t_\t_\t3\tdet\t_\t_\n2\t{adj}\t_\tADJ\t_\t_\t3\tamod\t_\t_\n"
            f"3\t{noun}\t_\tNOUN\t_\t_\t4\tnsubj\t_\t_\n4\t{verb}\t_\tVERB\t_\t_\t0\troot\t_\t_\n"
            f"5\ta\t_\tDET\t_\t_\t6\tdet\t_\t_\n6\t{obj}\t_\tNOUN\t_\t_\t4\tobj\t_\t_\n"
            "7\t.\t_\tPUNCT\t_\t_\t4\tpunct\t_\t_\n\n"
        )
    return write(tmp_path / "tiny.conllu", (SOURCE + "".join(extra)) * 5)


def test_prepare_pair_syn_hand_worked(tmp_path):
    corpus, tb = tiny_conllu(tmp_path), write(tmp_path / "target.conllu", TARGET)
    out = tmp_path / "pair"
    argv = ["--corpus", corpus, "--transform", "trans+syn", "--syn-treebank", tb, "--out", out]
    prepare_pair(*argv, "--vocab-size", "25")
    derived = pair_words(out, "en_trans_syn", 20, 1000)
    assert derived[0] == "the cat black a dog saw".split()  # objects before verbs, adjectives after nouns
    assert derived[1] == "the fox red a hen ate .".split()  # punct: after the verb, as in TARGET
    pieces = (out / "text" / "train.en_trans_syn").read_text().split()
    assert all(p.startswith("§") for p in pieces)  # trans composes with syn
    # the same flags give the same output (a rerun in another OUT)
    prepare_pair(*argv[:-1], tmp_path / "again", "--vocab-size", "25")
    for name in ("train.en_trans_syn", "valid.en_trans_syn"):
        assert (out / "text" / name).read_bytes() == (tmp_path / "again" / "text" / name).read_bytes()
    # syn then inv: the syn order reversed, final '.' kept last
    out2 = tmp_path / "pair_inv"
    argv = ["--corpus", corpus, "--transform", "trans+syn+inv", "--syn-treebank", tb, "--out", out2]
    prepare_pair(*argv, "--vocab-size", "25")
    derived = pair_words(out2, "en_trans_syn_inv", 20, 1000)
    assert derived[0] == "saw dog a black cat the".split()
    assert derived[1] == "ate hen a red fox the .".split()


@pytest.mark.parametrize("spec", ["trans+syn", "trans+syn+inv"])
def test_pair_and_task_data_derive_the_same_word_order(tmp_path, spec):
    """One sentence through prepare-pair and through prepare-pos with the same --syn-treebank
    gives the same derived word order (200 real sentences with trees, Turkish order)."""
    corpus = small_corpus(tmp_path)
    out = tmp_path / "pair"
    prepare_pair("--corpus", corpus, "--transform", spec, "--syn-treebank", TR_BOUN, "--out", out,
                 "--vocab-size", "300")  # fmt: skip
    pos = tmp_path / "pos_in"
    pos.mkdir()
    for name in ("train", "dev", "test"):
        write(pos / f"{name}.conllu", corpus.read_text(encoding="utf-8"))
    task = tmp_path / "pos"
    argv = ["--conllu-dir", pos, "--transform", spec, "--syn-treebank", TR_BOUN, "--out", task]
    assert prepare_pos.main(list(map(str, argv))) == 0
    task_words = [
        [t["form"].removeprefix("§") for t in s] for s in parse_conllu(task / "test_derived.conllu")
    ]
    assert same_words(pair_words(out, "en_" + spec.replace("+", "_"), 200, 1000), task_words)
    # and the task data records the treebank the pair was made with
    from alignmlm.data_prep.task_data import check_matches_pair
    from alignmlm.pair import PreparedPair

    assert check_matches_pair(task, PreparedPair.load(out)) is None


def test_task_data_with_another_treebank_does_not_match_the_pair(tmp_path):
    corpus, tb = tiny_conllu(tmp_path), write(tmp_path / "target.conllu", TARGET)
    out = tmp_path / "pair"
    prepare_pair("--corpus", corpus, "--transform", "trans+syn", "--syn-treebank", tb, "--out", out,
                 "--vocab-size", "25")  # fmt: skip
    pos = tmp_path / "pos_in"
    pos.mkdir()
    for name in ("train", "dev", "test"):
        write(pos / f"{name}.conllu", SOURCE)
    from alignmlm.data_prep.task_data import check_matches_pair
    from alignmlm.pair import PreparedPair

    for treebank, heads, what in (
        (TR_BOUN, "nouns,verbs", "another --syn-treebank"),
        (tb, "verbs", "--syn-heads verbs"),
    ):
        task = tmp_path / f"pos_{heads}_{treebank.name}"
        argv = [
            "--conllu-dir",
            pos,
            "--transform",
            "trans+syn",
            "--syn-treebank",
            treebank,
            "--syn-heads",
            heads,
        ]
        assert prepare_pos.main(list(map(str, argv + ["--out", task]))) == 0
        with pytest.raises(InputError, match=what):
            check_matches_pair(task, PreparedPair.load(out))


# --- bad input -------------------------------------------------------------------------------

BAD_HEAD = SOURCE.replace("5\ta\ta\tDET\tDT\t_\t6\tdet", "5\ta\ta\tDET\tDT\t_\t9\tdet")
CYCLE = SOURCE.replace("1\tthe\tthe\tDET\tDT\t_\t3", "1\tthe\tthe\tDET\tDT\t_\t2").replace(
    "2\tblack\tblack\tADJ\tJJ\t_\t3", "2\tblack\tblack\tADJ\tJJ\t_\t1"
)
NO_TREE = SOURCE.replace("\t4\tnsubj\t", "\t_\t_\t")


def corpus_with(tmp_path: Path, bad: str) -> Path:
    """Nine good sentences (9 lines each), then the bad one: its word K on line 83 + K."""
    return write(tmp_path / "corpus.conllu", SOURCE * 9 + bad)


@pytest.mark.parametrize(
    "bad, line, what",
    [
        (BAD_HEAD, 88, "HEAD is 9, which names no word"),
        (CYCLE, 84, "words 1, 2 do not lead to the root (HEAD 0): a cycle"),
        (NO_TREE, 86, "HEAD is '_' (no tree)"),
    ],
)
def test_bad_corpus_trees_name_file_and_line(tmp_path, bad, line, what):
    corpus = corpus_with(tmp_path, bad)
    tb = write(tmp_path / "target.conllu", TARGET)
    out = tmp_path / "pair"
    message = refusal("prepare-pair", "--corpus", corpus, "--transform", "trans+syn", "--syn-treebank", tb,
                      "--out", out, "--vocab-size", "16")  # fmt: skip
    assert f"{corpus}:{line}: sentence 10 (sent_id s1)" in message and what in message
    assert not (out / "pair.json").exists()
    # without syn the trees are not used: the words alone make a corpus
    prepare_pair(
        "--corpus", corpus, "--transform", "trans", "--out", tmp_path / "words", "--vocab-size", "16"
    )


def test_treebank_without_usable_relations(tmp_path):
    corpus = tiny_conllu(tmp_path)
    tb = write(tmp_path / "target.conllu", TARGET.replace("NOUN", "ADJ").replace("VERB", "ADJ"))
    message = refusal("prepare-pair", "--corpus", corpus, "--transform", "trans+syn", "--syn-treebank", tb,
                      "--syn-heads", "nouns", "--out", tmp_path / "pair")  # fmt: skip
    assert f"{tb}: --syn-treebank has no dependency relations under nouns heads" in message


def test_syn_flag_refusals(tmp_path):
    text = write(tmp_path / "corpus.txt", "the black cat saw a dog\n" * 20)
    corpus, tb = tiny_conllu(tmp_path), write(tmp_path / "target.conllu", TARGET)
    out = ["--out", tmp_path / "pair"]
    message = refusal(
        "prepare-pair", "--corpus", text, "--transform", "trans+syn", "--syn-treebank", tb, *out
    )
    assert "the --corpus plain text has none" in message and "Stanza or UDPipe" in message
    assert "give --syn-treebank" in refusal("prepare-pair", "--corpus", corpus, "--transform", "syn", *out)
    message = refusal("prepare-pair", "--corpus", corpus, "--transform", "trans", "--syn-treebank", tb, *out)
    assert "--transform has no syn" in message
    message = refusal("prepare-pair", "--corpus", corpus, "--transform", "syn", "--syn-treebank", tb,
                      "--syn-heads", "adjectives", *out)  # fmt: skip
    assert "--syn-heads 'adjectives'" in message
    missing = tmp_path / "missing.conllu"
    message = refusal(
        "prepare-pair", "--corpus", corpus, "--transform", "syn", "--syn-treebank", missing, *out
    )
    assert "--syn-treebank" in message and "not found" in message
    assert not (tmp_path / "pair").exists()


def test_form_with_whitespace_is_refused(tmp_path):
    corpus = write(tmp_path / "c.conllu", SOURCE * 3 + SOURCE.replace("\tdog\tdog\t", "\tdog house\tdog\t"))
    with pytest.raises(InputError, match=rf"{corpus}:35: --corpus: word 6 has FORM 'dog house'"):
        corpus_sentences(corpus)


# --- the bundled treebanks -------------------------------------------------------------------


def test_bundled_treebanks_have_consistent_trees():
    """Every bundled CoNLL-U file parses with `conllu` and the repository's reader; ids are
    1..n; every HEAD names a word or the root; every tree reaches its root (no cycle)."""
    syn = SynOrder.from_treebank(TR_BOUN)
    files = [BUNDLED, TR_BOUN, *sorted((REPO / "data" / "en_ewt" / "pos").glob("*.conllu"))]
    counts = {}
    for path in files:
        sentences = conllu.parse(path.read_text(encoding="utf-8"))
        assert len(sentences) == len(parse_conllu(path))
        for index, sentence in enumerate(sentences):
            assert [t["id"] for t in sentence] == list(range(1, len(sentence) + 1))
            assert all(isinstance(t["head"], int) and 0 <= t["head"] <= len(sentence) for t in sentence)
            assert sorted(syn.sentence_order(sentence, index, path)) == list(range(len(sentence)))
        counts[path.name if path.parent.name != "pos" else f"pos/{path.name}"] = len(sentences)
    assert counts == {
        "pretrain.conllu": 12544,
        "train.conllu": 3000,
        "pos/dev.conllu": 1000,
        "pos/test.conllu": 1000,
        "pos/train.conllu": 5000,
    }
    # the POS files' first 5,000 training sentences are pretrain.conllu's first 5,000
    pretrain = BUNDLED.read_text(encoding="utf-8").split("\n\n")[:5000]
    pos = (REPO / "data/en_ewt/pos/train.conllu").read_text(encoding="utf-8").split("\n\n")[:5000]
    strip = lambda block: [line for line in block.splitlines() if not line.startswith("# text")]  # noqa: E731
    assert [strip(b) for b in pretrain] == [strip(b) for b in pos]
