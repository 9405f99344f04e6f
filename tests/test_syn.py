"""Syn (issue 14): dependency trees reordered to a target treebank's word order."""

import os
import random
from pathlib import Path

import conllu
import pytest

from alignmlm.data_prep import prepare_nli, prepare_pair, prepare_pos, transform_conllu
from alignmlm.data_prep.syn_order import SynOrder, learn_order, tree_arrays
from alignmlm.errors import InputError

# A head-final target language with adjectives after nouns (hand-made): objects before the verb,
# `amod` after the noun.
TARGET = """# sent_id = t1
1	kedi	_	NOUN	_	_	4	nsubj	_	_
2	siyah	_	ADJ	_	_	1	amod	_	_
3	köpeği	_	NOUN	_	_	4	obj	_	_
4	gördü	_	VERB	_	_	0	root	_	_
5	.	_	PUNCT	_	_	4	punct	_	_

# sent_id = t2
1	adam	_	NOUN	_	_	3	nsubj	_	_
2	kitap	_	NOUN	_	_	3	obj	_	_
3	okudu	_	VERB	_	_	0	root	_	_

"""

# the black cat saw a dog: det, amod <- cat; nsubj cat <- saw; det a <- dog; obj dog <- saw
SOURCE = """# sent_id = s1
# text = the black cat saw a dog
1	the	the	DET	DT	_	3	det	_	_
2	black	black	ADJ	JJ	_	3	amod	_	_
3	cat	cat	NOUN	NN	_	4	nsubj	_	_
4	saw	see	VERB	VBD	_	0	root	_	_
5	a	a	DET	DT	_	6	det	_	_
6	dog	dog	NOUN	NN	_	4	obj	_	_

"""


def error_of(main, argv, capsys) -> str:
    """The one error line a command ends with (exit status 2)."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return err


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def order_of(text: str, heads=("nouns", "verbs")) -> list[str]:
    syn = SynOrder(learn_order(conllu.parse(TARGET), heads), heads)
    sentence = conllu.parse(text)[0]
    return [sentence[i]["form"] for i in syn.sentence_order(sentence)]


def test_learned_order_from_the_target_treebank():
    model = learn_order(conllu.parse(TARGET))
    # VERB gördü: left dependents kedi (nsubj), köpeği (obj): ranks 0.25 and 0.75; okudu alike
    assert model[("verbs", "nsubj")] == (-1, 0.25)
    assert model[("verbs", "obj")] == (-1, 0.75)
    assert model[("verbs", "punct")] == (1, 0.5)
    assert model[("nouns", "amod")] == (1, 0.5)
    assert learn_order(conllu.parse(TARGET), ("nouns",)) == {("nouns", "amod"): (1, 0.5)}


def test_hand_worked_example():
    # saw (VERB): cat (nsubj, before, 0.25), dog (obj, before, 0.75), then saw.
    # cat (NOUN): the (det: unseen, keeps its side, rank 0.25), cat, black (amod: after).
    # dog (NOUN): a (det: unseen, before) dog.
    assert order_of(SOURCE) == "the cat black a dog saw".split()
    assert order_of(SOURCE, ("verbs",)) == "the black cat a dog saw".split()
    assert order_of(SOURCE, ("nouns",)) == "the cat black saw a dog".split()


def test_unseen_relations_keep_side_and_relative_order():
    # advmod and obl are not in the target treebank: they stay after the verb, in their order
    text = """1	cat	_	NOUN	_	_	2	nsubj	_	_
2	saw	_	VERB	_	_	0	root	_	_
3	dog	_	NOUN	_	_	2	obj	_	_
4	today	_	NOUN	_	_	2	obl:tmod	_	_
5	again	_	ADV	_	_	2	advmod	_	_

"""
    assert order_of(text) == "cat dog saw today again".split()


def derive_argv(tmp_path: Path, source: str, spec="syn", heads="nouns,verbs", seed=1):
    src = write(tmp_path / "in.conllu", source)
    tb = write(tmp_path / "target.conllu", TARGET)
    out = tmp_path / f"out_{spec}_{heads}_{seed}.conllu".replace(",", "_")
    argv = ["--input", str(src), "--output", str(out), "--transform", spec, "--syn-treebank", str(tb)]
    return argv + ["--syn-heads", heads, "--seed", str(seed), "--overwrite"], out


def derive(tmp_path: Path, source: str, spec="syn", heads="nouns,verbs", seed=1) -> str:
    argv, out = derive_argv(tmp_path, source, spec, heads, seed)
    assert transform_conllu.main(argv) == 0
    return out.read_text(encoding="utf-8")


def check_consistent(source: str, derived: str) -> None:
    """Parses with conllu; ids 1..n; each word's head is the same word as before; labels moved."""
    before, after = conllu.parse(source), conllu.parse(derived)
    assert len(before) == len(after)
    for s0, s1 in zip(before, after):
        assert [t["id"] for t in s1] == list(range(1, len(s1) + 1))
        old = {t["id"]: t for t in s0}
        new = {t["id"]: t for t in s1}
        key = {t["id"]: (t["lemma"], t["xpos"]) for t in s0}  # lemma+xpos identify words here
        for t in s1:
            # the word this token came from: same upos/lemma/xpos/deprel (labels move with words)
            match = [
                o
                for o in s0
                if (o["lemma"], o["xpos"], o["upos"], o["deprel"])
                == (t["lemma"], t["xpos"], t["upos"], t["deprel"])
            ]
            assert len(match) == 1
            o = match[0]
            assert t["form"].lstrip("§") == o["form"]
            if o["head"] == 0:
                assert t["head"] == 0
            else:
                assert (new[t["head"]]["lemma"], new[t["head"]]["xpos"]) == key[old[o["head"]]["id"]]


def test_transform_conllu_with_syn_keeps_the_tree_consistent(tmp_path):
    out = derive(tmp_path, SOURCE, "trans+syn")
    forms = [line.split("\t")[1] for line in out.splitlines() if line and not line.startswith("#")]
    assert forms == "§the §cat §black §a §dog §saw".split()
    assert "# text = §the §cat §black §a §dog §saw" in out
    check_consistent(SOURCE, out)
    heads = {t["form"]: t["head"] for t in conllu.parse(out)[0]}
    assert heads == {"§the": 2, "§cat": 6, "§black": 2, "§a": 5, "§dog": 6, "§saw": 0}


def test_syn_then_inv(tmp_path):
    out = derive(tmp_path, SOURCE, "syn+inv")
    assert [t["form"] for t in conllu.parse(out)[0]] == "saw dog a black cat the".split()
    check_consistent(SOURCE, out)


def test_same_seed_same_output(tmp_path):
    assert derive(tmp_path, SOURCE, "trans+syn", seed=3) == derive(tmp_path, SOURCE, "trans+syn", seed=3)
    assert derive(tmp_path, SOURCE, "syn+perm", seed=3) == derive(tmp_path, SOURCE, "syn+perm", seed=3)
    check_consistent(SOURCE, derive(tmp_path, SOURCE, "syn+perm", seed=3))


def random_tree(rng: random.Random, n: int) -> list[int]:
    """Heads (1-based, 0 = root) of a random tree, projective or not."""
    perm = list(range(1, n + 1))
    rng.shuffle(perm)
    heads = [0] * n
    for k in range(1, n):
        heads[perm[k] - 1] = perm[rng.randrange(k)]
    return heads


def subtree_spans_are_intervals(heads: list[int], order: list[int]) -> bool:
    n = len(heads)
    position = {w: p for p, w in enumerate(order)}  # 0-based word -> new position
    for h in range(1, n + 1):
        members = [h - 1]
        stack = [h]
        while stack:
            x = stack.pop()
            for d in range(1, n + 1):
                if heads[d - 1] == x:
                    members.append(d - 1)
                    stack.append(d)
        span = sorted(position[m] for m in members)
        if span[-1] - span[0] + 1 != len(span):
            return False
    return True


def test_subtrees_contiguous_on_random_trees():
    rng = random.Random(0)
    tags = ["NOUN", "VERB", "ADJ", "PROPN", "AUX", "DET"]
    rels = ["nsubj", "obj", "amod", "det", "punct", "obl", "advmod", "nmod"]
    syn = SynOrder(learn_order(conllu.parse(TARGET)))
    for _ in range(500):
        n = rng.randrange(1, 15)
        heads = random_tree(rng, n)
        upos = [rng.choice(tags) for _ in range(n)]
        deprels = [rng.choice(rels) for _ in range(n)]
        order = syn.order(heads, upos, deprels)
        assert sorted(order) == list(range(n))
        assert subtree_spans_are_intervals(heads, order)


# EN-EWT with trees: the bundled training split (data/en_ewt/pretrain.conllu), or any of the
# release's .conllu files named by ALIGNMLM_EN_EWT_UD.
EN_EWT = Path(os.environ.get("ALIGNMLM_EN_EWT_UD", "data/en_ewt/pretrain.conllu"))


@pytest.mark.skipif(not EN_EWT.is_file(), reason="full EN-EWT with trees not here (set ALIGNMLM_EN_EWT_UD)")
def test_subtrees_contiguous_on_real_en_ewt():
    from alignmlm.data.conllu_reader import parse_conllu, word_sentences

    sentences = word_sentences(parse_conllu(EN_EWT))
    syn = SynOrder(learn_order(conllu.parse(TARGET)))
    for sentence in random.Random(1).sample(sentences, 300):
        _, heads, upos, deprels = tree_arrays(sentence)
        order = syn.order(heads, upos, deprels)
        assert sorted(order) == list(range(len(heads)))
        assert subtree_spans_are_intervals(heads, order)


def test_nonprojective_input_is_linearised_projectively():
    # 1 <- 3 crosses 2 <- 4; word 2 (advmod, unseen under nouns) stays before its head 4, and
    # 4's subtree [2 4] goes, as obj, before the verb after nsubj 1: 1 2 4 3, projective
    heads, upos, rels = [3, 4, 0, 3], ["NOUN", "ADV", "VERB", "NOUN"], ["nsubj", "advmod", "root", "obj"]
    order = SynOrder(learn_order(conllu.parse(TARGET))).order(heads, upos, rels)
    assert subtree_spans_are_intervals(heads, order)
    assert order == [0, 1, 3, 2]


BAD_HEAD = SOURCE.replace(
    "5	a	a	DET	DT	_	6	det", "5	a	a	DET	DT	_	9	det"
)
CYCLE = SOURCE.replace(
    "1	the	the	DET	DT	_	3", "1	the	the	DET	DT	_	2"
).replace("2	black	black	ADJ	JJ	_	3", "2	black	black	ADJ	JJ	_	1")


@pytest.mark.parametrize(
    "text, line, words",
    [(BAD_HEAD, 7, "HEAD is 9, which names no word"), (CYCLE, 3, "words 1, 2 do not lead to the root")],
)
def test_bad_trees_name_file_line_and_sentence(tmp_path, capsys, text, line, words):
    argv, out = derive_argv(tmp_path, text)
    message = error_of(transform_conllu.main, argv, capsys)
    assert f"in.conllu:{line}:" in message and "sentence 1 (sent_id s1)" in message and words in message
    assert not out.exists()
    with pytest.raises(InputError, match=words):  # the pure function too
        SynOrder(learn_order(conllu.parse(TARGET))).sentence_order(conllu.parse(text)[0])


def test_conllu_without_trees_is_refused(tmp_path, capsys):
    # the bundled POS data with HEAD blanked (as it was before it carried trees): syn says so at
    # the first word
    lines = Path("data/en_ewt/pos/dev.conllu").read_text(encoding="utf-8").splitlines()[:200]
    blanked = [
        "\t".join(f[:6] + ["_", "_"] + f[8:]) if len(f := line.split("\t")) == 10 else line for line in lines
    ]
    src = write(tmp_path / "dev.conllu", "\n".join(blanked).rsplit("\n\n", 1)[0] + "\n\n")
    tb = write(tmp_path / "target.conllu", TARGET)
    argv = ["--input", str(src), "--output", str(tmp_path / "o.conllu")]
    message = error_of(
        transform_conllu.main, argv + ["--transform", "syn", "--syn-treebank", str(tb)], capsys
    )
    assert message.startswith(f"error: {src}:3: sentence 1 (sent_id ")
    assert "HEAD is '_' (no tree)" in message and "Stanza or UDPipe" in message


def test_bundled_data_has_trees(tmp_path):
    # data/en_ewt/pos carries HEAD and DEPREL: syn runs on it with the bundled Turkish order
    out = tmp_path / "o.conllu"
    argv = ["--input", "data/en_ewt/pos/dev.conllu", "--output", str(out), "--transform", "trans+syn"]
    assert transform_conllu.main(argv + ["--syn-treebank", "data/tr_boun/train.conllu"]) == 0
    derived = conllu.parse(out.read_text(encoding="utf-8"))
    assert len(derived) == 1000
    for sentence in derived:  # ids 1..n, every HEAD names a word of the sentence or the root
        assert [t["id"] for t in sentence] == list(range(1, len(sentence) + 1))
        assert all(0 <= t["head"] <= len(sentence) for t in sentence)


def test_target_treebank_without_usable_relations(tmp_path, capsys):
    only_adj = TARGET.replace("NOUN", "ADJ").replace("VERB", "ADJ")
    tb = write(tmp_path / "target.conllu", only_adj)
    src = write(tmp_path / "in.conllu", SOURCE)
    argv = ["--input", str(src), "--output", str(tmp_path / "o.conllu"), "--transform", "syn"]
    message = error_of(
        transform_conllu.main, argv + ["--syn-treebank", str(tb), "--syn-heads", "nouns"], capsys
    )
    assert "target.conllu: --syn-treebank has no dependency relations under nouns heads" in message
    assert not (tmp_path / "o.conllu").exists()


def test_syn_flags_checked(tmp_path, capsys):
    src = write(tmp_path / "in.conllu", SOURCE)
    argv = ["--input", str(src), "--output", str(tmp_path / "o.conllu")]
    assert "give --syn-treebank" in error_of(
        transform_conllu.main, argv + ["--transform", "trans+syn"], capsys
    )
    extra = ["--transform", "trans", "--syn-treebank", str(src)]
    assert "has no syn" in error_of(transform_conllu.main, argv + extra, capsys)
    extra = ["--transform", "syn", "--syn-treebank", str(src), "--syn-heads", "adjectives"]
    assert "--syn-heads 'adjectives'" in error_of(transform_conllu.main, argv + extra, capsys)


def test_plain_text_refuses_syn(tmp_path, capsys):
    corpus = write(tmp_path / "corpus.txt", "the black cat saw a dog\n" * 20)
    argv = [
        "--corpus",
        str(corpus),
        "--lang1",
        "en",
        "--transform",
        "trans+syn",
        "--out",
        str(tmp_path / "pair"),
    ]
    message = error_of(prepare_pair.main, argv, capsys)
    assert "syn reorders dependency trees" in message and "Stanza or UDPipe" in message
    assert not (tmp_path / "pair").exists()
    nli = [f"--{split}=tests/data/nli/{split}.jsonl" for split in ("train", "valid", "test")]
    argv = nli + ["--transform", "syn", "--out", str(tmp_path / "nli")]
    assert "syn reorders dependency trees" in error_of(prepare_nli.main, argv, capsys)


def test_prepare_pos_passes_syn_through(tmp_path):
    pos = tmp_path / "pos"
    pos.mkdir()
    for name in ("train", "dev", "test"):
        write(pos / f"{name}.conllu", SOURCE)
    tb = write(tmp_path / "target.conllu", TARGET)
    argv = ["--conllu-dir", str(pos), "--transform", "trans+syn", "--out", str(tmp_path / "out")]
    assert prepare_pos.main(argv + ["--syn-treebank", str(tb), "--syn-heads", "verbs"]) == 0
    derived = (tmp_path / "out" / "test_derived.conllu").read_text(encoding="utf-8")
    assert [t["form"] for t in conllu.parse(derived)[0]] == "§the §black §cat §a §dog §saw".split()
    check_consistent(SOURCE, derived)
