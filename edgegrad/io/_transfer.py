"""Moving, copying and linking files into a folder without replacing anything there."""

from __future__ import annotations

import errno
import filecmp
import itertools
import os
import shutil
from collections.abc import Container
from pathlib import Path
from typing import Literal, TypeAlias, get_args

from edgegrad._validate import check_bool, check_choice, check_path
from edgegrad.errors import ImageWriteError
from edgegrad.io._fs import NEW_FILE, StrPath, hard_link, os_reason

__all__ = ["TRANSFER_ACTIONS", "TransferAction", "transfer"]

TransferAction: TypeAlias = Literal["move", "copy", "link"]
TRANSFER_ACTIONS: tuple[TransferAction, ...] = get_args(TransferAction)


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
        ``"move"`` renames (hard link, then unlink; a copy, then unlink, across
        file systems); ``"copy"`` copies data and timestamps; ``"link"`` makes
        a symbolic link to the absolute path of ``source``.
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
    """
    check_choice(action, "action", TRANSFER_ACTIONS)
    dry_run = check_bool(dry_run, "dry_run")
    source = check_path(source, "source")
    folder = check_path(destination, "destination")
    candidates = (
        candidate
        for n in itertools.count()
        if (candidate := folder / (source.name if n == 0 else f"{source.stem}-{n}{source.suffix}"))
        not in taken
    )
    if dry_run:
        return next(c for c in candidates if not os.path.lexists(c))
    target = next(candidates)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        while not _claim(source, target, action):
            target = next(candidates)
        if action == "move":
            source.unlink()
    except OSError as error:
        reason = f"could not {action} it to {folder}: {os_reason(error)}"
        raise ImageWriteError(source, reason) from None
    return target


def _claim(source: Path, target: Path, action: str) -> bool:
    """Create ``target`` from ``source``; ``False`` if the name is already taken."""
    try:
        if action == "link":
            os.symlink(source.absolute(), target)
            return True
        if action == "move" and hard_link(source, target):
            return True
        fd = os.open(target, NEW_FILE, 0o666)
    except FileExistsError:
        return False
    try:
        with open(fd, "wb") as out, open(source, "rb") as into:
            shutil.copyfileobj(into, out)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(source, target)
        if not filecmp.cmp(source, target, shallow=False):
            raise OSError(errno.EIO, "the copy differs from the original")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return True
