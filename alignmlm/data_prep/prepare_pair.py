"""Raw text -> binarized fairseq data for a language pair, in one command.

Synthetic pair (English and a language derived from it, docs/design.md §2):

    alignmlm prepare-pair --corpus data/en_ewt/pretrain.txt \\
        --transform trans+inv --out runs/data/en_trans_inv

Natural pair (two corpora and a MUSE dictionary `word translation` per line):

    alignmlm prepare-pair --corpus wiki.en.txt --lang1 en --corpus2 wiki.fr.txt \\
        --lang2 fr --dictionary en-fr.txt --out runs/data/en_fr

Output (OUT/):
  pair.json                 manifest: settings, input fingerprints, languages, statistics
  spm.model, spm.vocab      sentencepiece model (one per pair; natural pairs: joint)
  text/{train,valid}.LANG   space-separated pieces, as fairseq-preprocess reads them
  dict/{all,train,heldout}.txt   bilingual dictionary, one pair per line; synthetic pairs list
                            pieces and their twins, natural pairs list words
  bin/dict.txt              the joint fairseq dictionary (twin of id i is i + V under `trans`)
  bin/LANG/{train,valid}.*  monolingual binarized streams      (--data for fairseq-train: OUT/bin)
  bin/para/{train,valid}.L1-L2.*  sentence-aligned pairs for TLM (synthetic pairs)

OUT must be new, empty or a prepared pair; one OUT takes one preparation at a time. A pair made
with other settings is replaced only with --overwrite, and then only the files listed above;
a directory holding anything else is refused. The same command run twice does nothing the
second time.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import shutil
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from alignmlm.data.bilingual_dictionary import read_word_pairs, write_word_pairs
from alignmlm.errors import reported

from ..errors import InputError
from ..pair import FORMAT_VERSION, MANIFEST, PARALLEL_SUBDIR
from .binarize import fairseq_preprocess, link_or_copy
from .corpus import fingerprint, read_sentences, valid_mask
from .dictionary import (
    dictionary_coverage,
    joint_tokens,
    parse_band,
    piece_counts,
    split_by_source_word,
    synthetic_pairs,
    write_fairseq_dictionary,
)
from .sentencepiece_model import train_sentencepiece, vocabulary
from .transforms import PieceSentenceTransform, parse_transforms, split_final_punctuation

logger = logging.getLogger("prepare_pair")
LOCK = ".prepare.lock"  # held while a preparation writes OUT


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--corpus", type=Path, required=True, help="plain text of language 1, one sentence per line (UTF-8)"
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--lang1", default="en", help="name of language 1 (default: en)")
    p.add_argument(
        "--transform",
        help="synthetic pair: transforms deriving language 2, joined "
        "by '+' from trans (script change), inv (inverted word order), perm "
        "(fixed random word order); e.g. trans+inv",
    )
    p.add_argument("--corpus2", type=Path, help="natural pair: plain text of language 2")
    p.add_argument(
        "--dictionary", type=Path, help="natural pair: MUSE bilingual dictionary, `word translation` per line"
    )
    p.add_argument(
        "--lang2",
        help="name of language 2 (default: LANG1_TRANSFORMS, e.g. "
        "en_trans_inv, for a synthetic pair; required for a natural pair)",
    )
    p.add_argument(
        "--vocab-size",
        type=int,
        default=4000,
        help="sentencepiece pieces (per language for a synthetic pair; joint for a "
        "natural pair). Default 4000 suits the bundled corpus; the paper used 40000",
    )
    p.add_argument(
        "--valid-size",
        type=int,
        default=1000,
        help="sentences held out for validation per corpus: min(this, 10%% of the corpus), at least 1",
    )
    p.add_argument(
        "--dict-train-fraction",
        type=float,
        default=0.5,
        help="share of the bilingual dictionary's source words the alignment loss may "
        "train on (with all their translations); the others are held out for "
        "evaluation (default %(default)s, the paper's bilingual_rate)",
    )
    p.add_argument(
        "--heldout-band",
        metavar="FIRST-LAST",
        help="hold out the source words ranked FIRST..LAST-1 by frequency in language "
        "1's training text instead of a random share (MUSE's test words: 5000-6500); "
        "--dict-train-fraction then applies to the other source words",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the valid split, perm, the dictionary split and sentencepiece",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes for fairseq-preprocess (--workers) and threads for sentencepiece training",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the prepared pair in OUT even if it was made with other settings (only the "
        "files a preparation writes; a directory holding anything else is refused)",
    )
    return p


def check_args(args: argparse.Namespace) -> str:
    """Validates the combination of flags; returns 'synthetic' or 'natural'."""
    natural = args.corpus2 is not None or args.dictionary is not None
    if natural == (args.transform is not None):
        raise InputError(
            "give either --transform (synthetic pair) or --corpus2 and "
            "--dictionary (natural pair), not both and not neither"
        )
    if natural and (args.corpus2 is None or args.dictionary is None or not args.lang2):
        raise InputError("a natural pair needs --corpus2, --dictionary and --lang2")
    if args.vocab_size < 10:
        raise InputError(f"--vocab-size must be at least 10, got {args.vocab_size}")
    if args.transform is not None:
        transforms = parse_transforms(args.transform)
        args.lang2 = args.lang2 or "_".join((args.lang1,) + transforms)
    for name in (args.lang1, args.lang2):
        if not name.replace("_", "").isalnum():
            raise InputError(f"language name {name!r}: use letters, digits and '_' only")
    if args.lang1 == args.lang2:
        raise InputError(f"--lang1 and --lang2 are both {args.lang1!r}")
    parse_band(args.heldout_band)
    return "natural" if natural else "synthetic"


def settings(args: argparse.Namespace, kind: str) -> dict:
    """Everything that determines the output; compared before anything is overwritten."""
    inputs = [args.corpus] + ([args.corpus2, args.dictionary] if kind == "natural" else [])
    for path in inputs:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: input file not found")
    return {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "lang1": args.lang1,
        "lang2": args.lang2,
        "transform": args.transform,
        "vocab_size": args.vocab_size,
        "valid_size": args.valid_size,
        "dict_train_fraction": args.dict_train_fraction,
        "heldout_band": args.heldout_band,
        "seed": args.seed,
        "inputs": {str(p): fingerprint(p) for p in inputs},
    }


# Everything a preparation writes into OUT: --overwrite removes these and nothing else.
WRITTEN = ("text", "dict", "bin", "spm.model", "spm.vocab", MANIFEST, LOCK)


@contextmanager
def exclusive(out: Path):
    """Hold OUT for one preparation: a second prepare-pair on the same OUT stops at once instead
    of deleting the first one's work in progress (an advisory lock, released on any exit)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileExistsError(
                f"{out}: another prepare-pair is writing this directory; wait for it or choose another --out"
            ) from None
        yield


def check_inputs_outside(out: Path, inputs: list[Path]) -> None:
    for path in inputs:
        if path.resolve().is_relative_to(out.resolve()):
            raise InputError(
                f"input {path} lies inside --out {out}, which a preparation writes: keep the "
                "inputs outside the output directory"
            )


def claim_output(out: Path, wanted: dict, overwrite: bool) -> bool:
    """Returns False when OUT already holds this exact pair (nothing to do). OUT must be new,
    empty or a prepared pair; --overwrite replaces only the files a preparation writes."""
    manifest = out / MANIFEST
    present = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if any(name != LOCK for name in present):
        if not manifest.is_file():
            raise FileExistsError(
                f"{out} is not empty and is not a prepared pair; choose an empty or new --out "
                "(prepare-pair never deletes files it did not write)"
            )
        foreign = [name for name in present if name not in WRITTEN]
        if foreign:
            raise FileExistsError(
                f"{out} holds files a preparation does not write ({', '.join(foreign)}); move "
                "them elsewhere or choose another --out"
            )
        old = json.loads(manifest.read_text())
        if old.get("settings") == wanted and old.get("complete") and not overwrite:
            return False
        differ = sorted(
            k
            for k in set(wanted) | set(old.get("settings", {}))
            if wanted.get(k) != old.get("settings", {}).get(k)
        )
        if differ and not overwrite:
            raise FileExistsError(
                f"{out} was made with other settings ({', '.join(differ)} differ); choose another "
                "--out or pass --overwrite to replace this prepared pair"
            )
        for name in present:  # an unfinished run of these settings, or --overwrite
            if name != LOCK:
                target = out / name
                shutil.rmtree(target) if target.is_dir() else target.unlink()
    manifest.write_text(json.dumps({"settings": wanted, "complete": False}, indent=2))
    return True


def write_lines(path: Path, lines) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def split_write(out: Path, lang: str, texts: list[str], mask) -> dict:
    write_lines(out / "text" / f"train.{lang}", (t for t, v in zip(texts, mask) if not v))
    write_lines(out / "text" / f"valid.{lang}", (t for t, v in zip(texts, mask) if v))
    return {"train": int((~mask).sum()), "valid": int(mask.sum())}


def encode(sp, sentences: list[str], desc: str, chunk: int = 10_000) -> list[list[int]]:
    ids: list[list[int]] = []
    with tqdm(
        total=len(sentences), desc=desc, unit="sent", file=sys.stderr, disable=len(sentences) <= chunk
    ) as bar:
        for start in range(0, len(sentences), chunk):
            ids.extend(sp.encode(sentences[start : start + chunk]))
            bar.update(min(chunk, len(sentences) - start))
    return ids


def prepare_synthetic(args, out: Path, stats: dict) -> dict:
    transforms = parse_transforms(args.transform)
    trans = "trans" in transforms
    sentences = [split_final_punctuation(s) for s in read_sentences(args.corpus)]
    mask = valid_mask(len(sentences), args.valid_size, args.seed)
    logger.info("%s: %d sentences (%d for validation)", args.corpus, len(sentences), mask.sum())

    t = time.perf_counter()
    train_sentences = [s for s, v in zip(sentences, mask) if not v]
    sp = train_sentencepiece(
        train_sentences, out / "spm", args.vocab_size, str(args.corpus), seed=args.seed, threads=args.workers
    )
    pieces = vocabulary(sp)
    stats["seconds"]["sentencepiece_train"] = time.perf_counter() - t

    t = time.perf_counter()
    encoded = encode(sp, sentences, "encode")
    stats["seconds"]["encode"] = time.perf_counter() - t
    t = time.perf_counter()
    derive = PieceSentenceTransform(pieces, transforms, seed=args.seed)
    lang1_text = [" ".join([pieces[i] for i in ids]) for ids in encoded]
    lang2_text = [
        derive.derive_text(ids)
        for ids in tqdm(encoded, desc=f"derive {args.lang2}", disable=len(encoded) < 50_000, file=sys.stderr)
    ]
    stats["seconds"]["transform"] = time.perf_counter() - t
    stats["sentences"] = split_write(out, args.lang1, lang1_text, mask)
    split_write(out, args.lang2, lang2_text, mask)

    counts = piece_counts((ids for ids, v in zip(encoded, mask) if not v), len(pieces))
    tokens = joint_tokens(pieces, piece_counts(encoded, len(pieces)), trans)
    write_fairseq_dictionary(out / "bin" / "dict.txt", tokens)
    pairs = synthetic_pairs(pieces, trans)
    return {
        "dictionary_units": "pieces",
        "vocab_per_language": len(pieces) - 1,
        "twin_offset": len(pieces) - 1 if trans else 0,
        "pairs": pairs,
        "source_frequency": {p: int(c) for p, c in zip(pieces, counts)},
        "transforms": list(transforms),
    }


def prepare_natural(args, out: Path, stats: dict) -> dict:
    corpora = {args.lang1: read_sentences(args.corpus), args.lang2: read_sentences(args.corpus2)}
    pairs = read_word_pairs(args.dictionary)
    masks = {lang: valid_mask(len(s), args.valid_size, args.seed) for lang, s in corpora.items()}
    t = time.perf_counter()
    train_sentences = [s for lang, sents in corpora.items() for s, v in zip(sents, masks[lang]) if not v]
    sp = train_sentencepiece(
        train_sentences,
        out / "spm",
        args.vocab_size,
        f"{args.corpus} + {args.corpus2}",
        seed=args.seed,
        threads=args.workers,
    )
    pieces = vocabulary(sp)
    stats["seconds"]["sentencepiece_train"] = time.perf_counter() - t
    t = time.perf_counter()
    counts = 0
    stats["sentences"] = {}
    for lang, sents in corpora.items():
        encoded = encode(sp, sents, f"encode {lang}")
        counts = counts + piece_counts(encoded, len(pieces))
        texts = [" ".join([pieces[i] for i in ids]) for ids in encoded]
        stats["sentences"][lang] = split_write(out, lang, texts, masks[lang])
    stats["seconds"]["encode"] = time.perf_counter() - t
    write_fairseq_dictionary(out / "bin" / "dict.txt", joint_tokens(pieces, counts, trans=False))
    coverage = dictionary_coverage(pairs, sp)
    logger.info(
        "dictionary %s: %d pairs; both sides one piece: %d, several pieces: %d, out of vocabulary: %d%s",
        args.dictionary,
        coverage["pairs"],
        coverage["single_piece"],
        coverage["multi_piece"],
        coverage["oov"],
        f" (e.g. {'; '.join(coverage['oov_examples'])})" if coverage["oov"] else "",
    )
    stats["dictionary_coverage"] = coverage
    frequency = Counter(
        word for s, v in zip(corpora[args.lang1], masks[args.lang1]) if not v for word in s.split()
    )
    return {"dictionary_units": "words", "pairs": pairs, "source_frequency": frequency, "transforms": []}


def binarize(args, out: Path, kind: str, stats: dict) -> None:
    common = [
        "--validpref",
        str(out / "text" / "valid"),
        "--trainpref",
        str(out / "text" / "train"),
        "--workers",
        str(args.workers),
    ]
    bin_dir, dict_path = out / "bin", str(out / "bin" / "dict.txt")
    seconds = 0.0
    if kind == "synthetic":  # every sentence is parallel: binarize once, link the streams
        para = bin_dir / PARALLEL_SUBDIR
        seconds += fairseq_preprocess(
            [
                "--source-lang",
                args.lang1,
                "--target-lang",
                args.lang2,
                "--srcdict",
                dict_path,
                "--tgtdict",
                dict_path,
                "--destdir",
                str(para),
                *common,
            ],
            "preprocess.log",
        )
        for lang in (args.lang1, args.lang2):
            (bin_dir / lang).mkdir(exist_ok=True)
            for split in ("train", "valid"):
                for ext in ("bin", "idx"):
                    link_or_copy(
                        para / f"{split}.{args.lang1}-{args.lang2}.{lang}.{ext}",
                        bin_dir / lang / f"{split}.{ext}",
                    )
    else:
        for lang in (args.lang1, args.lang2):
            seconds += fairseq_preprocess(
                [
                    "--only-source",
                    "--srcdict",
                    dict_path,
                    "--destdir",
                    str(bin_dir / lang),
                    "--trainpref",
                    str(out / "text" / f"train.{lang}"),
                    "--validpref",
                    str(out / "text" / f"valid.{lang}"),
                    "--workers",
                    str(args.workers),
                ],
                "preprocess.log",
            )
    for lang in (args.lang1, args.lang2):
        link_or_copy(bin_dir / "dict.txt", bin_dir / lang / "dict.txt")
    stats["seconds"]["fairseq_preprocess"] = seconds


def prepare(args: argparse.Namespace) -> Path:
    kind = check_args(args)
    wanted = settings(args, kind)
    out = args.out
    check_inputs_outside(out, [Path(p) for p in wanted["inputs"]])
    with exclusive(out):
        return prepare_in(args, kind, wanted, out)


def prepare_in(args: argparse.Namespace, kind: str, wanted: dict, out: Path) -> Path:
    if not claim_output(out, wanted, args.overwrite):
        logger.info("%s already holds this pair with the same settings; nothing to do", out)
        return out
    start = time.perf_counter()
    for sub in ("text", "dict", "bin"):
        (out / sub).mkdir(exist_ok=True)
    stats: dict = {"seconds": {}}
    prepare_fn = prepare_synthetic if kind == "synthetic" else prepare_natural
    result = prepare_fn(args, out, stats)

    pairs = result.pop("pairs")
    train_pairs, heldout_pairs, split = split_by_source_word(
        pairs,
        args.dict_train_fraction,
        args.seed,
        parse_band(args.heldout_band),
        result.pop("source_frequency"),
    )
    for name, subset in (("all", pairs), ("train", train_pairs), ("heldout", heldout_pairs)):
        write_word_pairs(out / "dict" / f"{name}.txt", subset)
    result["dictionary_split"] = split
    logger.info(
        "bilingual dictionary split by source word: %d words (%d pairs) for training, "
        "%d words (%d pairs) held out%s",
        split["train_sources"],
        split["train_pairs"],
        split["heldout_sources"],
        split["heldout_pairs"],
        f", {split['unused_pairs']} pairs unused" if split["unused_pairs"] else "",
    )

    binarize(args, out, kind, stats)
    stats["seconds"]["total"] = time.perf_counter() - start
    manifest = {
        "settings": wanted,
        "complete": True,
        "languages": [args.lang1, args.lang2],
        "spm_model": "spm.model",
        "data": "bin",
        **result,
        "stats": stats,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    logger.info(
        "done in %.1fs (fairseq-preprocess %.1fs): fairseq data in %s",
        stats["seconds"]["total"],
        stats["seconds"]["fairseq_preprocess"],
        out / "bin",
    )
    return out


@reported
def main(argv=None) -> int:
    logging.basicConfig(
        format="%(asctime)s | %(name)s | %(message)s", level=logging.INFO, datefmt="%H:%M:%S", force=True
    )
    args = build_parser().parse_args(argv)
    try:
        prepare(args)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
