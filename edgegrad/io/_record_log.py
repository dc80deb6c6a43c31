"""Record logs: text files that grow by whole lines while a batch runs.

A long batch writes one line per finished input, so that a run that is
stopped keeps what it did and a rerun can skip it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from edgegrad._validate import check_bool, check_path
from edgegrad.errors import FileReadError, ImageWriteError, OutputExistsError
from edgegrad.io._fs import (
    BINARY,
    NEW_FILE,
    StrPath,
    check_target,
    os_reason,
    temporary_name,
    write_all,
)

__all__ = ["RecordLog", "open_record_log", "read_record_log"]

_LOG_FLAGS = os.O_APPEND | BINARY
_NEW_LOG_FLAGS = NEW_FILE | os.O_APPEND
_LOG_BLOCK = 64 * 1024
_IN_USE = (
    "is in use by another run (it holds the file's lock); two runs must not write one "
    "log: wait for that run to end, or write to another file"
)


class RecordLog:
    """A text file that grows by whole lines, each written with one ``os.write``.

    Made by :func:`open_record_log`, which takes the file's exclusive lock
    (``flock``) until it is closed, so that two runs never write one log at
    once. Nothing is buffered in the process: a line
    is in the file when :meth:`write_line` returns, so a process killed at any
    moment leaves only complete lines. Only a write cut short (a full disk, a
    system crash) can leave a last line without its newline, which
    :func:`open_record_log` cuts off when resuming.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    kept : int
        Bytes of earlier lines the file held when opened (0 for a new file).
    dropped : int
        Bytes of an incomplete last line cut off when it was opened to resume.
    """

    def __init__(
        self, path: Path, fd: int, *, kept: int = 0, dropped: int = 0, sync: bool = True
    ) -> None:
        self.path = path
        self.kept = kept
        self.dropped = dropped
        self._fd: int | None = fd
        self._sync = sync

    def write_line(self, line: str) -> None:
        """Append one line with a single write, undecodable file-name bytes as they were.

        Parameters
        ----------
        line : str
            The line, ending with ``"\\n"``.

        Raises
        ------
        ValueError
            If ``line`` does not end with a newline, or the log is closed.
        ImageWriteError
            If the file system refuses (a full disk, for example).
        """
        if not line.endswith("\n"):
            raise ValueError(f"line must end with a newline; got {line[-20:]!r}")
        if self._fd is None:
            raise ValueError(f"{self.path}: the record log is closed")
        try:
            write_all(self._fd, line.encode("utf-8", "surrogateescape"))
        except OSError as error:
            raise ImageWriteError(self.path, os_reason(error)) from None

    def close(self) -> None:
        """Flush the file to disk (``fsync``) and close it; closing again does nothing.

        Raises
        ------
        ImageWriteError
            If the flush fails.
        """
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if self._sync:
                os.fsync(fd)
        except OSError as error:
            raise ImageWriteError(self.path, os_reason(error)) from None
        finally:
            os.close(fd)

    def __enter__(self) -> RecordLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_record_log(
    path: StrPath,
    *,
    overwrite: bool = False,
    protected: StrPath | Iterable[StrPath] = (),
    resume: bool = False,
) -> RecordLog:
    """Open a log of records (CSV or JSONL lines) to append to while a batch runs.

    A new file is created exclusively: one that appears meanwhile is not
    replaced. Missing parent folders are created. An existing pipe or
    character device (``/dev/stdout``, a named pipe) is written into as a
    stream, never replaced; it cannot be resumed.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    overwrite : bool, optional
        Replace an existing file with a new, empty one, at once (default
        ``False``). The name is swapped for a new file, never written through:
        a symbolic link there is replaced, not followed.
    protected : str, os.PathLike or an iterable of them, optional
        Files never to write onto, even with ``overwrite`` or ``resume`` (the
        run's inputs).
    resume : bool, optional
        Append to the file if it exists, else create it (default ``False``).
        An incomplete last line (one without its newline) is cut off first, so
        the next line starts on a line of its own; :attr:`RecordLog.dropped`
        says how many bytes went.

    Returns
    -------
    RecordLog
        The open log; close it (or use it as a context manager) to ``fsync``.

    Raises
    ------
    OutputExistsError
        If the file exists and neither ``overwrite`` nor ``resume`` is given, or
        if it is one of the ``protected`` files.
    ImageWriteError
        If the path is a folder, the file system refuses, or another open
        :class:`RecordLog` (in any process) holds the file's lock.
    ValueError
        If both ``overwrite`` and ``resume`` are given.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with open_record_log(Path(folder, "run.jsonl")) as log:
    ...         log.write_line('{"path": "a.png"}\\n')
    ...     with open_record_log(Path(folder, "run.jsonl"), resume=True) as log:
    ...         print(log.kept, list(read_record_log(log.path)))
    18 ['{"path": "a.png"}\\n']
    """
    overwrite = check_bool(overwrite, "overwrite")
    resume = check_bool(resume, "resume")
    if overwrite and resume:
        raise ValueError("give overwrite or resume, not both")
    target = check_path(path)
    stream = check_target(
        target, overwrite or (resume and target.exists()), protected, streams=True
    )
    if stream and resume:
        raise FileReadError(target, "cannot read it to resume: it is a pipe or device")
    try:
        if stream:
            return RecordLog(target, os.open(target, os.O_WRONLY | _LOG_FLAGS), sync=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            return _reopen_log(target)
        if overwrite:
            _refuse_if_locked(target)
            return RecordLog(target, _replace_with_empty(target))
        return RecordLog(target, _locked(target, os.open(target, _NEW_LOG_FLAGS, 0o666)))
    except FileExistsError:
        raise OutputExistsError(target, "already exists (it appeared during the check)") from None
    except OSError as error:
        raise ImageWriteError(target, os_reason(error)) from None


def read_record_log(path: StrPath) -> Iterator[str]:
    """The lines of a record log, each with its newline; none if there is no file.

    The last line lacks its newline if the write of it was cut short.
    Undecodable bytes of file names come back as surrogate escapes, as they
    were written.

    Parameters
    ----------
    path : str or os.PathLike
        The log.

    Returns
    -------
    iterator of str
        One line at a time, ``"\\n"`` included where the file has it.

    Raises
    ------
    FileReadError
        At the call, if the file exists but cannot be read, or is not a
        regular file (a pipe or device cannot be read back).
    """
    path = check_path(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a pipe or device, not a file"
            raise FileReadError(path, f"cannot read it to resume: it is {kind}")
        file = open(path, "rb")  # noqa: SIM115 (closed by _lines when it is done)
    except FileNotFoundError:
        return iter(())
    except OSError as error:
        raise FileReadError(path, f"cannot read it to resume: {os_reason(error)}") from None
    return _lines(file)


def _lines(file: BinaryIO) -> Iterator[str]:
    """The lines of an open binary file as text, closing the file at the end."""
    with file:
        for line in file:
            yield line.decode("utf-8", "surrogateescape")


def _locked(target: Path, fd: int) -> int:
    """Take the exclusive lock of an open log, or close it and refuse.

    ``flock(2)`` locks belong to the open file and go when it is closed, or
    when the process dies, so a killed run never leaves a log locked. Where
    the file system has no locks (some network mounts), or on a platform
    without ``flock``, the log is used unlocked.
    """
    if sys.platform == "win32":
        return fd
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ImageWriteError(target, _IN_USE) from None
    except OSError:
        pass
    return fd


def _refuse_if_locked(target: Path) -> None:
    """Refuse to replace a log that another run holds open."""
    try:
        fd = os.open(target, os.O_RDONLY | BINARY)
    except FileNotFoundError:
        return
    os.close(_locked(target, fd))


def _reopen_log(target: Path) -> RecordLog:
    """Open (or create) a log to append to, cutting off an incomplete last line."""
    fd = _locked(target, os.open(target, os.O_RDWR | _LOG_FLAGS | os.O_CREAT, 0o666))
    try:
        size = os.fstat(fd).st_size
        kept = _end_of_last_line(fd, size)
        if kept < size:
            os.ftruncate(fd, kept)
    except BaseException:
        os.close(fd)
        raise
    return RecordLog(target, fd, kept=kept, dropped=size - kept)


def _end_of_last_line(fd: int, size: int) -> int:
    """The offset just past the last newline of an open file of ``size`` bytes, else 0."""
    end = size
    while end > 0:
        start = max(0, end - _LOG_BLOCK)
        os.lseek(fd, start, os.SEEK_SET)
        newline = os.read(fd, end - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def _replace_with_empty(target: Path) -> int:
    """Swap ``target`` for a new, empty file and return its open descriptor."""
    temporary = temporary_name(target)
    fd = _locked(target, os.open(temporary, _NEW_LOG_FLAGS, 0o666))
    try:
        os.replace(temporary, target)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return fd
