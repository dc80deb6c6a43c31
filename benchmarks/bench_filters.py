"""Time edgegrad's filters against OpenCV baselines on a 12 MP image.

Run from the repository root::

    python benchmarks/bench_filters.py            # 12 MP, uint8 and float32
    python benchmarks/bench_filters.py --repeat 21 --size 4000x3000

Every figure is a ratio to a baseline measured in the same run, on the same
array, interleaved with the candidate so that machine load affects both:

* ``cv2.Sobel``: one ``cv2.Sobel(img, cv2.CV_32F, 1, 0)`` call.
* ``two-pass``: the common recipe for a derivative at an angle, two
  ``cv2.Sobel`` calls combined in NumPy as ``cos θ·gx − sin θ·gy``.

It also prints the peak memory a call allocates (tracemalloc), in multiples of
the output's size.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
import numpy.typing as npt

import edgegrad

SAMPLE = Path(__file__).resolve().parent.parent / "sample_images" / "camera.png"


def make_image(width: int, height: int, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """Upscale the bundled camera photo to ``width × height`` and add mild noise."""
    gray = np.asarray(cv2.imdecode(np.fromfile(SAMPLE, np.uint8), cv2.IMREAD_GRAYSCALE))
    big = np.asarray(cv2.resize(gray, (width, height), interpolation=cv2.INTER_CUBIC), np.float32)
    big += np.random.default_rng(0).normal(0, 2, big.shape).astype(np.float32)
    big = np.clip(big, 0, 255)
    if dtype == np.uint8:
        return big.astype(np.uint8)
    return (big / 255.0).astype(np.float32)


def two_pass(image: npt.NDArray[Any], angle: float) -> npt.NDArray[np.float32]:
    """The usual recipe: two Sobel calls, combined in NumPy."""
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1)
    t = math.radians(angle)
    return np.asarray(math.cos(t) * gx - math.sin(t) * gy, dtype=np.float32)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def bench(candidates: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Return the median seconds per call of each candidate, interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()
    for _ in range(repeat):
        for name, fn in candidates.items():
            samples[name].append(timed(fn))
    return {name: statistics.median(s) for name, s in samples.items()}


def candidates_for(
    image: npt.NDArray[Any], angles: tuple[float, ...]
) -> dict[str, Callable[[], object]]:
    """The baselines and edgegrad calls timed on one image."""
    calls: dict[str, Callable[[], object]] = {
        "cv2.Sobel (baseline)": functools.partial(cv2.Sobel, image, cv2.CV_32F, 1, 0),
        "two-pass NumPy (θ=30)": functools.partial(two_pass, image, 30.0),
        "sobel(img) magnitude": functools.partial(edgegrad.sobel, image),
    }
    for angle in angles:
        calls[f"directional(img, {angle:g})"] = functools.partial(
            edgegrad.directional, image, angle
        )
    return calls


@click.command()
@click.option("--size", default="4000x3000", show_default=True, help="WIDTHxHEIGHT.")
@click.option("--repeat", default=11, show_default=True, type=click.IntRange(min=3))
@click.option("--angle", "angles", multiple=True, type=float, default=(0.0, 30.0, 45.0, 135.0))
def main(size: str, repeat: int, angles: tuple[float, ...]) -> None:
    """Print edgegrad/baseline time ratios for directional() and sobel()."""
    width, height = (int(v) for v in size.lower().split("x"))
    click.echo(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, numpy {np.__version__}")
    click.echo(f"image {width}x{height} ({width * height / 1e6:.1f} MP), median of {repeat}\n")
    header = (
        f"{'dtype':8} {'call':28} {'ms':>8} {'/ cv2.Sobel':>12} {'/ two-pass':>11} {'peak mem':>9}"
    )
    click.echo(header)
    click.echo("-" * len(header))
    for dtype in (np.uint8, np.float32):
        image = make_image(width, height, dtype)
        calls = candidates_for(image, angles)
        medians = bench(calls, repeat)
        base = medians["cv2.Sobel (baseline)"]
        recipe = medians["two-pass NumPy (θ=30)"]
        for name, seconds in medians.items():
            memory = peak_bytes(calls[name]) / (image.size * 4)
            click.echo(
                f"{np.dtype(dtype).name:8} {name:28} {seconds * 1e3:8.1f} "
                f"{seconds / base:11.2f}x {seconds / recipe:10.2f}x {memory:8.1f}x"
            )
        click.echo()


if __name__ == "__main__":
    main()
