"""Reading user text files with errors that say which file, which line and what was expected."""
from __future__ import annotations

from pathlib import Path
from ..errors import InputError


def read_utf8(path: Path | str, what: str = "file") -> str:
    """The whole file decoded as UTF-8; a missing file or a bad byte is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            f"{path}:{line}: {what} is not valid UTF-8 (byte 0x{data[err.start]:02x} at column "
            f"{column}); convert it first, e.g. iconv -f latin1 -t utf-8"
        ) from None
