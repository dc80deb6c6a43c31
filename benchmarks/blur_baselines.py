"""The baseline pipelines that ``bench_blur_score.py`` times, each in a fresh process.

Run from the repository root (``bench_blur_score.py`` writes FILES.json)::

    python benchmarks/blur_baselines.py naive FILES.json
    python benchmarks/blur_baselines.py decode FILES.json
    python benchmarks/blur_baselines.py decode-reuse FILES.json

FILES.json is a list of ``[path, imread flags, height, width]``: the flags to
decode with and the shape that decode gives.

* ``naive``: the tutorial recipe in one process, in the listed order:
  ``cv2.imread`` (colour), ``cv2.cvtColor`` to gray, ``cv2.Laplacian(…, CV_64F).var()``.
* ``decode``: decode only, ``cv2.imread(path, flags)`` on a "forkserver" pool of
  one process per CPU, each with one OpenCV thread, in chunks of 4. With
  ``IMREAD_GRAYSCALE`` this is the floor for any tool that scores every pixel;
  with ``IMREAD_REDUCED_GRAYSCALE_k`` the floor for one that may score a
  downscaled image.
* ``decode-reuse``: the same, but each worker decodes into a buffer it keeps
  per shape, ``cv2.imread(path, buffer, flags)``, so that it does not fault in
  fresh pages for every image (the issue's "decode-only floor, reused
  buffers").

It parses ``sys.argv`` itself rather than using click, so that start-up is no
more than the recipe needs; the pool needs its worker function in a real file.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt


def naive(paths: list[str]) -> None:
    for path in paths:
        image = cv2.imread(path)
        if image is None:
            raise SystemExit(f"cannot read {path}")
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        cv2.Laplacian(gray, cv2.CV_64F).var()


def _single_thread() -> None:
    cv2.setNumThreads(1)


Job = tuple[str, int, int, int]
_BUFFERS: dict[tuple[int, int], npt.NDArray[np.uint8]] = {}


def _decode(job: Job) -> tuple[int, ...] | None:
    path, flags, _, _ = job
    image = cv2.imread(path, flags)
    return None if image is None else image.shape


def _decode_reusing(job: Job) -> tuple[int, ...] | None:
    """Decode into the buffer kept for the shape, or afresh where OpenCV refuses it.

    OpenCV checks the buffer against the stored size, before EXIF orientation,
    so a rotated photo does not fit the buffer of its displayed shape.
    """
    path, flags, height, width = job
    buffer = _BUFFERS.setdefault((height, width), np.empty((height, width), np.uint8))
    try:
        image = cv2.imread(path, buffer, flags)
    except cv2.error:
        image = cv2.imread(path, flags)
    return None if image is None else image.shape


def decode(jobs: list[Job], *, reuse: bool) -> None:
    context = multiprocessing.get_context("forkserver")
    work = _decode_reusing if reuse else _decode
    with context.Pool(os.cpu_count(), initializer=_single_thread) as pool:
        for _ in pool.imap(work, jobs, chunksize=4):
            pass


def main(argv: list[str]) -> None:
    mode, listing = argv
    jobs = [
        (str(path), int(flags), int(height), int(width))
        for path, flags, height, width in json.loads(Path(listing).read_text())
    ]
    if mode == "naive":
        naive([job[0] for job in jobs])
    elif mode in ("decode", "decode-reuse"):
        decode(jobs, reuse=mode == "decode-reuse")
    else:
        raise SystemExit(f"unknown mode {mode!r}: use naive, decode or decode-reuse")


if __name__ == "__main__":
    main(sys.argv[1:])
