"""Reading NLI examples (premise, hypothesis, label) from TSV or JSONL, with errors that name
file and line.

The columns (TSV header) or keys (JSON records) say which of these it is:

  premise, hypothesis, label        ours: what data_prep.prepare_nli writes (JSONL)
  sentence1, sentence2, gold_label  GLUE MNLI TSV, MultiNLI / SNLI JSONL, XNLI-1.0 TSV
  premise, hypo, label              XNLI-MT-1.0 TSV

Other columns are ignored, except `language` (XNLI-1.0), which is kept. Labels are read as
written, except XNLI-MT's `contradictory`, read as `contradiction`; NLI_LABELS is the label
set (data_prep.prepare_nli refuses others). Each example keeps the line it was read from. TSV
fields are split on tabs only (no quoting, as GLUE and XNLI write them).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .text_file import read_utf8

SCHEMAS = (
    ("premise", "hypothesis", "label"),
    ("sentence1", "sentence2", "gold_label"),
    ("premise", "hypo", "label"),
)
LABEL_ALIASES = {"contradictory": "contradiction"}
NLI_LABELS = ("entailment", "neutral", "contradiction")  # the order of Hugging Face's 0, 1, 2
EXPECTED = "; ".join(", ".join(schema) for schema in SCHEMAS)


@dataclass(frozen=True)
class NliExample:
    premise: str
    hypothesis: str
    label: str
    language: str | None = None
    line: int | None = field(default=None, compare=False)  # where it was read, for errors


def schema_of(names, where: str) -> tuple:
    """The first schema whose names all occur in `names`; an error naming `where` otherwise."""
    for schema in SCHEMAS:
        if all(name in names for name in schema):
            return schema
    raise InputError(
        f"{where}: not an NLI header: expected the columns (or JSON keys) [{EXPECTED}], got {sorted(names)}"
    )


def example(record: dict, schema: tuple, line: int | None = None) -> NliExample:
    premise, hypothesis, label = (record[name] for name in schema)
    return NliExample(premise, hypothesis, LABEL_ALIASES.get(label, label), record.get("language"), line)


def read_tsv(path: Path, lines: list) -> list[NliExample]:
    header = lines[0].split("\t")
    schema = schema_of(header, f"{path}:1")
    examples = []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise InputError(
                f"{path}:{lineno}: expected {len(header)} tab-separated columns (as "
                f"in the header), got {len(fields)}: {line[:80]!r}"
            )
        examples.append(example(dict(zip(header, fields)), schema, lineno))
    return examples


def read_jsonl(path: Path, lines: list) -> list[NliExample]:
    examples, schema = [], None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{lineno}: not valid JSON ({err.msg}): {line[:80]!r}") from None
        if not isinstance(record, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object, got {line[:80]!r}")
        schema = schema or schema_of(record, f"{path}:{lineno}")
        missing = [name for name in schema if name not in record]
        label = record.get(schema[2])
        if isinstance(label, int) and not isinstance(label, bool):  # Hugging Face's 0/1/2 (-1)
            record[schema[2]] = str(label)  # read as written; prepare_nli maps or refuses it
        wrong = [name for name in schema if name in record and not isinstance(record[name], str)]
        if missing or wrong:
            raise InputError(
                f"{path}:{lineno}: "
                + (f"missing key(s) {missing}" if missing else f"key(s) {wrong} are not strings")
                + f" (the file's keys: {list(schema)})"
            )
        examples.append(example(record, schema, lineno))
    return examples


def read_nli(path) -> list[NliExample]:
    """The examples of a `.tsv` or `.jsonl` (or `.json`, one object a line) NLI file."""
    path = Path(path)
    lines = read_utf8(path, "NLI file").splitlines()
    if path.suffix == ".tsv":
        if not lines:
            raise InputError(f"{path}: empty TSV file: expected a header [{EXPECTED}]")
        return read_tsv(path, lines)
    if path.suffix in (".jsonl", ".json"):
        return read_jsonl(path, lines)
    raise InputError(f"{path}: unknown NLI file type {path.suffix!r}: expected .tsv or .jsonl")
