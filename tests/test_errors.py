"""The one error style (alignmlm.errors): expected failures end in one `error:` line with status 2,
bugs keep their traceback; and the atomic writes of alignmlm.safe_files."""

import errno
import subprocess
import sys

import pytest
from conftest import refusal

from alignmlm.__main__ import COMMANDS
from alignmlm.errors import InputError, describe_os_error, reported
from alignmlm.safe_files import staged, staging_path, write_text_atomic


def test_every_command_main_is_reported():
    import importlib

    for name, (module, _) in COMMANDS.items():
        main = importlib.import_module(module).main
        assert getattr(main, "__wrapped__", None) is not None, f"{name}: main is not @reported"


@pytest.mark.parametrize(
    "raised, line",
    [
        (InputError("x.txt:3: expected 2 fields"), "error: x.txt:3: expected 2 fields"),
        (SystemExit("error: --seeds: bad"), "error: --seeds: bad"),
        (SystemExit("no prefix"), "error: no prefix"),
        (
            IsADirectoryError(errno.EISDIR, "Is a directory", "runs/out"),
            "error: runs/out: Is a directory; a directory is where a file was expected: give a file path",
        ),
        (
            FileNotFoundError(errno.ENOENT, "No such file or directory", "a/b.txt"),
            "error: a/b.txt: No such file or directory; check the path (and that its parent directory exists)",
        ),
    ],
)
def test_expected_failures_end_in_one_line_with_status_2(raised, line, capsys):
    @reported
    def main(argv=None):
        raise raised

    assert main([]) == 2
    assert capsys.readouterr().err.splitlines() == [line]


def test_bugs_keep_their_traceback_and_status_codes_pass_through():
    @reported
    def buggy(argv=None):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        buggy([])

    @reported
    def usage(argv=None):
        raise SystemExit(2)  # argparse's own exit: its message was printed already

    with pytest.raises(SystemExit) as stop:
        usage([])
    assert stop.value.code == 2


def test_os_error_names_both_paths_of_a_rename():
    err = OSError(errno.EXDEV, "Invalid cross-device link", "a", None, "b")
    assert describe_os_error(err) == "a -> b: Invalid cross-device link"


def test_an_input_error_at_the_top_of_a_process_is_one_line():
    """As inside fairseq-train: the plugin's import installs the hook."""
    code = (
        "import alignmlm.tasks\n"
        "from alignmlm.errors import InputError\n"
        "raise InputError('--bilingual-dict x.txt: not found')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: --bilingual-dict x.txt: not found"
    assert "Traceback" not in proc.stderr
    other = subprocess.run(
        [sys.executable, "-c", "import alignmlm.tasks\nraise KeyError('bug')"], capture_output=True, text=True
    )
    assert other.returncode == 1 and "Traceback" in other.stderr  # bugs keep theirs


def test_a_missing_input_file_is_named_with_its_flag(tmp_path):
    assert f"--corpus {tmp_path / 'no.txt'}: input file not found" in refusal("prepare-pair", "--corpus", tmp_path / "no.txt", "--transform", "inv",
                                         "--out", tmp_path / "out")  # fmt: skip


def test_write_text_atomic_replaces_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
    with pytest.raises(IsADirectoryError):
        write_text_atomic(tmp_path, "x")  # a directory is never replaced


def test_staged_moves_in_only_on_success(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user's")
    (out / "bin").mkdir()
    (out / "bin" / "old.bin").write_text("old")
    with pytest.raises(RuntimeError):
        with staged(out) as staging:
            (staging / "bin").mkdir()
            (staging / "bin" / "new.bin").write_text("half")
            raise RuntimeError("killed")
    assert (out / "bin" / "old.bin").read_text() == "old"  # a failure changes nothing
    assert not staging_path(out).exists()
    with staged(out) as staging:
        (staging / "bin").mkdir()
        (staging / "bin" / "new.bin").write_text("new")
        (staging / "manifest.json").write_text("{}")
    assert sorted(p.name for p in (out / "bin").iterdir()) == ["new.bin"]
    assert (out / "keep.txt").read_text() == "user's"  # entries it did not build are untouched
    assert sorted(p.name for p in out.iterdir()) == ["bin", "keep.txt", "manifest.json"]
