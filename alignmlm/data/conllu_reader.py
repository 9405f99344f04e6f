"""Reading CoNLL-U files with errors that name file and line."""

from pathlib import Path

import conllu

from ..errors import InputError
from .text_file import read_utf8

# The 17 universal POS tags (https://universaldependencies.org/u/pos/): what prepare-pos accepts
# and the pos_tagging task's default --labels (here, so data preparation need not import fairseq).
UPOS_TAGS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()


def parse_conllu(path: Path) -> list:
    """Sentences of a CoNLL-U file; a malformed line is an error naming file and line."""
    text = read_utf8(path, "CoNLL-U file")
    for lineno, line in enumerate(text.splitlines(), 1):
        if line and not line.startswith("#") and len(line.split("\t")) != 10:
            raise InputError(
                f"{path}:{lineno}: expected 10 tab-separated CoNLL-U columns, got "
                f"{len(line.split(chr(9)))}: {line[:80]!r}"
            )
    try:
        return conllu.parse(text)
    except conllu.exceptions.ParseException as err:
        raise InputError(f"{path}: malformed CoNLL-U: {err}") from None


def check_upos(path: Path) -> None:
    """Every word line (an integer ID: not a multi-word range, not an empty node) of a CoNLL-U
    file carries one of the 17 UPOS tags; anything else is an error naming file and line, as the
    tagger would otherwise leave those words out of training without a word."""
    for lineno, line in enumerate(read_utf8(path, "CoNLL-U file").splitlines(), 1):
        fields = line.split("\t")
        if line.startswith("#") or len(fields) != 10 or not fields[0].isdigit():
            continue
        tag = fields[3]
        if tag not in UPOS_TAGS:
            hint = (
                f"did you mean {tag.upper()!r}? UPOS tags are upper case"
                if tag.upper() in UPOS_TAGS
                else f"expected one of {', '.join(UPOS_TAGS)}"
            )
            raise InputError(f"{path}:{lineno}: UPOS tag {tag!r} of {fields[1]!r} is not a UPOS tag; {hint}")


def word_sentences(sentences: list) -> list:
    """The sentences that have at least one word (a comment block alone is not a sentence)."""
    return [s for s in sentences if any(isinstance(t["id"], int) for t in s)]


def tagged_words(path: Path, column: str = "upos") -> list:
    """[(words, labels)] of a CoNLL-U file; multi-word ranges and empty nodes skipped."""
    sentences = []
    for sentence in parse_conllu(path):
        words = [t for t in sentence if isinstance(t["id"], int)]
        sentences.append(([t["form"] for t in words], [t[column] or "_" for t in words]))
    return sentences


def corpus_sentences(path: Path, flag: str = "--corpus", trees: bool = False):
    """A CoNLL-U file as a pretraining corpus: (texts, trees). Each sentence's text is its
    words' FORMs joined by single spaces (multi-word ranges and empty nodes skipped), so the
    corpus is tokenized as the treebank (and task data made from it) is. With TREES, `trees`
    holds (block index, TokenList, heads, upos, relations) per sentence, checked as Syn needs
    them (a HEAD that is '_' or names no word: InputError naming file and line); else None.
    A FORM holding whitespace would split one word into two: refused, naming file and line."""
    from alignmlm.data_prep.syn_order import tree_arrays, word_line

    texts: list[str] = []
    arrays: list | None = [] if trees else None
    for index, sentence in enumerate(parse_conllu(path)):
        words = [t for t in sentence if isinstance(t["id"], int)]
        if not words:  # a comment block alone is not a sentence
            continue
        forms = [t["form"] or "" for t in words]
        for token, form in zip(words, forms):
            if not form or len(form.split()) != 1 or form != form.strip():
                raise InputError(
                    f"{word_line(path, index, token['id'])}: {flag}: word {token['id']} has FORM "
                    f"{form!r}: as a pretraining corpus every FORM must be one word without "
                    "whitespace (it is one unit of the word-order transforms); fix the FORM column"
                )
        texts.append(" ".join(forms))
        if arrays is not None:
            _, heads, upos, rels = tree_arrays(sentence, index, path)
            arrays.append((index, sentence, heads, upos, rels))
    if not texts:
        raise InputError(f"{flag} {path}: CoNLL-U corpus has no sentences (no word lines)")
    return texts, arrays
