"""``edgegrad.io`` record logs: whole lines appended as a batch runs, and resumed."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from edgegrad.errors import FileReadError, ImageWriteError, OutputExistsError
from edgegrad.io import RecordLog, open_record_log, read_record_log, write_image, write_text


def test_a_new_log_is_created_exclusively_and_grows_by_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "run.jsonl"
    with open_record_log(path) as log:
        assert (log.kept, log.dropped) == (0, 0)
        log.write_line("one\n")
        assert path.read_text("utf-8") == "one\n"  # in the file before the log is closed
        log.write_line("two\n")
    assert list(read_record_log(path)) == ["one\n", "two\n"]
    with pytest.raises(OutputExistsError, match="already exists"):
        open_record_log(path)
    assert path.read_text("utf-8") == "one\ntwo\n"


def test_write_line_wants_one_whole_line_on_an_open_log(tmp_path: Path) -> None:
    log = open_record_log(tmp_path / "run.csv")
    with pytest.raises(ValueError, match="must end with a newline"):
        log.write_line("no newline")
    log.close()
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.write_line("late\n")
    assert (tmp_path / "run.csv").read_bytes() == b""


def test_resume_appends_and_cuts_off_an_incomplete_last_line(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"done 1\ndone 2\nhalf a li")
    assert list(read_record_log(path)) == ["done 1\n", "done 2\n", "half a li"]
    with open_record_log(path, resume=True) as log:
        assert (log.kept, log.dropped) == (14, 9)
        assert path.read_bytes() == b"done 1\ndone 2\n"
        log.write_line("done 3\n")
    assert path.read_bytes() == b"done 1\ndone 2\ndone 3\n"


@pytest.mark.parametrize("content", [b"", b"x" * 200_000])
def test_resume_of_a_log_without_a_complete_line_starts_it_again(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(content)
    with open_record_log(path, resume=True) as log:
        assert (log.kept, log.dropped) == (0, len(content))
        log.write_line("first\n")
    assert path.read_bytes() == b"first\n"


def test_a_newline_far_back_is_found(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"line\n" + b"y" * 150_000)
    with open_record_log(path, resume=True) as log:
        assert (log.kept, log.dropped) == (5, 150_000)


def test_resume_creates_a_missing_log_and_reading_it_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new" / "run.jsonl"
    assert list(read_record_log(path)) == []
    with open_record_log(path, resume=True) as log:
        log.write_line("a\n")
    assert path.read_text("utf-8") == "a\n"


def test_undecodable_name_bytes_survive_a_round_trip(tmp_path: Path) -> None:
    line = os.fsdecode(b"odd\xff.png") + "\n"
    path = tmp_path / "run.jsonl"
    with open_record_log(path) as log:
        log.write_line(line)
    assert path.read_bytes() == b"odd\xff.png\n"
    assert list(read_record_log(path)) == [line]


def test_overwrite_swaps_the_name_for_a_new_file(tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("keep\n", encoding="utf-8")
    path = tmp_path / "run.jsonl"
    path.symlink_to(other)
    with open_record_log(path, overwrite=True) as log:
        log.write_line("new\n")
    assert not path.is_symlink()
    assert path.read_text("utf-8") == "new\n"
    assert other.read_text("utf-8") == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt", "run.jsonl"]


@pytest.mark.parametrize("resume", [False, True])
def test_an_input_is_never_a_log(tmp_path: Path, resume: bool) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(b"pixels")
    link = tmp_path / "run.jsonl"
    link.symlink_to(image)
    for target in (image, link):
        with pytest.raises(OutputExistsError, match="is an input of this run"):
            open_record_log(target, protected=[image], overwrite=not resume, resume=resume)
    assert image.read_bytes() == b"pixels"


def test_a_dangling_link_or_a_folder_is_refused(tmp_path: Path) -> None:
    dangling = tmp_path / "run.jsonl"
    dangling.symlink_to(tmp_path / "missing.jsonl")
    for resume in (False, True):
        with pytest.raises(OutputExistsError, match="dangling"):
            open_record_log(dangling, resume=resume)
    assert not (tmp_path / "missing.jsonl").exists()
    with pytest.raises(ImageWriteError, match="is a directory"):
        open_record_log(tmp_path, resume=True)
    with pytest.raises(ValueError, match="not both"):
        open_record_log(tmp_path / "x.jsonl", overwrite=True, resume=True)


def test_an_unreadable_log_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="cannot read it to resume: it is a directory"):
        list(read_record_log(tmp_path))


def test_record_log_is_a_context_manager(tmp_path: Path) -> None:
    with open_record_log(tmp_path / "run.jsonl") as log:
        assert isinstance(log, RecordLog)
    with pytest.raises(ValueError, match="closed"):
        log.write_line("x\n")


def _drain(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    """Read a named pipe to its end in a thread; the bytes land in the list."""
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as pipe:
            received.append(pipe.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, received


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_written_into_never_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "out.jsonl"
    os.mkfifo(fifo)
    reader, received = _drain(fifo)
    with open_record_log(fifo) as log:  # no overwrite needed: nothing is replaced
        log.write_line("one\n")
        log.write_line("two\n")
    reader.join(timeout=10)
    assert received == [b"one\ntwo\n"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    reader, received = _drain(fifo)
    write_text(fifo, "a,b\n1,2\n", overwrite=True)
    reader.join(timeout=10)
    assert received == [b"a,b\n1,2\n"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_cannot_be_resumed_or_hold_an_image(tmp_path: Path) -> None:
    fifo = tmp_path / "out.jsonl"
    os.mkfifo(fifo)
    # Each must refuse at once: opening the pipe to read would wait for a writer.
    with pytest.raises(FileReadError, match="cannot read it to resume: it is a pipe"):
        list(read_record_log(fifo))
    with pytest.raises(FileReadError, match="cannot read it to resume: it is a pipe"):
        open_record_log(fifo, resume=True)
    picture = tmp_path / "out.png"
    os.mkfifo(picture)
    with pytest.raises(ImageWriteError, match="is not a regular file"):
        write_image(picture, np.zeros((2, 2), np.uint8), overwrite=True)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert stat.S_ISFIFO(picture.lstat().st_mode)
