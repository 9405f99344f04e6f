"""The order the user gives prepare-pair (--lang1 first) is the language-id order everywhere,
also when the names sort the other way: --lang1 zz --lang2 aa makes zz language 0."""

import pytest
from conftest import prepare_pair, setup_task, upper_case_corpora


@pytest.fixture(scope="module")
def reversed_names_pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("order")
    zz, aa = upper_case_corpora(tmp, 300, 300)  # zz: English; aa: the same text upper-cased
    (tmp / "zz-aa.txt").write_text("the THE\nof OF\ngovernment GOVERNMENT\n", encoding="utf-8")
    pair = tmp / "pair"
    prepare_pair(
        *("--corpus", zz, "--lang1", "zz", "--corpus2", aa, "--lang2", "aa"),
        *("--dictionary", tmp / "zz-aa.txt", "--out", pair, "--vocab-size", "300", "--valid-size", "20"),
    )
    return pair


def test_the_task_takes_the_pairs_order_not_sorted_names(reversed_names_pair):
    task = setup_task("mlm", reversed_names_pair)
    assert task.langs == ["zz", "aa"]


def test_language_embeddings_give_lang1_id_0(reversed_names_pair):
    """XLM's language embeddings: zz's sentences (lower case) carry id 0, aa's (upper) id 1; the
    alignment benchmark embeds its queries (dictionary sources, zz's words) with id 0."""
    task = setup_task("xlm", reversed_names_pair)
    for split, lang_id in (("valid_zz", 0), ("valid_aa", 1)):
        task.load_dataset(split)
        dataset = task.datasets[split]
        batch = dataset.collater([dataset[i] for i in range(len(dataset))])
        tokens, lang_ids = batch["net_input"]["src_tokens"], batch["net_input"]["src_lang_ids"]
        real = tokens.ne(task.dictionary.pad())
        assert set(lang_ids[real].tolist()) == {lang_id}
        # the unmasked positions hold the sentences' own pieces: zz's keep their case, aa's are upper
        kept = real & batch["target"].eq(task.dictionary.pad()) & tokens.ge(task.dictionary.nspecial)
        letters = [c for t in tokens[kept].tolist() for c in task.dictionary[t] if c.isalpha()]
        lower = sum(c.islower() for c in letters) / len(letters)
        assert lower > 0.8 if lang_id == 0 else lower == 0.0
