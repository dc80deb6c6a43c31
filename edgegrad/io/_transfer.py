"""Moving, copying and linking files into a folder without replacing anything there."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import stat
import sys
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Final, Literal, TypeAlias, get_args

from edgegrad._validate import check_bool, check_choice, check_path
from edgegrad.errors import ImageWriteError
from edgegrad.io._fs import (
    NEW_FILE,
    StrPath,
    hard_link,
    open_quietly,
    os_reason,
    remove_stale_temporaries,
    temporary_name,
)

__all__ = ["TRANSFER_ACTIONS", "TransferAction", "transfer"]

TransferAction: TypeAlias = Literal["move", "copy", "link"]
TRANSFER_ACTIONS: tuple[TransferAction, ...] = get_args(TransferAction)

# What a candidate name holds: nothing, the transfer already made, or something else.
_State: TypeAlias = Literal["free", "done", "taken"]
# Bytes read at a time when comparing two files.
_CHUNK: Final = 1 << 20


def transfer(
    source: StrPath,
    destination: StrPath,
    action: TransferAction,
    *,
    dry_run: bool = False,
    taken: Container[Path] = (),
) -> Path:
    """Move, copy or symlink a file into a folder, never replacing anything there.

    The file keeps its name; if that is taken, ``-1``, ``-2``, ... is added
    before the extension (``d.png`` → ``d-1.png``). Each name is claimed with an
    operation that fails if the name exists, so a file that appears meanwhile
    is not overwritten either.

    Parameters
    ----------
    source : str or os.PathLike
        The file.
    destination : str or os.PathLike
        The folder; created if missing.
    action : {"move", "copy", "link"}
        ``"move"`` renames (hard link, then unlink; a verified copy, then
        unlink, across file systems); ``"copy"`` copies data and timestamps;
        ``"link"`` makes a symbolic link to the absolute path of ``source``.
    dry_run : bool, optional
        Only return the path that would be used; change nothing.
    taken : container of pathlib.Path, optional
        Names to treat as taken although nothing is there yet, so that a dry
        run hands out the same names as the real run would.

    Returns
    -------
    pathlib.Path
        The new path of the file (or the path it would get).

    Raises
    ------
    ImageWriteError
        If the file system refuses (the message names the file and the reason).
    ValueError
        If ``action`` is not one of the three.

    Notes
    -----
    A copy (``"copy"``, or ``"move"`` across file systems) is written to a
    hidden temporary name in ``destination``, flushed to disk, compared byte
    for byte with ``source``, and only then given its name with a hard link,
    which fails if the name exists. Where the file system has no hard links
    it is renamed instead, right after checking that the name is free: a file
    appearing in between would be replaced, a narrow race that cannot be
    closed there. The folder is flushed to disk before a moved ``source`` is
    removed. On any failure, Ctrl-C included, the temporary file is removed
    and ``source`` kept; so no name ever holds a partial copy.

    A transfer killed part way is finished by running it again. A name that
    already holds what the transfer makes counts as done rather than taken:
    for ``"move"`` and ``"copy"``, a regular file byte-identical to
    ``source`` (or, for ``"move"``, another hard link to it, though never
    the name ``source`` itself has); for ``"link"``, a symbolic link to the
    absolute path of ``source``. The names are tried in order, so the one
    returned (dry run included) is the first that is free or done, a moved
    ``source`` is then removed, and each file ends up exactly once. The
    temporary files that killed copies left for the names tried are removed.
    """
    check_choice(action, "action", TRANSFER_ACTIONS)
    dry_run = check_bool(dry_run, "dry_run")
    source = check_path(source, "source")
    folder = check_path(destination, "destination")
    candidates = _candidates(source, folder, taken)
    try:
        if dry_run:
            return next(c for c in candidates if _state(source, c, action) != "taken")
        folder.mkdir(parents=True, exist_ok=True)
        target = next(c for c in candidates if _put(source, c, action))
        _sync_folder(folder)
        if action == "move":
            source.unlink()
    except OSError as error:
        reason = f"could not {action} it to {folder}: {os_reason(error)}"
        raise ImageWriteError(source, reason) from None
    return target


def _candidates(source: Path, folder: Path, taken: Container[Path]) -> Iterator[Path]:
    """``folder/name``, then ``name-1``, ``name-2``, ..., passing over ``taken``."""
    for n in itertools.count():
        candidate = folder / (source.name if n == 0 else f"{source.stem}-{n}{source.suffix}")
        if candidate not in taken:
            yield candidate


def _put(source: Path, target: Path, action: TransferAction) -> bool:
    """Make ``target`` hold ``source``; ``False`` if something else has the name."""
    if action != "link":
        remove_stale_temporaries(target)
    state = _state(source, target, action)
    if state == "free":
        return _claim(source, target, action)
    return state == "done"


def _state(source: Path, candidate: Path, action: TransferAction) -> _State:
    """Whether ``candidate`` is free, already holds what the transfer makes, or is taken."""
    try:
        there = candidate.lstat()
    except FileNotFoundError:
        return "free"
    if action == "link":
        made = stat.S_ISLNK(there.st_mode) and os.readlink(candidate) == os.fspath(
            source.absolute()
        )
        return "done" if made else "taken"
    if not stat.S_ISREG(there.st_mode):
        return "taken"
    own = source.stat()
    if (there.st_dev, there.st_ino) == (own.st_dev, own.st_ino):
        # A hard link left by a move killed before it unlinked the source; but
        # never the source's own entry, whose removal would lose the file.
        moved = action == "move" and not _same_entry(source, candidate, there)
        return "done" if moved else "taken"
    if there.st_size != own.st_size:
        return "taken"
    try:
        same = _same_bytes(source, candidate)
    except OSError:  # someone else's unreadable file, say; an unreadable source fails later
        same = False
    return "done" if same else "taken"


def _same_entry(source: Path, candidate: Path, there: os.stat_result) -> bool:
    """Whether ``candidate``, a name of the same file, may be ``source``'s own name.

    Doubtful cases count as the same, which only costs a ``-1`` name.
    """
    if there.st_nlink <= 1:
        return True
    try:
        same_folder = os.path.samefile(source.parent, candidate.parent)
    except OSError:
        return True
    return same_folder and source.name.casefold() == candidate.name.casefold()


def _same_bytes(source: Path, candidate: Path) -> bool:
    """Whether two files hold the same bytes."""
    with open(source, "rb") as own, open(candidate, "rb") as other:
        while True:
            mine, theirs = own.read(_CHUNK), other.read(_CHUNK)
            if mine != theirs:
                return False
            if not mine:
                return True


def _claim(source: Path, target: Path, action: TransferAction) -> bool:
    """Create ``target`` from ``source``; ``False`` if the name is already taken."""
    try:
        if action == "link":
            os.symlink(source.absolute(), target)
            return True
        if action == "move" and hard_link(source, target):
            return True
    except FileExistsError:
        return False
    return _copy(source, target)


def _copy(source: Path, target: Path) -> bool:
    """Copy ``source`` through a verified temporary file; ``False`` if ``target`` is taken."""
    temporary = temporary_name(target)
    fd = os.open(temporary, NEW_FILE, 0o666)
    try:
        with open_quietly(fd) as out, open(source, "rb") as into:
            shutil.copyfileobj(into, out)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(source, temporary)
        if not _same_bytes(source, temporary):
            raise OSError(errno.EIO, "the copy differs from the original")
        placed = _place(temporary, target)
        # The hard link's second name, or the copy that found its name taken.
        temporary.unlink(missing_ok=True)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise
    return placed


def _place(temporary: Path, target: Path) -> bool:
    """Give ``temporary`` the name ``target`` as well, unless that name exists."""
    try:
        if hard_link(temporary, target):
            return True
    except FileExistsError:
        return False
    # No hard links here. A rename replaces an existing file on POSIX, so the
    # name is checked right before: one appearing in between would be lost.
    if os.path.lexists(target):
        return False
    try:
        os.rename(temporary, target)
    except FileExistsError:  # Windows refuses an existing name instead
        return False
    return True


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk, where folders can be opened (not on Windows)."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno != errno.EINVAL:  # a file system that cannot sync folders
            raise
    finally:
        os.close(fd)
