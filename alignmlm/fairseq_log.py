"""Reading the JSON records of a fairseq `--log-format json --log-file` log."""

import json
from pathlib import Path


def read_records(log_path, kind: str) -> list:
    """Records of one kind, in order: 'train_inner' (every --log-interval), 'train' (end of
    epoch) or a validation subset name such as 'valid' or 'valid_en'.

    The log file holds bare messages, so a record's kind is told by its keys: 'loss' for
    train_inner, '<kind>_loss' for the others.
    """
    key = "loss" if kind == "train_inner" else f"{kind}_loss"
    records = []
    for line in Path(log_path).read_text(errors="replace").splitlines():
        start = line.find("{")
        if start < 0 or not line.rstrip().endswith("}"):
            continue
        try:
            record = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        if key in record:
            records.append(record)
    return records
