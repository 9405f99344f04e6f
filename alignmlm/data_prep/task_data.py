"""What the task-data converters (prepare_pos, prepare_nli, prepare_ner) share: the flags of
the derived language and of the output folder, how the output folder is written, and the record
of what made it (task_data.json), which fine-tuning checks against the pretraining pair.

The pair's second language is either synthetic (`--transform`: the `_derived` files are the
original ones transformed, as prepare-pair derives its corpus) or natural (prepare-pos
--target-conllu-dir: the `_derived` files are a treebank of the pair's second language). The
record holds the command, the kind (synthetic or natural), --transform and --seed (None for a
natural language), the languages (natural, when given), the converter's options, the content
hash of every input file (and, apart, their paths), what the converter reports of the data
(e.g. the tags of each split) and the list of files written. The splits are built in
OUT/.partial and moved in at the end, the record last: a failed or killed run leaves the
previous data as it was. --overwrite replaces only the files a converter writes; a folder
holding anything else is refused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InputError
from ..safe_files import exclusive, staged, staging_path, write_text_atomic
from .corpus import check_input_file, input_fingerprint, make_output_dir
from .transforms import parse_transforms

RECORD = "task_data.json"  # what made the splits: see the module's docstring
SEED = 1  # perm's seed when --seed is not given, as prepare_pair's
SYNTHETIC, NATURAL = "synthetic", "natural"  # the kinds of second language, as in pair.json


def argument_parser(doc: str, transform_required: bool = True) -> argparse.ArgumentParser:
    """--transform, --seed, --out and --overwrite; the converter adds its inputs. A converter
    with another source of the second language (TRANSFORM_REQUIRED False) checks that exactly
    one is given."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--transform",
        required=transform_required,
        help="the transform of the synthetic second language, e.g. trans+inv (as for prepare_pair)",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--seed", type=int, default=None, help=f"seed of perm (as for prepare_pair; default {SEED})"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace the task data in --out (only the files a converter writes, listed in its "
        f"{RECORD}; a directory holding anything else is refused)",
    )
    return p


def recorded_files(record: dict | None) -> set:
    """The files a record lists, plain names only (a record is a file anyone can edit)."""
    names = (record or {}).get("files", [])
    return {n for n in names if isinstance(n, str) and n == Path(n).name and n not in ("", ".", "..")}


def read_record(out: Path) -> dict | None:
    """OUT's record, None without one; an unreadable record counts as an unfinished run."""
    path = out / RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"complete": False}
    return record if isinstance(record, dict) else {"complete": False}


def claim_output(out: Path, files: list, overwrite: bool, wanted: dict) -> None:
    """Refuse (InputError) to write FILES into OUT when that could lose something: OUT holds
    files no converter run wrote there, or holds task data and --overwrite is not given. An
    unfinished run (its record says so, or only a staging directory is left) never blocks."""
    present = sorted(p.name for p in out.iterdir() if p.name != staging_path(out).name)
    if not present:
        return
    record = read_record(out)
    ours = set(files) | {RECORD} | recorded_files(record)
    foreign = [name for name in present if name not in ours]
    if foreign:
        raise InputError(
            f"--out {out} holds files this converter does not write ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}); move them elsewhere or choose an empty or new --out"
        )
    if record is not None and not record.get("complete", True):
        return  # a run that was killed while moving its files in: its rerun replaces them
    if overwrite:
        return
    same = record is not None and {k: record.get(k) for k in wanted} == wanted
    raise InputError(
        f"--out {out} is not empty"
        + (" (it already holds this data: same inputs, transform and seed)" if same else "")
        + "; pass --overwrite to replace its files, or choose another --out"
    )


def write_splits(
    args: argparse.Namespace,
    write,
    *,
    command: str,
    inputs: dict,
    files: list,
    options: dict | None = None,
    languages: list | None = None,
) -> int:
    """Run write(args, stage) into a staging directory of args.out and move its files in when
    it succeeded; then write the record, with what write() returns (a dict, or None) added.
    COMMAND: the converter's name; INPUTS: role (the split) -> (the flag naming it, input
    file), hashed into the record; FILES: the names write() writes; OPTIONS: the converter's
    other settings; LANGUAGES: [language 1, language 2] of a natural second language (args.
    transform None), when named. Exit status."""
    kind = NATURAL if args.transform is None else SYNTHETIC
    if kind == NATURAL:
        if args.seed is not None:  # it would be recorded and mean nothing
            raise InputError(
                f"--seed {args.seed}: the seed is perm's, of a --transform; a natural second "
                "language has none, leave --seed out"
            )
    else:
        parse_transforms(args.transform)  # flags first: nothing is read or created for a typo
        args.seed = SEED if args.seed is None else args.seed
        if args.seed < 0:
            raise InputError(f"--seed must be 0 or more, got {args.seed}")
    out = args.out
    for flag, path in inputs.values():
        check_input_file(path, flag)
        if path.resolve().parent == out.resolve():
            raise InputError(
                f"{flag} {path} lies in --out {out}, which this converter writes; keep the inputs "
                "outside the output directory"
            )
    make_output_dir(out, "--out")
    wanted = {
        "command": command,
        "kind": kind,
        **({"languages": languages} if kind == NATURAL else {}),
        "transform": args.transform,
        "seed": args.seed,
        "options": options or {},
        "inputs": {role: input_fingerprint(path, flag) for role, (flag, path) in inputs.items()},
    }
    with exclusive(out):
        return write_claimed(args, write, out, wanted, inputs, files)


def write_claimed(args, write, out: Path, wanted: dict, inputs: dict, files: list) -> int:
    claim_output(out, files, args.overwrite, wanted)
    with staged(out) as stage:
        summary = write(args, stage) or {}  # e.g. the tags of each split
        written = sorted(p.name for p in stage.iterdir())
        missing = sorted(set(files) - set(written))
        if missing:  # a bug in the converter, not the user's doing
            raise RuntimeError(f"{write.__module__} did not write {missing}")
        old = recorded_files(read_record(out))
        # before any file moves in, the old record stops vouching for the folder
        write_text_atomic(out / RECORD, json.dumps({**wanted, "complete": False, "files": files}) + "\n")
        for name in old - set(written) - {RECORD}:  # an older run's files not rewritten
            (out / name).unlink(missing_ok=True)
    record = {
        **wanted,
        **summary,
        "input_paths": {role: str(path.absolute()) for role, (_, path) in inputs.items()},
        "files": written,
        "complete": True,
    }
    write_text_atomic(out / RECORD, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return 0


def check_matches_pair(data: Path, pair) -> str | None:
    """Refuse (ValueError) task data whose second language is not the one of the prepared `pair`
    the model was pretrained on: synthetic data derived with another transform or seed, natural
    data (a second treebank) on a synthetic pair or synthetic data on a natural pair, natural
    data of other languages. Returns a warning for data without a record (made by hand or by an
    older version) or natural data without language names, else None."""
    record_path = data / RECORD
    if not record_path.is_file():
        return f"{data} has no {RECORD}: its transform cannot be checked against {pair.root}"
    record = read_record(data)
    if not record.get("complete", True):
        raise InputError(
            f"{data} holds unfinished task data (a preparation failed or was killed); run the "
            "prepare command again"
        )
    kind = record.get("kind", SYNTHETIC)  # records of older versions: always a --transform
    if pair.transform is None:  # a natural pair: its second language is a language of its own
        return check_natural(data, record, kind, pair)
    if kind == NATURAL:
        seed = pair.settings.get("seed")
        raise InputError(
            f"{data} holds a natural second language (a treebank of its own, --target-conllu-dir), "
            f"but {pair.root} is a synthetic pair (--transform {pair.transform}): prepare the task "
            f"data with --transform {pair.transform}" + (f" --seed {seed}" if seed is not None else "")
        )
    wanted = {"transform": pair.transform, "seed": pair.settings.get("seed")}
    differ = [
        f"{key} {record.get(key)} (the pair's: {wanted[key]})"
        for key in wanted
        if record.get(key) != wanted[key]
    ]
    if "syn" in pair.transform.split("+"):
        # syn's order comes from a target treebank: the same file (by content) and heads
        treebank = (record.get("inputs") or {}).get("syn_treebank")
        if treebank != pair.settings.get("inputs", {}).get("syn_treebank"):
            differ.append("another --syn-treebank (its content hash differs from the pair's)")
        heads = (record.get("options") or {}).get("syn_heads")
        if heads != pair.settings.get("syn_heads"):
            differ.append(f"--syn-heads {heads} (the pair's: {pair.settings.get('syn_heads')})")
    if differ:
        raise InputError(
            f"{data} was derived with {'; '.join(differ)}: its derived language is not the one "
            f"{pair.root} pretrains on; prepare it again with the pair's --transform and --seed (and --syn-treebank, --syn-heads)"
        )
    return None


def check_natural(data: Path, record: dict, kind: str, pair) -> str | None:
    """check_matches_pair for a natural pair: the `_derived` files must be a treebank of the
    pair's second language, which takes language id 1 (its first language: id 0)."""
    first, second = pair.languages
    if kind != NATURAL:
        command = record.get("command", "prepare-pos")
        how = (
            f"prepare the task data from a treebank of {second}, e.g. `alignmlm prepare-pos "
            f"--conllu-dir {first.upper()}_DIR --target-conllu-dir {second.upper()}_DIR --lang1 "
            f"{first} --lang2 {second}`"
            if command == "prepare-pos"
            else f"only prepare-pos makes task data of a natural second language so far ({command} "
            "derives a synthetic one): leave this task out for the pair"
        )
        raise InputError(
            f"{data} was derived with --transform {record.get('transform')} (a synthetic second "
            f"language), but {pair.root} is a natural pair ({first}, {second}): its second language "
            f"is {second}, not a transform of {first}; {how}"
        )
    languages = record.get("languages")
    if languages is None:
        return (
            f"{data} was prepared without --lang1/--lang2: that its files are {first} and its "
            f"_derived files {second} (the pair's order) cannot be checked"
        )
    if list(languages) != [first, second]:
        raise InputError(
            f"{data} holds {languages[0]} (train, valid, test) and {languages[1]} (the _derived "
            f"files), but {pair.root} pairs {first} (language 1, id 0) with {second} (language 2, "
            f"id 1): prepare it again with --conllu-dir of {first}, --target-conllu-dir of "
            f"{second}, --lang1 {first} --lang2 {second}"
        )
    return None
