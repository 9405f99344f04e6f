"""The streamed preparation of a plain-text synthetic pair (data_prep/streamed_synthetic.py): the
same text as the in-memory computation, and binaries byte-identical to what the real
fairseq-preprocess writes for that text."""

import json
import sys

import numpy as np
import pytest
from conftest import BUNDLED_CORPUS, run

from alignmlm.data_prep import streamed_synthetic
from alignmlm.data_prep.corpus import iter_lines, valid_mask
from alignmlm.data_prep.prepare_pair import main as prepare_pair_main
from alignmlm.data_prep.sentencepiece_model import train_sentencepiece, vocabulary
from alignmlm.data_prep.transforms import PieceSentenceTransform, split_final_punctuation


@pytest.fixture(scope="module")
def awkward_corpus(tmp_path_factory):
    """600 lines of the bundled corpus with blank lines, CRLF endings, a line that splitlines
    splits in two (U+2028) and surrounding spaces: what line-by-line reading must get right."""
    lines = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()[:600]
    lines[3] = "  " + lines[3] + "   "
    lines[10] = lines[10] + "\u2028" + lines[11]
    text = "\r\n".join(lines[:50]) + "\n\n\n" + "\n".join(lines[50:]) + "\n"
    path = tmp_path_factory.mktemp("awkward") / "corpus.txt"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("transform,workers", [("trans+inv", 2), ("trans+perm", 1)])
def test_streamed_pair_equals_the_in_memory_computation(
    awkward_corpus, tmp_path, monkeypatch, transform, workers
):
    monkeypatch.setattr(streamed_synthetic, "CHUNK_LINES", 37)  # many chunks, across both splits
    out = tmp_path / "pair"
    argv = ["--corpus", str(awkward_corpus), "--transform", transform, "--out", str(out)]
    argv += [
        "--vocab-size",
        "300",
        "--valid-size",
        "40",
        "--workers",
        str(workers),
        "--anchor-fraction",
        "0.1",
    ]
    assert prepare_pair_main(argv) == 0
    manifest = json.loads((out / "pair.json").read_text())
    lang2 = manifest["languages"][1]

    # the in-memory computation, independently: whole corpus read, encoded, derived
    text = awkward_corpus.read_text(encoding="utf-8")
    sentences = [split_final_punctuation(s.strip()) for s in text.splitlines() if s.strip()]
    mask = valid_mask(len(sentences), 40, 1)
    sp = train_sentencepiece([s for s, v in zip(sentences, mask) if not v], tmp_path / "ref", 300, "ref")
    pieces = vocabulary(sp)
    assert pieces == vocabulary(
        __import__("sentencepiece").SentencePieceProcessor(model_file=str(out / "spm.model"))
    )
    anchors = [pieces.index(p) for p in (out / "dict" / "anchors.txt").read_text(encoding="utf-8").split()]
    derive = PieceSentenceTransform(pieces, transform.split("+"), seed=1, anchors=anchors)
    encoded = sp.encode(sentences)
    for split, in_split in (("train", ~mask), ("valid", mask)):
        expected1 = [" ".join(pieces[i] for i in ids) for ids, keep in zip(encoded, in_split) if keep]
        expected2 = [derive.derive_text(ids) for ids, keep in zip(encoded, in_split) if keep]
        assert (out / "text" / f"{split}.en").read_text(encoding="utf-8").splitlines() == expected1
        assert (out / "text" / f"{split}.{lang2}").read_text(encoding="utf-8").splitlines() == expected2
    assert manifest["stats"]["sentences"] == {"train": int((~mask).sum()), "valid": int(mask.sum())}
    counts = np.bincount([i for ids in encoded for i in ids], minlength=len(pieces))
    dict_lines = (out / "bin" / "dict.txt").read_text(encoding="utf-8").splitlines()
    assert dict_lines[: len(pieces) - 1] == [f"{p} {c}" for p, c in zip(pieces[1:], counts[1:])]

    # the real fairseq-preprocess on that text writes the same bytes
    reference = tmp_path / "reference"
    run(
        [sys.executable, "-m", "fairseq_cli.preprocess", "--source-lang", "en", "--target-lang", lang2]
        + ["--srcdict", str(out / "bin" / "dict.txt"), "--tgtdict", str(out / "bin" / "dict.txt")]
        + ["--destdir", str(reference), "--workers", "2"]
        + ["--trainpref", str(out / "text" / "train"), "--validpref", str(out / "text" / "valid")]
    )
    for lang in ("en", lang2):
        for split in ("train", "valid"):
            for ext in ("bin", "idx"):
                ours = (out / "bin" / lang / f"{split}.{ext}").read_bytes()
                assert ours == (reference / f"{split}.en-{lang2}.{lang}.{ext}").read_bytes(), (
                    lang,
                    split,
                    ext,
                )
                # the parallel stream is the same file, not a copy of it
                para = out / "bin" / "para" / f"{split}.en-{lang2}.{lang}.{ext}"
                assert (
                    para.read_bytes() == ours
                    and para.stat().st_ino == (out / "bin" / lang / f"{split}.{ext}").stat().st_ino
                )


def test_a_bad_byte_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"one line\nsecond \xff line\n")
    with pytest.raises(Exception, match=r"bad.txt:2: corpus is not valid UTF-8 \(byte 0xff at column 8\)"):
        list(iter_lines(path))
