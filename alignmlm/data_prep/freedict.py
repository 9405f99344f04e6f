"""A FreeDict dictionary (dictd format) -> a MUSE bilingual dictionary: one `source translation`
pair of single words per line, UTF-8.

    python -m alignmlm.data_prep.freedict freedict-eng-tur.index freedict-eng-tur.dict.dz \\
        --target-lowercase turkish --out en-tr.txt

dictd format: NAME.index has one line per entry, `headword<TAB>offset<TAB>length`, offset and
length being the entry's bytes in NAME.dict (NAME.dict.dz: the same, gzip'ed) written in dictd's
base64 (digits A-Z a-z 0-9 + /, worth 0..63, most significant first: 'Bx' = 1 * 64 + 49). A
FreeDict entry is a headword line, `headword /pronunciation/`, then one numbered line per sense,
`1. translation, translation; ... (note) ...`.

Rules, in this order:
  1. Index keys starting with `00database` are the dictionary's metadata (its name, licence,
     URL): skipped.
  2. The source word is the entry's headword line without its /pronunciation/; the index key is
     only a search form (`ackack` for `ack-ack`).
  3. Each line after the headword is a sense; a leading `N.` is dropped.
  4. Notes are removed: parenthesised text (innermost first, so nested notes go too), with a `-`
     right before it, a grammatical marker such as `-(den.)` ("from ..."); and from a `(` never
     closed to the end of the sense.
  5. A sense ends at its first sentence end (a `.` followed by a space or the end of the line) or
     its first `:`: what follows is run-on sub-entries and examples (`alienable  satılabilir`,
     `twice a year senede iki defa`), not translations of the headword.
  6. The rest is split on `,` and `;` into translations, whitespace collapsed. In a translation
     holding a `)` whose `(` was lost, what precedes it is a note (the source has
     `(çoğ.) -tums, -ta) atkuyruğu` for `(çoğ. -tums, -ta) atkuyruğu`).
  7. Both sides are NFC-normalised and lower-cased: `default` is Python's str.lower; `turkish`
     maps I to ı and İ to i first (str.lower makes 'I' 'i' and 'İ' 'i' plus a combining dot).
  8. A pair is kept when both sides are one word: letters (any script), with single hyphens
     inside allowed (`after-dinner`). Dropped, and counted by reason: a headword that is not one
     word (all of its entry), a multi-word translation, an affix (`-de`, `hidro-`: a leading or
     trailing hyphen), anything else that is not a word (digits, `b.h`, `Yaşasın!`), an empty
     translation (a note alone). Apostrophes are not allowed: in FreeDict English they mark a
     possessive or plural (`abc's`) or a stress (`algebra'ic`), not a word of its own. A
     translation that is a usage label written outside parentheses is dropped too: FreeDict
     eng-tur's `ABD` (American usage; `AB` where it lost its `D`) and `İng`/`ing` (British).
  9. A pair seen before is dropped (first-seen order kept); with --max-pairs-per-word K, so are
     the translations of a source word after its first K.

The counts (entries, pairs kept, dropped by reason) go to stderr.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from alignmlm.data.bilingual_dictionary import write_word_pairs
from alignmlm.data.text_file import read_utf8
from alignmlm.errors import InputError, reported

BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
DIGIT_VALUES = {digit: value for value, digit in enumerate(BASE64)}
METADATA_PREFIX = "00database"
GZIP_MAGIC = b"\x1f\x8b"

PRONUNCIATION = re.compile(r"\s+/[^/]*/\s*$")
SENSE_NUMBER = re.compile(r"^\s*\d+\.\s*")
NOTE = re.compile(r"-?\([^()]*\)")
SENTENCE_END = re.compile(r"\.(?=\s|$)|:")
WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")  # letters, single hyphens inside
USAGE_LABELS = frozenset({"ABD", "AB", "İng", "Ing", "ing"})  # as written, before lower-casing

DROP_REASONS = {
    "headword": "headword not one word (whole entry)",
    "multi-word": "multi-word translation",
    "affix": "affix (leading or trailing hyphen)",
    "label": "usage label (ABD, İng)",
    "not a word": "not a word (digits, punctuation)",
    "empty": "empty (a note alone)",
    "duplicate": "duplicate pair",
    "over max": "over --max-pairs-per-word",
}


def turkish_lower(text: str) -> str:
    """Lower case with Turkish dotted and dotless i: I -> ı, İ -> i, the rest as str.lower."""
    return text.replace("I", "ı").replace("İ", "i").lower()


LOWERCASE = {"default": str.lower, "turkish": turkish_lower}


def decode_base64(text: str) -> int:
    """A dictd base64 number: digits A-Z a-z 0-9 + / (0..63), most significant first."""
    if not text:
        raise ValueError("empty number")
    value = 0
    for digit in text:
        if digit not in DIGIT_VALUES:
            raise ValueError(f"{digit!r} is not a dictd base64 digit")
        value = value * 64 + DIGIT_VALUES[digit]
    return value


@dataclass(frozen=True)
class IndexEntry:
    key: str
    offset: int
    length: int
    lineno: int


def read_index(path: Path) -> list[IndexEntry]:
    """The entries of a dictd .index file; a malformed line is an error naming file and line."""
    entries = []
    for lineno, line in enumerate(read_utf8(path, "dictd index").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise InputError(
                f"{path}:{lineno}: expected 3 tab-separated fields 'headword<TAB>offset<TAB>length', "
                f"got {len(fields)}: {line[:80]!r}"
            )
        key, offset, length = fields
        try:
            entries.append(IndexEntry(key, decode_base64(offset), decode_base64(length), lineno))
        except ValueError as err:
            raise InputError(
                f"{path}:{lineno}: expected offset and length in dictd base64 (digits A-Z a-z 0-9 + /), "
                f"got {offset!r} and {length!r}: {err}"
            ) from None
    return entries


def read_dict(path: Path) -> bytes:
    """The bytes of a .dict file, gunzipped if it is gzip'ed (.dict.dz: dictzip is gzip)."""
    data = path.read_bytes()
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise InputError(f"{path}: not a readable gzip file ({err}); give the .dict or .dict.dz") from None


def entry_text(data: bytes, entry: IndexEntry, index_path: Path, dict_path: Path) -> str:
    end = entry.offset + entry.length
    if end > len(data):
        raise InputError(
            f"{index_path}:{entry.lineno}: entry {entry.key!r} ends at byte {end}, past the end of "
            f"{dict_path} ({len(data)} bytes): are index and dictionary from the same dictionary?"
        )
    try:
        return data[entry.offset : end].decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"{index_path}:{entry.lineno}: entry {entry.key!r} (bytes {entry.offset}-{end} of "
            f"{dict_path}) is not valid UTF-8: are index and dictionary from the same dictionary?"
        ) from None


def strip_notes(sense: str) -> str:
    """The sense without its notes (rule 4)."""
    while True:
        stripped = NOTE.sub(" ", sense)
        if stripped == sense:
            break
        sense = stripped
    return sense.partition("(")[0]  # a '(' never closed: the rest is a note


def translations(sense: str) -> list[str]:
    """The translations of one sense line (rules 3-6), empty ones included."""
    sense = strip_notes(SENSE_NUMBER.sub("", sense))
    sense = SENTENCE_END.split(sense, maxsplit=1)[0]
    pieces = [piece.rpartition(")")[2] for piece in re.split(r"[,;]", sense)]  # lost '(': a note before
    return [" ".join(piece.split()) for piece in pieces]


def word_problem(text: str) -> str | None:
    """None for one word (rule 8), else the reason it is not one."""
    if not text:
        return "empty"
    if len(text.split()) > 1:
        return "multi-word"
    if WORD.fullmatch(text):
        return None
    if WORD.fullmatch(text.strip("-")):
        return "affix"  # a word once its leading or trailing hyphen goes: -de, hidro-
    return "not a word"


def normalise(text: str, lowercase) -> str:
    return lowercase(unicodedata.normalize("NFC", " ".join(text.split())))


def convert(
    index_path: Path,
    dict_path: Path,
    source_lowercase=str.lower,
    target_lowercase=str.lower,
    max_pairs_per_word: int | None = None,
) -> tuple[list[tuple[str, str]], Counter]:
    """(pairs in first-seen order, counts): `entries`, `metadata`, `kept` and the drop reasons."""
    entries = read_index(index_path)
    data = read_dict(dict_path)
    counts: Counter = Counter()
    pairs: dict[tuple[str, str], None] = {}
    per_word: Counter = Counter()
    for entry in entries:
        if entry.key.startswith(METADATA_PREFIX):
            counts["metadata"] += 1
            continue
        counts["entries"] += 1
        headline, *senses = entry_text(data, entry, index_path, dict_path).strip("\n").split("\n")
        source = normalise(PRONUNCIATION.sub("", headline), source_lowercase)
        if word_problem(source) is not None:
            counts["headword"] += 1
            continue
        for sense in senses:
            for piece in translations(sense):
                target = normalise(piece, target_lowercase)
                problem = "label" if piece in USAGE_LABELS else word_problem(target)
                if problem is None and (source, target) in pairs:
                    problem = "duplicate"
                if problem is None and per_word[source] == max_pairs_per_word:  # never when None
                    problem = "over max"
                if problem is not None:
                    counts[problem] += 1
                    continue
                pairs[(source, target)] = None
                per_word[source] += 1
    counts["kept"] = len(pairs)
    counts["source words"] = len(per_word)
    return list(pairs), counts


def report(counts: Counter, out: Path) -> str:
    lines = [
        f"{counts['entries']} entries ({counts['metadata']} {METADATA_PREFIX}* metadata entries skipped)",
        f"{counts['kept']} one-word pairs kept, {counts['source words']} source words -> {out}",
        "dropped:",
    ]
    lines += [f"  {counts[reason]:>7}  {what}" for reason, what in DROP_REASONS.items()]
    return "\n".join(lines)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a count >= 1, got {text}")
    return value


@reported
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("index", type=Path, help="the dictd index, NAME.index")
    p.add_argument("dict", type=Path, help="the dictd data, NAME.dict or gzip'ed NAME.dict.dz")
    p.add_argument("--out", type=Path, required=True, help="the MUSE dictionary to write")
    p.add_argument(
        "--source-lowercase",
        choices=sorted(LOWERCASE),
        default="default",
        help="how headwords are lower-cased: 'default' (str.lower) or 'turkish' (I -> ı, İ -> i); "
        "default: %(default)s",
    )
    p.add_argument(
        "--target-lowercase",
        choices=sorted(LOWERCASE),
        default="default",
        help="how translations are lower-cased, as --source-lowercase; use 'turkish' for a "
        "Turkish target (eng-tur); default: %(default)s",
    )
    p.add_argument(
        "--max-pairs-per-word",
        type=positive_int,
        metavar="K",
        help="keep at most the first K translations of each source word (default: all)",
    )
    args = p.parse_args(argv)
    pairs, counts = convert(
        args.index,
        args.dict,
        LOWERCASE[args.source_lowercase],
        LOWERCASE[args.target_lowercase],
        args.max_pairs_per_word,
    )
    if not pairs:
        raise InputError(f"{args.index}: no one-word pairs found: is it a FreeDict dictd index?")
    write_word_pairs(args.out, pairs)
    print(report(counts, args.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
