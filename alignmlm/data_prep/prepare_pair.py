"""Raw text or CoNLL-U -> binarized fairseq data for a language pair, in one command.

Synthetic pair (English and a language derived from it, docs/design.md §2):

    alignmlm prepare-pair --corpus data/en_ewt/pretrain.txt \\
        --transform trans+inv --out runs/data/en_trans_inv
    alignmlm prepare-pair --corpus data/en_ewt/pretrain.conllu --transform trans+syn \\
        --syn-treebank data/tr_boun/train.conllu [--syn-heads nouns,verbs] --out runs/data/en_trans_syn

Corpora: plain text (a line may hold several sentences: inv and perm reverse
or permute each sentence of it separately, a sentence ending at every word that ends in '.', '!'
or '?', which is detached as its own word; so "Dr." ends one too), or CoNLL-U (a `.conllu` file,
or --corpus-format conllu): each sentence's FORMs joined by single spaces, so pretraining text is
tokenized exactly as CoNLL-U task data (prepare-pos) is; a CoNLL-U sentence is one sentence,
never split. Syn needs the trees of a CoNLL-U corpus (HEAD, DEPREL, UPOS); plain text has none:
parse it into CoNLL-U first with Stanza or UDPipe (offline models you download).

Natural pair (two corpora and a MUSE dictionary `word translation` per line; for XLM's TLM also
sentence-aligned parallel text, --parallel):

    alignmlm prepare-pair --corpus wiki.en.txt --lang1 en --corpus2 wiki.fr.txt \\
        --lang2 fr --dictionary en-fr.txt [--parallel para.en para.fr] --out runs/data/en_fr

--parallel takes two aligned files (line k of the second is the translation of line k of the
first) or one TSV file (`sentence<TAB>translation`); the first file or column is --lang1's side.
Its pairs are split into train/valid by the rule and seed of the corpora (--valid-size, --seed),
encoded with the pair's sentencepiece model and binarized as bin/para/, as for a synthetic pair.
Sentencepiece and the fairseq dictionary are made from the monolingual corpora only, never from
the parallel text: the parallel text is XLM's extra data, and every objective must see the same
pieces and the same monolingual streams (prepared with or without --parallel, a pair has the same
vocabulary, fairseq dictionary and bin/LANG/ streams). Characters of the parallel text that the
model does not know become <unk>; their count is logged and kept in pair.json's stats.

Output (OUT/):
  pair.json                 manifest: settings, input fingerprints, languages, statistics
  spm.model, spm.vocab      sentencepiece model (one per pair; natural pairs: joint)
  text/{train,valid}.LANG   space-separated pieces (what fairseq-preprocess would binarize)
  dict/{all,train,heldout}.txt   bilingual dictionary, one pair per line; synthetic pairs list
                            pieces and their twins, natural pairs list words
  bin/dict.txt              the joint fairseq dictionary (twin of id i is i + V under `trans`)
  bin/LANG/{train,valid}.*  monolingual binarized streams      (--data for fairseq-train: OUT/bin)
  text/para/{train,valid}.LANG   the parallel text's pieces (natural pairs with --parallel)
  bin/para/{train,valid}.L1-L2.*  sentence-aligned pairs for TLM (synthetic pairs; natural
                            pairs with --parallel)

The binaries are written straight from the token ids with fairseq's own writer
(data_prep/binary_writer.py): the bytes fairseq-preprocess writes for text/, without a second
pass. A plain-text synthetic pair is streamed (data_prep/streamed_synthetic.py): memory stays
bounded whatever the corpus size. CoNLL-U corpora (syn needs their trees) and natural pairs are
read into memory.

OUT must be new, empty or a prepared pair; one OUT takes one preparation at a time. Everything
is built in OUT/.partial and moved in at the end, pair.json last: a run that fails or is killed
leaves the previous pair as it was, and its rerun is never blocked by it. A pair made with other
settings (or other input contents) is replaced only with --overwrite, and then only the files
listed above; a directory holding anything else is refused. Inputs are identified by content
(sha256), not by path: the same command run twice, or with the same files by another path, does
nothing the second time.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from alignmlm.data.bilingual_dictionary import read_word_pairs, write_word_pairs
from alignmlm.data.conllu_reader import corpus_sentences
from alignmlm.data.parallel_text import read_parallel
from alignmlm.errors import reported

from ..errors import InputError
from ..pair import FORMAT_VERSION, MANIFEST, PARALLEL_SUBDIR
from ..safe_files import exclusive, staged, staging_path, write_text_atomic
from . import shards
from .binary_writer import SplitStreams, fairseq_dictionary, id_map, link_dictionaries, link_parallel
from .corpus import check_input_file, input_fingerprint, make_output_dir, read_sentences, valid_mask
from .dictionary import (
    choose_anchors,
    dictionary_coverage,
    joint_tokens,
    pairs_in_corpora,
    parse_band,
    piece_counts,
    split_by_source_word,
    write_fairseq_dictionary,
    write_synthetic_dictionaries,
)
from .sentencepiece_model import train_sentencepiece, vocabulary
from .streamed_synthetic import prepare_streamed_synthetic
from .syn_order import SynOrder, parse_heads
from .transform_conllu import add_syn_arguments
from .transforms import PieceSentenceTransform, parse_transforms, refuse_syn

logger = logging.getLogger("prepare_pair")
LOCK = ".prepare.lock"  # the lock file of earlier versions (now the lock is on OUT itself)
# pair.json's settings record inputs by role; parallel2 is the second file of --parallel
ROLES = ("corpus", "corpus2", "dictionary", "syn_treebank", "parallel", "parallel2")
CORPUS_FORMATS = ("auto", "text", "conllu")
# language names the layout of OUT gives a meaning: LANG is a directory of bin/ beside these
RESERVED_LANGUAGES = {
    PARALLEL_SUBDIR: f"bin/{PARALLEL_SUBDIR} holds the sentence-aligned streams (TLM), so the "
    "language's own data would be mixed with them and never trained on",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--corpus",
        type=Path,
        required=True,
        help="corpus of language 1: plain UTF-8 text, one or more sentences per line, or CoNLL-U "
        "(see --corpus-format)",
    )
    p.add_argument(
        "--corpus-format",
        choices=CORPUS_FORMATS,
        default="auto",
        help="how --corpus and --corpus2 are read: conllu (each sentence's FORMs joined by spaces, "
        "never split; its trees for syn), text (one or more sentences per line), or auto (default): "
        "conllu for a file named *.conllu, text otherwise",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--lang1", default="en", help="name of language 1 (default: en)")
    p.add_argument(
        "--transform",
        help="synthetic pair: transforms deriving language 2, joined "
        "by '+' from trans (script change), inv (inverted word order), perm "
        "(fixed random word order), syn (word order of --syn-treebank's language; needs a CoNLL-U "
        "--corpus with trees: parse plain text with Stanza or UDPipe first); e.g. trans+inv",
    )
    add_syn_arguments(p)
    p.add_argument(
        "--corpus2", type=Path, help="natural pair: corpus of language 2 (text or CoNLL-U, as --corpus)"
    )
    p.add_argument(
        "--dictionary", type=Path, help="natural pair: MUSE bilingual dictionary, `word translation` per line"
    )
    p.add_argument(
        "--parallel",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="natural pair: sentence-aligned parallel text for XLM's TLM (bin/para/): two files, "
        "--lang1's then --lang2's (line k of one the translation of line k of the other), or one "
        "TSV file, sentence<TAB>translation per line (--lang1's sentence first). Plain text, "
        "tokenized as the corpora are; split into train/valid as the corpora are. Without it a "
        "natural pair has no bin/para/ (XLM then needs --tlm-fraction 0)",
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
        "--dict-min-count",
        type=int,
        default=0,
        help="natural pair: keep only the dictionary pairs whose source word occurs at least this "
        "often in language 1's training text and whose translation in language 2's (words as "
        "written, split at spaces), before the split into training and held-out words; a general "
        "dictionary (e.g. FreeDict's 61k en-tr pairs) is mostly words the corpora never show. "
        "0 (default): every pair",
    )
    p.add_argument(
        "--anchor-fraction",
        type=float,
        default=0.0,
        help="synthetic pair with trans: this share of the pieces (drawn with --seed) keeps its "
        "original form in language 2, shared by both languages (anchor points, Conneau et al. "
        "2020; mOthello's anchor tokens); the others get twins. Anchors are listed in "
        "dict/anchors.txt and left out of the bilingual dictionary, so that no objective trains "
        "on them and P@1 never counts them. 0 (default): no piece is shared",
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
        help="seed (>= 0) of the valid split, perm, the dictionary split and sentencepiece",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes encoding and transforming a plain-text corpus (>= 1); the result does "
        "not depend on it (sentencepiece always trains with 2 threads: its vocabulary depends "
        "on its thread count)",
    )
    p.add_argument(
        "--shards",
        type=int,
        default=1,
        metavar="N",
        help="a synthetic pair of a plain-text corpus in N fairseq data shards (bin/shard0 .. "
        "shardN-1; fairseq-train takes one per epoch, `alignmlm train --data OUT` passes them "
        "all), with one sentencepiece model and dictionary; see --stage",
    )
    p.add_argument(
        "--stage",
        choices=("all", "vocab", "shard", "finish"),
        default="all",
        help="with --shards: all (default) runs every stage here; vocab (sentencepiece), shard "
        "(one shard, --shard-index) and finish (the pair) run them as separate jobs, e.g. a "
        "SLURM array for the shards (scripts/slurm/prepare_shards.sh); give every stage the same flags",
    )
    p.add_argument(
        "--shard-index", type=int, metavar="K", help="--stage shard: the shard to prepare (0-based)"
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
    if args.parallel is not None and not natural:
        raise InputError(
            "--parallel is for a natural pair (--corpus2, --dictionary): every sentence of a "
            "synthetic pair is parallel already, and its bin/para/ is made from --corpus"
        )
    if args.parallel is not None and len(args.parallel) > 2:
        raise InputError(
            f"--parallel takes one TSV file or two aligned files (--lang1's, then --lang2's), got "
            f"{len(args.parallel)}: {' '.join(map(str, args.parallel))}"
        )
    # every value is checked here, before the inputs are hashed or sentencepiece trains
    if args.vocab_size < 10:
        raise InputError(f"--vocab-size must be at least 10, got {args.vocab_size}")
    if args.valid_size < 1:
        raise InputError(
            f"--valid-size must be at least 1 (sentences held out per corpus), got {args.valid_size}"
        )
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    if args.seed < 0:
        raise InputError(f"--seed must be 0 or more, got {args.seed}")
    if not (math.isfinite(args.dict_train_fraction) and 0.0 < args.dict_train_fraction <= 1.0):
        raise InputError(
            f"--dict-train-fraction must be in (0, 1] (the share of dictionary source words to train "
            f"on), got {args.dict_train_fraction}"
        )
    parse_band(args.heldout_band)
    if args.dict_min_count < 0:
        raise InputError(f"--dict-min-count must be 0 or more, got {args.dict_min_count}")
    if args.dict_min_count and args.transform is not None:
        raise InputError(
            "--dict-min-count filters a natural pair's dictionary; a synthetic pair's dictionary "
            "is its vocabulary (every piece and its twin)"
        )
    if not (math.isfinite(args.anchor_fraction) and 0.0 <= args.anchor_fraction < 1.0):
        raise InputError(
            f"--anchor-fraction must be in [0, 1) (the share of pieces shared by both languages), "
            f"got {args.anchor_fraction}"
        )
    if args.anchor_fraction and (args.transform is None or "trans" not in parse_transforms(args.transform)):
        raise InputError(
            "--anchor-fraction needs a synthetic pair with a script change (--transform trans...): "
            "without trans every piece is shared already"
        )
    parse_heads(args.syn_heads)
    if args.transform is not None:
        transforms = parse_transforms(args.transform)
        if corpus_format(args.corpus, args.corpus_format) == "text":
            refuse_syn(transforms, "the --corpus plain text")
        if "syn" in transforms and args.syn_treebank is None:
            raise InputError(
                f"--transform {args.transform!r} has syn: give --syn-treebank, a UD treebank (CoNLL-U) "
                "of the target language whose word order syn copies"
            )
        args.lang2 = args.lang2 or "_".join((args.lang1,) + transforms)
    if args.syn_treebank is not None and (
        args.transform is None or "syn" not in parse_transforms(args.transform)
    ):
        raise InputError(f"--syn-treebank {args.syn_treebank} is given but --transform has no syn")
    for flag, name in (("--lang1", args.lang1), ("--lang2", args.lang2)):
        if not name.replace("_", "").isalnum():
            raise InputError(f"{flag} {name!r}: use letters, digits and '_' only")
        if name.lower() in RESERVED_LANGUAGES:
            raise InputError(
                f"{flag} {name!r} is reserved: {RESERVED_LANGUAGES[name.lower()]}; choose another name"
            )
    if args.lang1 == args.lang2:
        raise InputError(f"--lang1 and --lang2 are both {args.lang1!r}")
    if args.lang1.lower() == args.lang2.lower():  # bin/EN and bin/en are one directory on macOS
        raise InputError(
            f"--lang1 {args.lang1!r} and --lang2 {args.lang2!r} differ only in case: on a "
            "case-insensitive file system they share one directory; choose names that differ otherwise"
        )
    return "natural" if natural else "synthetic"


def input_paths(args: argparse.Namespace, kind: str) -> dict[str, Path]:
    """role -> path of the input files (the role is also the flag: --corpus, ...)."""
    roles = {"corpus": args.corpus}
    if kind == "natural":
        roles.update(corpus2=args.corpus2, dictionary=args.dictionary)
    if args.syn_treebank is not None:
        roles["syn_treebank"] = args.syn_treebank
    for role, path in zip(("parallel", "parallel2"), args.parallel or ()):
        roles[role] = path
    return roles


def role_flag(role: str) -> str:
    """The flag that gives the input of ROLE (both files of --parallel are --parallel)."""
    return "--parallel" if role.startswith("parallel") else f"--{role.replace('_', '-')}"


def corpus_format(path: Path, flag_value: str) -> str:
    """'conllu' or 'text': --corpus-format, or under auto the file name's suffix."""
    if flag_value != "auto":
        return flag_value
    return "conllu" if path.suffix.lower() == ".conllu" else "text"


def settings(args: argparse.Namespace, kind: str, inputs: dict[str, Path]) -> dict:
    """Everything that determines the output; compared before anything is overwritten. Inputs
    are recorded by role and content hash, not by path: the same file by another path (relative,
    absolute, a symlink) is the same preparation."""
    wanted = {
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
        "inputs": {role: input_fingerprint(path, role_flag(role)) for role, path in inputs.items()},
        # how each corpus was read ('text': lines split into sentences at final . ! ?)
        "corpus_format": {
            role: corpus_format(path, args.corpus_format)
            for role, path in inputs.items()
            if role.startswith("corpus")
        },
    }
    if args.dict_min_count:  # recorded only when used: older pairs keep their settings
        wanted["dict_min_count"] = args.dict_min_count
    if args.anchor_fraction:
        wanted["anchor_fraction"] = args.anchor_fraction
    if args.shards > 1:
        wanted["shards"] = args.shards
    if "syn_treebank" in inputs:
        wanted["syn_heads"] = ",".join(parse_heads(args.syn_heads))
    return wanted


# Everything a preparation writes into OUT: --overwrite replaces these and nothing else (the
# staging directory .partial only lives while a preparation runs, or after one was killed).
WRITTEN = ("text", "dict", "bin", "spm.model", "spm.vocab", MANIFEST, LOCK, ".partial", shards.WORK)


def check_inputs_outside(out: Path, inputs: list[Path]) -> None:
    for path in inputs:
        if path.resolve().is_relative_to(out.resolve()):
            raise InputError(
                f"input {path} lies inside --out {out}, which a preparation writes: keep the "
                "inputs outside the output directory"
            )


def read_manifest(path: Path) -> dict:
    """pair.json as a dict; an unreadable one counts as an unfinished preparation."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"complete": False}
    return manifest if isinstance(manifest, dict) else {"complete": False}


def claim_output(out: Path, wanted: dict, overwrite: bool) -> bool:
    """Returns False when OUT already holds this exact pair (nothing to do), True when a
    preparation may build it. OUT must be new, empty or a prepared pair (finished or not);
    nothing is removed here: the new files replace the old ones only once they are complete."""
    manifest = out / MANIFEST
    present = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if all(name in (LOCK, staging_path(out).name) for name in present):
        return True
    if not manifest.is_file():
        raise InputError(
            f"--out {out} is not empty and is not a prepared pair; choose an empty or new --out "
            "(prepare-pair never deletes files it did not write)"
        )
    foreign = [name for name in present if name not in WRITTEN]
    if foreign:
        raise InputError(
            f"--out {out} holds files a preparation does not write ({', '.join(foreign)}); move "
            "them elsewhere or choose another --out"
        )
    old = read_manifest(manifest)
    if not old.get("complete"):  # a run that failed or was killed: its rerun replaces it
        logger.info("%s holds an unfinished preparation; replacing it", out)
        return True
    old_settings = old.get("settings", {})
    if old_settings == wanted and not overwrite:
        return False
    if overwrite:
        return True
    if set(old_settings.get("inputs", {})) - set(ROLES):
        raise InputError(
            f"--out {out} was prepared by an older version, which recorded its inputs differently (by "
            "path, hashing only part of each file), so whether they are the same cannot be told; "
            "pass --overwrite to prepare it again (or choose another --out)"
        )
    differ = sorted(k for k in set(wanted) | set(old_settings) if wanted.get(k) != old_settings.get(k))
    detail = ", ".join(differ)
    if differ == ["inputs"]:
        detail = "the contents of " + ", ".join(
            dict.fromkeys(
                role_flag(role)
                for role in ROLES
                if wanted["inputs"].get(role) != old_settings["inputs"].get(role)
            )
        )
    raise InputError(
        f"--out {out} was made with other settings ({detail} differ); choose another "
        "--out or pass --overwrite to replace this prepared pair"
    )


def move_in(out: Path, stage: Path, wanted: dict) -> None:
    """Last step inside the staging block: mark the old pair unfinished (so that a run killed
    while the new files move in leaves no pair that claims to be complete), and remove what an
    older preparation wrote that this one does not write again."""
    write_text_atomic(out / MANIFEST, json.dumps({"settings": wanted, "complete": False}, indent=2))
    for name in WRITTEN:
        target = out / name
        if name in (MANIFEST, stage.name) or (stage / name).exists() or not target.exists():
            continue
        shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()


def encode(sp, sentences: list[str], desc: str, chunk: int = 10_000) -> list[list[int]]:
    ids: list[list[int]] = []
    with tqdm(
        total=len(sentences), desc=desc, unit="sent", file=sys.stderr, disable=len(sentences) <= chunk
    ) as bar:
        for start in range(0, len(sentences), chunk):
            ids.extend(sp.encode(sentences[start : start + chunk]))
            bar.update(min(chunk, len(sentences) - start))
    return ids


def read_corpus(path: Path, flag: str, fmt: str, trees: bool = False):
    """(sentences, trees) of a corpus: plain text lines as they are (no tree), or a CoNLL-U file's
    sentences (FORMs joined by spaces) and, with TREES, their checked trees."""
    if corpus_format(path, fmt) == "conllu":
        return corpus_sentences(path, flag, trees)
    return read_sentences(path, flag), None


def word_units(sp, derive: PieceSentenceTransform, sentences, encoded, stats: dict) -> list:
    """The piece ids of each word of CoNLL-U sentences. With sentencepiece's whitespace splitting
    a sentence encodes as its words' encodings one after another, each starting at a '▁' piece,
    so the '▁' groups are the words. Where they are not (a FORM that normalization splits or
    removes, e.g. one holding a no-break space), the words are encoded one by one and the
    sentence's ids replaced by those (so both languages keep the same pieces)."""
    units = []
    fallback = 0
    for k, (sentence, ids) in enumerate(zip(sentences, encoded)):
        groups = derive.units(ids) if ids else []
        words = sentence.split(" ")
        if len(groups) != len(words):
            groups = sp.encode(words)
            encoded[k] = [i for g in groups for i in g]
            fallback += 1
        units.append(groups)
    stats["sentences_encoded_word_by_word"] = fallback
    if fallback:
        logger.info("%d sentences encoded word by word (their '▁' pieces were not one per word)", fallback)
    return units


def syn_orders(args, trees: list, stats: dict) -> list:
    """The syn word order of every corpus sentence (a cycle: InputError naming file and line)."""
    t = time.perf_counter()
    syn = SynOrder.from_treebank(args.syn_treebank, parse_heads(args.syn_heads))
    stats["seconds"]["syn_learn"] = time.perf_counter() - t
    t = time.perf_counter()
    orders = []
    for index, sentence, heads, upos, rels in trees:
        order = syn.order(heads, upos, rels)
        if order is None:  # a cycle: sentence_order names the file, line and words
            syn.sentence_order(sentence, index, args.corpus)
        orders.append(order)
    stats["seconds"]["syn_order"] = time.perf_counter() - t
    return orders


def prepare_synthetic(args, out: Path, stats: dict) -> dict:
    """A synthetic pair of a CoNLL-U corpus, in memory (syn needs its trees; plain text is
    streamed: streamed_synthetic.py)."""
    transforms = parse_transforms(args.transform)
    trans = "trans" in transforms
    t = time.perf_counter()
    sentences, trees = read_corpus(args.corpus, "--corpus", args.corpus_format, trees="syn" in transforms)
    stats["seconds"]["read"] = time.perf_counter() - t
    orders = syn_orders(args, trees, stats) if trees is not None else None
    mask = valid_mask(len(sentences), args.valid_size, args.seed, f"--corpus {args.corpus} ({args.lang1})")
    logger.info("%s: %d sentences (%d for validation)", args.corpus, len(sentences), mask.sum())

    t = time.perf_counter()
    train_sentences = [s for s, v in zip(sentences, mask) if not v]
    sp = train_sentencepiece(train_sentences, out / "spm", args.vocab_size, str(args.corpus), seed=args.seed)
    pieces = vocabulary(sp)
    stats["seconds"]["sentencepiece_train"] = time.perf_counter() - t

    t = time.perf_counter()
    encoded = encode(sp, sentences, "encode")
    stats["seconds"]["encode"] = time.perf_counter() - t
    t = time.perf_counter()
    # a CoNLL-U sentence is one sentence, as in task data
    anchors = choose_anchors(len(pieces), args.anchor_fraction, args.seed) if args.anchor_fraction else []
    derive = PieceSentenceTransform(
        pieces, transforms, seed=args.seed, split_sentences=False, trees=orders is not None, anchors=anchors
    )
    units = word_units(sp, derive, sentences, encoded, stats)
    derived = [
        derive.derive_ids(ids, None if orders is None else orders[k], units[k])
        for k, ids in enumerate(
            tqdm(encoded, desc=f"derive {args.lang2}", disable=len(encoded) < 50_000, file=sys.stderr)
        )
    ]
    stats["seconds"]["transform"] = time.perf_counter() - t
    t = time.perf_counter()
    counts = piece_counts(encoded, len(pieces))
    dictionary = fairseq_dictionary([token for token, _ in joint_tokens(pieces, counts, trans)])
    streams = SplitStreams(out / "bin", [args.lang1, args.lang2], dictionary, out / "text")
    streams.add_sentences(args.lang1, encoded, pieces, id_map(dictionary, pieces), mask)
    streams.add_sentences(args.lang2, derived, derive.out_pieces, id_map(dictionary, derive.out_pieces), mask)
    stats["sentences"] = streams.close()[args.lang1]
    stats["seconds"]["binarize"] = time.perf_counter() - t

    train_counts = piece_counts((ids for ids, v in zip(encoded, mask) if not v), len(pieces))
    return write_synthetic_dictionaries(out, pieces, transforms, anchors, counts, train_counts)


def prepare_natural(args, out: Path, stats: dict) -> dict:
    corpora = {
        # no word-order transform here: text is read as it is
        args.lang1: read_corpus(args.corpus, "--corpus", args.corpus_format)[0],
        args.lang2: read_corpus(args.corpus2, "--corpus2", args.corpus_format)[0],
    }
    where = {
        args.lang1: f"--corpus {args.corpus} ({args.lang1})",
        args.lang2: f"--corpus2 {args.corpus2} ({args.lang2})",
    }
    masks = {lang: valid_mask(len(s), args.valid_size, args.seed, where[lang]) for lang, s in corpora.items()}
    pairs = read_word_pairs(args.dictionary)
    parallel = read_parallel(args.parallel) if args.parallel else None  # its errors before training
    t = time.perf_counter()
    train_sentences = [s for lang, sents in corpora.items() for s, v in zip(sents, masks[lang]) if not v]
    sp = train_sentencepiece(
        train_sentences,
        out / "spm",
        args.vocab_size,
        f"{args.corpus} + {args.corpus2}",
        seed=args.seed,
    )
    pieces = vocabulary(sp)
    stats["seconds"]["sentencepiece_train"] = time.perf_counter() - t
    t = time.perf_counter()
    counts = 0
    # the dictionary's order is sentencepiece's (counts only fill its second column)
    dictionary = fairseq_dictionary(
        [token for token, _ in joint_tokens(pieces, np.zeros(len(pieces)), trans=False)]
    )
    streams = SplitStreams(out / "bin", list(corpora), dictionary, out / "text")
    ids_of = id_map(dictionary, pieces)
    for lang, sents in corpora.items():
        encoded = encode(sp, sents, f"encode {lang}")
        counts = counts + piece_counts(encoded, len(pieces))
        streams.add_sentences(lang, encoded, pieces, ids_of, masks[lang])
    stats["sentences"] = streams.close()
    stats["seconds"]["encode"] = time.perf_counter() - t
    write_fairseq_dictionary(out / "bin" / "dict.txt", joint_tokens(pieces, counts, trans=False))
    if parallel is not None:
        stats["parallel_sentences"] = write_parallel(args, out, sp, pieces, dictionary, parallel)
    frequency = {
        lang: Counter(word for s, v in zip(corpora[lang], masks[lang]) if not v for word in s.split())
        for lang in corpora
    }
    pairs, stats["dictionary_filter"] = pairs_in_corpora(
        pairs, frequency[args.lang1], frequency[args.lang2], args.dict_min_count
    )
    if args.dict_min_count:
        logger.info(
            "dictionary: %d pairs have both words at least %d times in the training text; %d dropped",
            len(pairs),
            args.dict_min_count,
            stats["dictionary_filter"]["dropped"],
        )
        if not pairs:
            raise InputError(
                f"--dictionary {args.dictionary}: no pair has both words at least "
                f"{args.dict_min_count} times in the training text (--dict-min-count); is it the "
                f"dictionary of these languages, --lang1 {args.lang1} first?"
            )
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
    return {
        "dictionary_units": "words",
        "pairs": pairs,
        "source_frequency": frequency[args.lang1],
        "transforms": [],
    }


def write_parallel(
    args, out: Path, sp, pieces: list[str], dictionary, parallel: list[tuple[str, str]]
) -> dict:
    """bin/para/{train,valid}.L1-L2.{L1,L2}.{bin,idx} and their piece text in text/para/: the
    parallel text (--lang1's side first), split as the corpora are; returns its counts of
    sentences and of <unk> pieces."""
    where = f"--parallel {' '.join(map(str, args.parallel))}"
    mask = valid_mask(len(parallel), args.valid_size, args.seed, where)
    langs = (args.lang1, args.lang2)
    streams = SplitStreams(
        out / "bin" / PARALLEL_SUBDIR, langs, dictionary, out / "text" / PARALLEL_SUBDIR, parallel=langs
    )
    unknown = total = 0
    ids_of = id_map(dictionary, pieces)
    for lang, side in zip(langs, zip(*parallel)):
        encoded = encode(sp, list(side), f"encode parallel {lang}")
        unknown += sum(ids.count(0) for ids in encoded)  # id 0: sentencepiece's <unk>
        total += sum(map(len, encoded))
        streams.add_sentences(lang, encoded, pieces, ids_of, mask)
    counts = streams.close()[args.lang1]
    logger.info(
        "%s: %d sentence pairs (%d for validation); <unk> pieces: %d of %d (sentencepiece is "
        "trained on the corpora only)",
        where,
        len(parallel),
        counts["valid"],
        unknown,
        total,
    )
    return counts | {"unk_pieces": unknown, "pieces": total}


def prepare(args: argparse.Namespace) -> Path:
    kind = check_args(args)
    inputs = input_paths(args, kind)
    for role, path in inputs.items():
        check_input_file(path, role_flag(role))
    out = args.out
    check_inputs_outside(out, list(inputs.values()))
    make_output_dir(out, "--out")
    text_corpus = corpus_format(args.corpus, args.corpus_format) == "text"
    shards.check_shard_args(args, kind, text_corpus)
    wanted = settings(args, kind, inputs)
    if args.shards > 1:
        return prepare_sharded(args, kind, wanted, inputs, out)
    with exclusive(out):  # one preparation per OUT at a time
        return prepare_in(args, kind, wanted, inputs, out)


def prepare_sharded(args: argparse.Namespace, kind: str, wanted: dict, inputs: dict, out: Path) -> Path:
    """--shards N: the stages of data_prep/shards.py that --stage asks for."""
    if args.stage in ("all", "vocab"):
        with exclusive(out):
            if not claim_output(out, wanted, args.overwrite):
                logger.info("%s already holds this pair with the same settings; nothing to do", out)
                return out
            # unfinished until the finish stage: a rerun of any stage replaces it
            write_text_atomic(out / MANIFEST, json.dumps({"settings": wanted, "complete": False}, indent=2))
            shards.stage_vocab(args, out, wanted)
    if args.stage in ("all", "shard"):  # shard jobs run side by side: each locks its own shard
        for k in range(args.shards) if args.stage == "all" else [args.shard_index]:
            shards.stage_shard(args, out, wanted, k)
    if args.stage in ("all", "finish"):
        with exclusive(out):
            start = time.perf_counter()
            with staged(out) as stage:

                def assemble(stage_dir: Path, stats: dict) -> dict:
                    return shards.assemble(args, out, stage_dir, wanted, stats)

                manifest = build(args, kind, wanted, stage, start, produce=assemble)
                manifest["input_paths"] = {role: str(path.absolute()) for role, path in inputs.items()}
                manifest["shards"] = args.shards
                move_in(out, stage, wanted)
            write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
            logger.info("done: %d fairseq data shards in %s", args.shards, out / "bin")
    return out


def prepare_in(args: argparse.Namespace, kind: str, wanted: dict, inputs: dict, out: Path) -> Path:
    if not claim_output(out, wanted, args.overwrite):
        logger.info("%s already holds this pair with the same settings; nothing to do", out)
        return out
    start = time.perf_counter()
    with staged(out) as stage:  # the previous pair stays as it was until everything succeeded
        manifest = build(args, kind, wanted, stage, start)
        manifest["input_paths"] = {role: str(path.absolute()) for role, path in inputs.items()}
        move_in(out, stage, wanted)
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
    logger.info("done in %.1fs: fairseq data in %s", manifest["stats"]["seconds"]["total"], out / "bin")
    return out


def build(args: argparse.Namespace, kind: str, wanted: dict, out: Path, start: float, produce=None) -> dict:
    """Write the pair's files into OUT (the staging directory); returns its manifest. PRODUCE
    (out, stats) -> result: what writes bin/ (the shards' assembly), instead of the preparation."""
    for sub in ("text", "dict", "bin"):
        (out / sub).mkdir(exist_ok=True)
    stats: dict = {"seconds": {}}
    streamed = kind == "synthetic" and corpus_format(args.corpus, args.corpus_format) == "text"
    if produce is not None:
        result = produce(out, stats)
    elif streamed:  # any size, bounded memory; writes bin/ itself
        result = prepare_streamed_synthetic(args, out, stats)
    else:
        result = (prepare_synthetic if kind == "synthetic" else prepare_natural)(args, out, stats)

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

    if kind == "synthetic":  # every sentence is parallel: para/ is the language streams
        link_parallel(out / "bin", args.lang1, args.lang2, PARALLEL_SUBDIR)
    link_dictionaries(out / "bin", (args.lang1, args.lang2), PARALLEL_SUBDIR)
    stats["seconds"]["total"] = time.perf_counter() - start
    return {
        "settings": wanted,
        "complete": True,
        "languages": [args.lang1, args.lang2],
        "spm_model": "spm.model",
        "data": "bin",
        **result,
        "stats": stats,
    }


@reported
def main(argv=None) -> int:
    logging.basicConfig(
        format="%(asctime)s | %(name)s | %(message)s", level=logging.INFO, datefmt="%H:%M:%S", force=True
    )
    args = build_parser().parse_args(argv)
    prepare(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
