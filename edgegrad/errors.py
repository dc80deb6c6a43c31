"""Exception hierarchy shared by the library and the command line.

Every error edgegrad raises on purpose derives from :class:`EdgegradError`, so a
caller can catch one class. Messages name the file (where there is one) and the
reason in words a user can act on.
"""

from __future__ import annotations

import os

__all__ = [
    "EdgegradError",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "OutputExistsError",
    "PartialImageWarning",
]


class EdgegradError(Exception):
    """Base class of every error raised on purpose by edgegrad."""


class ImageReadError(EdgegradError):
    """An image file could not be read or decoded.

    Parameters
    ----------
    path : str or os.PathLike
        The file that failed.
    reason : str
        What went wrong, in words a user can act on.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageTooLargeError(ImageReadError):
    """An image's header declares more pixels than the configured limit."""


class ImageWriteError(EdgegradError):
    """An output file could not be written.

    Parameters
    ----------
    path : str or os.PathLike
        The file that was to be written.
    reason : str
        What went wrong.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OutputExistsError(ImageWriteError):
    """The output exists (or is an input of the run) and overwriting was not allowed."""


class PartialImageWarning(UserWarning):
    """A truncated or corrupt image was accepted because ``allow_partial=True``.

    It is a warning, not an :class:`EdgegradError`: the image was read, but part
    of it may be missing or garbled.
    """
