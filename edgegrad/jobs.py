"""Per-file jobs for :mod:`edgegrad.batch`: a path in, a small picklable result out.

A job takes a path, never an open file or an array, and returns a frozen
dataclass of plain numbers and strings, so it can run on any executor: a local
process pool today, a cluster's workers later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgegrad import metrics
from edgegrad.io import read_image_checked

__all__ = ["FileScore", "score_file"]


@dataclass(frozen=True)
class FileScore:
    """What :func:`score_file` found for one image.

    Attributes
    ----------
    score : float
        The focus score, in the units of its method.
    width, height : int
        Size of the image, after EXIF orientation.
    warning : str or None
        The integrity problem tolerated with ``allow_partial=True``, else None.
    """

    score: float
    width: int
    height: int
    warning: str | None


def score_file(
    path: Path,
    *,
    method: str = "lapv",
    roi: Sequence[int] | None = None,
    center: float | None = None,
    working_size: int | None = None,
    max_pixels: int | None = None,
    allow_partial: bool = False,
) -> FileScore:
    """Read one image and score its focus, as :func:`edgegrad.blur_score` would.

    Parameters
    ----------
    path : pathlib.Path
        The image file.
    method, roi, center, working_size
        As for :func:`edgegrad.blur_score`.
    max_pixels, allow_partial
        As for :func:`edgegrad.io.read_image_checked`.

    Returns
    -------
    FileScore

    Raises
    ------
    ImageReadError, ImageTooLargeError
        If the file cannot be read safely.
    ValueError
        If the image or region is too small for the method.
    """
    loaded = read_image_checked(
        path, mode="color", max_pixels=max_pixels, allow_partial=allow_partial
    )
    score = metrics.blur_score(
        loaded.array, method, roi=roi, center=center, working_size=working_size
    )
    return FileScore(score, loaded.width, loaded.height, loaded.warning)
