"""File-system primitives shared by the readers and writers of :mod:`edgegrad.io`.

Temporary names, atomic writes that never replace a file unasked, hard links,
the targets a writer must refuse, and OS errors put into words.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, TypeAlias

from edgegrad.errors import ImageWriteError, OutputExistsError

StrPath: TypeAlias = str | os.PathLike[str]

#: ``O_BINARY`` where the platform has it (Windows), else nothing.
BINARY: Final = getattr(os, "O_BINARY", 0)
#: Create a file that must not exist yet.
NEW_FILE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY
# errno values meaning "this file system cannot hard-link here", not "this failed".
_NO_HARD_LINKS: Final = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}
)


def os_reason(error: OSError) -> str:
    """An OS error in lower-case words, for ``"path: reason"`` messages."""
    if error.errno == errno.ELOOP:
        return "is a symbolic link loop"
    return (error.strerror or str(error)).lower()


def temporary_name(target: Path) -> Path:
    """A hidden, unique name beside ``target``: ``.stem.XXXXXXXXXXXX.tmp.ext``.

    Hidden names are passed over by :func:`edgegrad.io.iter_images`.
    """
    return target.with_name(f".{target.stem}.{secrets.token_hex(6)}.tmp{target.suffix}")


# Temporary names (temporary_name), parsed back into the target's stem and suffix.
_TEMPORARY: Final = re.compile(r"\.(?P<stem>.+)\.[0-9a-f]{12}\.tmp(?P<suffix>(?:\.[^.]*)?)\Z")
# Folders listed for stale temporary files, at most this many remembered.
_LISTED_FOLDERS: Final = 4096
_stale: collections.OrderedDict[str, dict[str, list[str]]] = collections.OrderedDict()


def remove_stale_temporaries(target: Path) -> int:
    """Remove the temporary files an earlier, killed writer of ``target`` left beside it.

    Only names that :func:`temporary_name` makes for ``target`` are touched
    (``.stem.<12 hex digits>.tmp.ext``), so no other file is ever removed. A
    writer of the same target running at this moment would lose its
    temporary file and fail cleanly; one run writes each target once.

    A process lists each folder once, at its first write there, and
    remembers the stale files it found, by target, for the last 4096
    folders it wrote into: listing a folder at every write would make
    writing n files into it cost n² (``benchmarks/README.md``). So the
    temporary files looked for are those the folder held when this process
    first wrote into it; the ones it makes itself, it removes itself.

    Returns
    -------
    int
        How many were removed.
    """
    folder = os.path.abspath(target.parent)
    found = _stale.get(folder)
    if found is None:
        found = _stale_in(folder)
        _stale[folder] = found
        if len(_stale) > _LISTED_FOLDERS:
            _stale.popitem(last=False)
    else:
        _stale.move_to_end(folder)
    removed = 0
    for name in found.pop(target.name, ()):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, name))
            removed += 1
    return removed


def _stale_in(folder: str) -> dict[str, list[str]]:
    """The temporary files in ``folder``, by the name of the target each was for."""
    found: dict[str, list[str]] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if match := _TEMPORARY.match(entry.name):
                    found.setdefault(match["stem"] + match["suffix"], []).append(entry.name)
    except OSError:
        pass
    return found


def hard_link(source: Path, target: Path) -> bool:
    """Hard-link ``source`` as ``target`` unless the name exists.

    Returns ``False`` where the file system cannot (no hard links, another
    device, too many links), so the caller can fall back to a copy or a
    rename; raises ``FileExistsError`` if the name is taken, and any other
    ``OSError`` as it comes.
    """
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno in _NO_HARD_LINKS:
            return False
        raise
    return True


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is out (a pipe may take it in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@contextlib.contextmanager
def open_quietly(fd: int) -> Iterator[BinaryIO]:
    """``open(fd, "wb")``, whose closing after a failure cannot hide that failure.

    Closing flushes what the buffer still holds. After a write failed on a
    full disk, that fails as well, and a plain ``with open(...)`` would put
    its bare ``OSError`` in place of the error on its way out. The caller
    discards the data then anyway; on success, it closes the file itself.
    """
    file = open(fd, "wb")  # noqa: SIM115 (closed below, quietly after a failure)
    try:
        yield file
    except BaseException:
        with contextlib.suppress(OSError):
            file.close()
        raise
    file.close()


@contextlib.contextmanager
def atomic_output(target: Path, *, overwrite: bool = True) -> Iterator[BinaryIO]:
    """A hidden temporary file in the target's folder, renamed onto the target when the block ends.

    The data is flushed to disk (``fsync``) before the rename. Without
    ``overwrite`` the temporary file is hard-linked into place, which fails if
    the name exists, so a file that appeared after the caller's check is not
    replaced either (a rename would replace it silently). On any failure,
    Ctrl-C included, the temporary file is removed and the target untouched;
    the temporary files of a writer that was killed instead are removed by the
    next write of the same target. An exception from the block reaches the
    caller as it is; only publishing maps errors.

    Raises
    ------
    OutputExistsError
        If the target appeared during the write (without ``overwrite``).
    ImageWriteError
        If the temporary file cannot be made, flushed or published.
    """
    temporary = temporary_name(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        fd = os.open(temporary, NEW_FILE, 0o666)
    except OSError as error:
        raise ImageWriteError(target, os_reason(error)) from None
    try:
        with open_quietly(fd) as file:
            yield file
            try:
                file.flush()
                os.fsync(file.fileno())
                file.close()
            except OSError as error:
                raise ImageWriteError(target, os_reason(error)) from None
        try:
            if overwrite or not hard_link(temporary, target):
                os.replace(temporary, target)
        except FileExistsError:
            raise OutputExistsError(
                target, "already exists (it appeared during the write)"
            ) from None
        except OSError as error:
            raise ImageWriteError(target, os_reason(error)) from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def write_atomically(
    target: Path, write: Callable[[BinaryIO], Any], *, overwrite: bool = True
) -> Path:
    """``write(file)`` into :func:`atomic_output`; an ``OSError`` of the write names the target."""
    with atomic_output(target, overwrite=overwrite) as file:
        try:
            write(file)
        except OSError as error:
            raise ImageWriteError(target, os_reason(error)) from None
    return target


def check_target(
    target: Path,
    overwrite: bool,
    protected: StrPath | Iterable[StrPath],
    *,
    streams: bool = False,
) -> bool:
    """Refuse a target that must not be written; return whether it is a stream.

    With ``streams``, an existing pipe or character device (``/dev/stdout``, a
    named pipe, ``/dev/null``) is accepted as a stream to write into in place,
    whatever ``overwrite`` says, and ``True`` is returned. Any other file that
    is not a regular file is refused: replacing it would destroy it. A target
    that is one of the ``protected`` files (one path, or an iterable of them),
    under any name, is refused even with ``overwrite``.
    """
    try:
        info = target.stat()
    except FileNotFoundError:
        if target.is_symlink() and not overwrite:
            raise OutputExistsError(target, "already exists (a dangling symbolic link)") from None
        return False
    except OSError as error:
        raise ImageWriteError(target, os_reason(error)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageWriteError(target, "is a directory")
    if not stat.S_ISREG(info.st_mode):
        if streams and (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
            return True
        raise ImageWriteError(
            target, "is not a regular file (a device, pipe or socket); refusing to replace it"
        )
    for item in (protected,) if isinstance(protected, str | os.PathLike) else protected:
        try:
            other = os.stat(item)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            raise OutputExistsError(
                target, f"is an input of this run ({os.fspath(item)}); refusing to write onto it"
            )
    if not overwrite:
        raise OutputExistsError(target, "already exists (pass overwrite=True to replace it)")
    return False
