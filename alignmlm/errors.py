"""How the toolkit fails on bad input: one line `error: WHAT (and how to fix it)`, exit status 2.
Tracebacks are for bugs only.

- `InputError`: an expected failure caused by what the user gave (a file, a flag, a mismatch
  between two products). A ValueError, so callers that catch ValueError keep working.
- `reported(main)`: wraps a command's `main(argv)`: InputError, OSError (a file that is a
  directory, a missing parent, no permission, a full disk) and `SystemExit("error: ...")` end in
  that one line and status 2; anything else is a bug and keeps its traceback.
- `install_excepthook()`: the same for InputError raised inside fairseq-train (the plugin's
  tasks, models and criterions), where no `main` of ours is on the stack.
"""

from __future__ import annotations

import errno
import functools
import sys

EXIT_STATUS = 2  # argparse's status for a usage error


class InputError(ValueError):
    """Bad input: the message names the file, line or flag, what was expected and the fix."""


# errno -> what to do about it (the OS's own words say what happened)
OS_ERROR_HINTS = {
    errno.ENOENT: "check the path (and that its parent directory exists)",
    errno.EACCES: "no permission: choose a location you can write (or read), or fix its permissions",
    errno.EPERM: "not permitted: choose another location",
    errno.EISDIR: "a directory is where a file was expected: give a file path",
    errno.ENOTDIR: "a file is where a directory was expected: give a directory path",
    errno.EEXIST: "it exists already: choose another path",
    errno.ENOSPC: "the disk is full: free space or choose another location",
    errno.EROFS: "read-only file system: choose another location",
}


def describe_os_error(err: OSError) -> str:
    """'PATH: what happened; what to do' for an OSError raised by a file operation."""
    paths = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
    what = (err.strerror or str(err)).rstrip(".")
    hint = OS_ERROR_HINTS.get(err.errno)
    return f"{paths + ': ' if paths else ''}{what}{'; ' + hint if hint else ''}"


def one_line(message: str) -> str:
    return message if message.startswith("error:") else f"error: {message}"


def reported(main):
    """Decorate a command's main(argv) so that expected failures end in one `error:` line."""

    @functools.wraps(main)
    def run(argv=None) -> int:
        try:
            return main(argv)
        except SystemExit as stop:
            if isinstance(stop.code, str):  # raise SystemExit("error: ...")
                print(one_line(stop.code), file=sys.stderr)
                return EXIT_STATUS
            raise
        except InputError as err:
            print(one_line(str(err)), file=sys.stderr)
            return EXIT_STATUS
        except OSError as err:
            print(one_line(describe_os_error(err)), file=sys.stderr)
            return EXIT_STATUS

    return run


def install_excepthook() -> None:
    """Print an InputError that reaches the top of a process (fairseq-train's) as one line and
    exit with status 2; leave every other exception to Python's own hook."""
    previous = sys.excepthook
    if getattr(previous, "alignmlm", False):
        return

    def hook(kind, value, tb):
        if isinstance(value, InputError):
            print(one_line(str(value)), file=sys.stderr, flush=True)
            sys.exit(EXIT_STATUS)
        previous(kind, value, tb)

    hook.alignmlm = True
    sys.excepthook = hook
