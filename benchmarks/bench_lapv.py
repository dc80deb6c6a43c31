"""Which reduction computes the variance of the Laplacian fastest, exactly?

Run from the repository root::

    python benchmarks/bench_lapv.py                 # 12 MP photo-like gray image
    python benchmarks/bench_lapv.py --threads 1     # as in a batch worker

On one uint8 gray image (the camera sample tiled to the size, with noise),
interleaved so that machine load hits every candidate alike, it times:

* ``CV_64F + var`` (baseline): the community recipe,
  ``cv2.Laplacian(gray, cv2.CV_64F).var()``;
* ``CV_16S + meanStdDev``: the Laplacian in int16 and ``cv2.meanStdDev``;
* ``CV_16S + norm + sumElems``: int16, then ``cv2.norm(NORM_L2SQR)`` and
  ``cv2.sumElems``, combined in float64;
* ``laplacian_variance``: edgegrad's, the last one with the sums rounded to
  integers and the variance formed exactly in Python integers.

It prints the median time, the ratio to the baseline and how far each value is
from the exact variance (computed with int64 sums and fractions).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
import numpy.typing as npt
from bench_filters import bench

from edgegrad.io import read_image
from edgegrad.metrics import laplacian_variance

SAMPLE = Path(__file__).resolve().parent.parent / "sample_images" / "camera.png"


def make_gray(width: int, height: int) -> npt.NDArray[np.uint8]:
    """The camera sample tiled to ``width`` x ``height``, plus a little noise."""
    tile = read_image(SAMPLE, mode="gray")
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]))
    image = np.tile(tile, reps)[:height, :width].astype(np.int16)
    noise = np.random.default_rng(0).integers(-3, 4, image.shape, dtype=np.int16)
    return np.asarray(np.clip(image + noise, 0, 255), dtype=np.uint8)


def float64_var(gray: npt.NDArray[np.uint8]) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def int16_mean_std(gray: npt.NDArray[np.uint8]) -> float:
    _, std = cv2.meanStdDev(cv2.Laplacian(gray, cv2.CV_16S))
    return float(std[0, 0]) ** 2


def int16_norm_sum(gray: npt.NDArray[np.uint8]) -> float:
    response = cv2.Laplacian(gray, cv2.CV_16S)
    count = response.size
    mean = cv2.sumElems(response)[0] / count
    return float(cv2.norm(response, cv2.NORM_L2SQR) / count - mean * mean)


def exact(gray: npt.NDArray[np.uint8]) -> float:
    response = cv2.Laplacian(gray, cv2.CV_16S).astype(np.int64).ravel()
    count = response.size
    total = int(response.sum())
    squares = int(response @ response)
    return float(Fraction(count * squares - total * total, count * count))


@click.command()
@click.option("--size", default="4000x3000", show_default=True, help="WIDTHxHEIGHT.")
@click.option("--repeat", default=21, show_default=True, type=click.IntRange(min=3))
@click.option("--threads", type=click.IntRange(min=1), help="cv2.setNumThreads (default: cv2's).")
def main(size: str, repeat: int, threads: int | None) -> None:
    """Print time and exactness of each way of computing LAPV."""
    if threads is not None:
        cv2.setNumThreads(threads)
    width, height = (int(v) for v in size.lower().split("x"))
    gray = make_gray(width, height)
    truth = exact(gray)
    click.echo(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, numpy {np.__version__}")
    click.echo(f"gray {width}x{height} uint8, median of {repeat}; exact LAPV {truth!r}\n")
    candidates: dict[str, Callable[[], Any]] = {
        "CV_64F + var (baseline)": functools.partial(float64_var, gray),
        "CV_16S + meanStdDev": functools.partial(int16_mean_std, gray),
        "CV_16S + norm + sumElems": functools.partial(int16_norm_sum, gray),
        "laplacian_variance": functools.partial(laplacian_variance, gray),
    }
    medians = bench(candidates, repeat)
    base = medians["CV_64F + var (baseline)"]
    header = f"{'candidate':28} {'ms':>7} {'/ baseline':>11} {'relative error':>15}"
    click.echo(header)
    click.echo("-" * len(header))
    for name, seconds in medians.items():
        error = abs(candidates[name]() - truth) / truth
        click.echo(f"{name:28} {seconds * 1e3:7.2f} {seconds / base:10.2f}x {error:15.1e}")


if __name__ == "__main__":
    main()
