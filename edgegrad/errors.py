"""Exception hierarchy shared by the library and the command line.

Every error edgegrad raises on purpose derives from :class:`EdgegradError`, so a
caller can catch one class. Messages name the file (where there is one) and the
reason in words a user can act on::

    EdgegradError
    └── FileError (path, reason)
        ├── FileReadError            a file could not be read
        │   └── ImageReadError       ... or decoded as an image
        │       └── ImageTooLargeError
        ├── ImageScoreError          an image was read but cannot be scored as asked
        └── ImageWriteError          an output could not be written
            └── OutputExistsError
"""

from __future__ import annotations

import os

__all__ = [
    "EdgegradError",
    "FileError",
    "FileReadError",
    "ImageReadError",
    "ImageScoreError",
    "ImageTooLargeError",
    "ImageWriteError",
    "OutputExistsError",
    "PartialImageWarning",
]


class EdgegradError(Exception):
    """Base class of every error raised on purpose by edgegrad."""


class FileError(EdgegradError):
    """Something went wrong with one file; the message is ``"path: reason"``.

    Parameters
    ----------
    path : str or os.PathLike
        The file at fault.
    reason : str
        What went wrong, in words a user can act on.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class FileReadError(FileError):
    """A file (an image, or a record log to resume) could not be read."""


class ImageReadError(FileReadError):
    """An image file could not be read or decoded."""


class ImageTooLargeError(ImageReadError):
    """An image's header declares more pixels than the configured limit."""


class ImageScoreError(FileError):
    """An image was read but cannot be scored as asked.

    For example, the region asked for reaches beyond this image, or the image
    is smaller than the focus measure needs.
    """


class ImageWriteError(FileError):
    """An output file (an image, a table, a record log) could not be written."""


class OutputExistsError(ImageWriteError):
    """The output exists (or is an input of the run) and overwriting was not allowed."""


class PartialImageWarning(UserWarning):
    """A truncated or corrupt image was accepted because ``allow_partial=True``.

    It is a warning, not an :class:`EdgegradError`: the image was read, but part
    of it may be missing or garbled.
    """
