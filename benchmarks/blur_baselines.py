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

And, untimed, the per-file costs behind ``bench_blur_score.py``'s breakdown::

    python benchmarks/blur_baselines.py profile FILES.json WORKING_SIZE

* ``profile``: in this one process, prepared as a pool worker is (one OpenCV
  thread, freed memory kept), the CPU time (``time.process_time``) that each
  step takes over all the files, the best of two passes per file: ``decode``
  (``cv2.imdecode`` of the file's bytes to gray) and ``decode_reduced`` (at the
  scale edgegrad picks for the working size), ``score`` (``blur_score`` of the
  decoded array) and ``score_working`` (with the working size, of the array
  edgegrad reads), and ``job`` and ``job_working``, the whole
  ``edgegrad.jobs.score_file`` call. It prints them as JSON. It imports the
  ``edgegrad`` on ``sys.path``, so ``PYTHONPATH`` picks the checkout to profile.

It parses ``sys.argv`` itself rather than using click, so that start-up is no
more than the recipe needs; the pool needs its worker function in a real file.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _cpu(step: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    """CPU seconds of ``step(*args, **kwargs)``, the better of two runs (the first may fault)."""
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        step(*args, **kwargs)
        best = min(best, time.process_time() - start)
    return best


def profile(paths: list[str], working_size: int) -> dict[str, float]:
    """CPU seconds of each step of scoring ``paths``, summed over the files (see the module)."""
    from edgegrad import batch, jobs, metrics
    from edgegrad.io import read_image_checked

    cv2.setNumThreads(1)
    batch._reuse_freed_memory()
    reduce_to = math.ceil(working_size / metrics.FAITHFUL_WORKING_FRACTION)
    flags = {1: cv2.IMREAD_GRAYSCALE, **_REDUCED}
    totals = dict.fromkeys(
        ("decode", "decode_reduced", "score", "score_working", "job", "job_working"), 0.0
    )
    for name in paths:
        path = Path(name)
        data = np.fromfile(path, np.uint8)
        loaded = read_image_checked(path, reduce_to=reduce_to)
        totals["decode"] += _cpu(cv2.imdecode, data, cv2.IMREAD_GRAYSCALE)
        totals["decode_reduced"] += _cpu(cv2.imdecode, data, flags[loaded.reduction])
        totals["score"] += _cpu(metrics.blur_score, read_image_checked(path).array)
        totals["score_working"] += _cpu(metrics.blur_score, loaded.array, working_size=working_size)
        totals["job"] += _cpu(jobs.score_file, path)
        totals["job_working"] += _cpu(jobs.score_file, path, working_size=working_size)
    return totals


_REDUCED = {
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


def main(argv: list[str]) -> None:
    if argv[:1] == ["profile"]:
        _, listing, working_size = argv
        paths = [str(path) for path, *_ in json.loads(Path(listing).read_text())]
        print(json.dumps(profile(paths, int(working_size))))
        return
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
        raise SystemExit(f"unknown mode {mode!r}: use naive, decode, decode-reuse or profile")


if __name__ == "__main__":
    main(sys.argv[1:])
