"""Time the internal choices that edgegrad's docstrings describe, each against its alternative.

Run from the repository root::

    python benchmarks/bench_internals.py              # one OpenCV thread, as a worker
    python benchmarks/bench_internals.py --repeat 21

Every row times edgegrad's way and the obvious alternative on the same data,
interleaved, and prints the median of each and their ratio:

* decoding a 12 MP JPEG straight to gray, against colour then ``cvtColor``;
* applying EXIF orientation 6 to a 12 MP colour image with ``cv2.transpose``
  and ``cv2.flip``, against a NumPy copy of a rotated view;
* checking a 12 MP float32 image for NaN and infinity with ``cv2.sumElems``,
  against ``np.isfinite(a).all()``;
* the LAPV of a 1 MP float32 working-size image (``metrics._lapv``:
  ``cv2.sumElems`` and ``cv2.norm``), against NumPy's two-pass ``var`` of a
  float64 Laplacian, and against the same steps with ``cv2.meanStdDev``;
* the flat check of a 2 MP uint8 image (``metrics._is_flat``: one
  ``cv2.minMaxLoc``), against NumPy's ``min()`` and ``max()``;
* the working-size pre-filter of a 3 MP uint8 image (``metrics._resample``:
  read straight into float32, the 8-bit scale folded into the kernel),
  against the same Gaussian on a float64 copy;
* a durable 5 KB ``write_bytes`` into a folder of 50,000 files, which lists
  the folder for stale temporary files once per process, against listing it
  at every write (what it did before);
* decoding a 12 MP JPEG 20 times in a fresh process with glibc's malloc
  thresholds raised (what pool workers do), against the defaults, with the
  minor page faults per decode;
* ``import edgegrad`` in a fresh interpreter, against a bare interpreter.
"""

from __future__ import annotations

import functools
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import cv2
import numpy as np
import numpy.typing as npt
from bench_filters import bench

from edgegrad import metrics
from edgegrad._pixels import EIGHT_BIT_SCALE, all_finite
from edgegrad.io import _fs, write_bytes

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_images" / "coffee.png"

# A child process that decodes one JPEG ``count`` times and prints the median
# milliseconds and the minor page faults per decode; argv: path, count, tuned.
_DECODE_LOOP = """
import resource, statistics, sys, time
import cv2, numpy as np
from edgegrad.batch import _prepare_worker
path, count, tuned = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
cv2.setNumThreads(1)
if tuned:
    _prepare_worker()
data = np.fromfile(path, np.uint8)
cv2.imdecode(data, cv2.IMREAD_COLOR)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
times = []
for _ in range(count):
    start = time.perf_counter()
    cv2.imdecode(data, cv2.IMREAD_COLOR)
    times.append(time.perf_counter() - start)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(statistics.median(times) * 1e3, faults / count)
"""


def colour_image(width: int, height: int) -> npt.NDArray[np.uint8]:
    """The coffee sample upscaled to ``width`` x ``height``, with mild noise."""
    small = np.asarray(cv2.imdecode(np.fromfile(SAMPLE, np.uint8), cv2.IMREAD_COLOR))
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    big += np.random.default_rng(0).integers(-3, 4, big.shape, dtype=np.int16)
    return np.asarray(np.clip(big, 0, 255), dtype=np.uint8)


def prefilter_float64(gray: npt.NDArray[np.uint8]) -> object:
    """The pre-filter of ``metrics._resample`` on a float64 copy of the image."""
    kernel = metrics._gaussian(metrics._prefilter_sigma(1.0, resized=False), cv2.CV_64F)
    scaled = gray.astype(np.float64) * EIGHT_BIT_SCALE[gray.dtype]
    return cv2.sepFilter2D(scaled, cv2.CV_64F, kernel, kernel)


def lapv_two_pass(image: npt.NDArray[np.float32]) -> float:
    return float(cv2.Laplacian(image.astype(np.float64), cv2.CV_64F).var())


def lapv_mean_std(image: npt.NDArray[np.float32]) -> float:
    """``metrics._lapv`` of a float32 image with ``cv2.meanStdDev`` for its two sums."""
    if metrics._is_flat(image):
        return 0.0
    return float(cv2.meanStdDev(cv2.Laplacian(image, cv2.CV_32F))[1][0, 0]) ** 2


def in_process_rows(repeat: int) -> list[tuple[str, str, str, float, float]]:
    """(what, edgegrad's way, the alternative, its seconds, the alternative's)."""
    colour = colour_image(4000, 3000)
    ok, encoded = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    jpeg = np.asarray(encoded)
    floats = colour[..., 1].astype(np.float32) / 255.0
    working = np.ascontiguousarray(cv2.resize(floats, (1155, 866)) * 255.0)
    gray3 = np.ascontiguousarray(cv2.resize(colour[..., 1], (2000, 1500)), dtype=np.uint8)
    gray2 = np.ascontiguousarray(cv2.resize(colour[..., 1], (1632, 1224)), dtype=np.uint8)
    cases: list[tuple[str, str, Callable[[], object], str, Callable[[], object]]] = [
        (
            "12 MP JPEG to gray",
            "imdecode GRAYSCALE",
            functools.partial(cv2.imdecode, jpeg, cv2.IMREAD_GRAYSCALE),
            "imdecode COLOR + cvtColor",
            lambda: cv2.cvtColor(np.asarray(cv2.imdecode(jpeg, 1)), cv2.COLOR_BGR2GRAY),
        ),
        (
            "EXIF orientation 6, 12 MP colour",
            "cv2.transpose + flip",
            lambda: cv2.flip(cv2.transpose(colour), 1),
            "NumPy copy of rot90",
            lambda: np.ascontiguousarray(np.rot90(colour, -1)),
        ),
        (
            "finite check, 12 MP float32",
            "cv2.sumElems",
            functools.partial(all_finite, floats),
            "np.isfinite().all()",
            lambda: bool(np.isfinite(floats).all()),
        ),
        (
            "LAPV of 1 MP float32",
            "CV_32F + sumElems + norm",
            functools.partial(metrics._lapv, working),
            "float64 + var",
            functools.partial(lapv_two_pass, working),
        ),
        (
            "LAPV of 1 MP float32",
            "CV_32F + sumElems + norm",
            functools.partial(metrics._lapv, working),
            "CV_32F + meanStdDev",
            functools.partial(lapv_mean_std, working),
        ),
        (
            "flat check, 2 MP uint8",
            "cv2.minMaxLoc",
            functools.partial(metrics._is_flat, gray2),
            "NumPy min() and max()",
            lambda: bool(gray2.min() == gray2.max()),
        ),
        (
            "pre-filter, 3 MP uint8",
            "uint8 into float32",
            functools.partial(metrics._resample, gray3, gray3.shape),
            "float64 copy first",
            functools.partial(prefilter_float64, gray3),
        ),
    ]
    rows = []
    for what, ours, fast, theirs, slow in cases:
        medians = bench({"ours": fast, "theirs": slow}, repeat)
        rows.append((what, ours, theirs, medians["ours"], medians["theirs"]))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for index in range(50_000):
            (folder / f"img{index:05d}.jpg").touch()
        names = (folder / f"out{index}.png" for index in itertools.count())
        data = bytes(5000)

        def listing_first() -> object:
            _fs._stale_in(str(folder))
            return write_bytes(next(names), data)

        medians = bench(
            {"ours": lambda: write_bytes(next(names), data), "theirs": listing_first}, repeat
        )
        rows.append(
            (
                "5 KB write into 50,000 files",
                "folder listed once",
                "listed at every write",
                medians["ours"],
                medians["theirs"],
            )
        )
    return rows


def decode_loop(path: Path, tuned: bool) -> tuple[float, float]:
    run = subprocess.run(
        [sys.executable, "-c", _DECODE_LOOP, str(path), "20", "1" if tuned else "0"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    ms, faults = (float(v) for v in run.stdout.split())
    return ms, faults


def start_time(code: str, repeat: int) -> float:
    """Median wall seconds of a fresh interpreter running ``code``."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


@click.command()
@click.option("--repeat", default=11, show_default=True, type=click.IntRange(min=3))
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=0))
def main(repeat: int, threads: int) -> None:
    """Print edgegrad's internal choices against their alternatives, as time ratios."""
    cv2.setNumThreads(threads)
    click.echo(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, numpy {np.__version__}")
    click.echo(f"median of {repeat}\n")
    header = f"{'what':34} {'edgegrad':24} {'ms':>7} {'alternative':26} {'ms':>7} {'ratio':>6}"
    click.echo(header)
    click.echo("-" * len(header))
    for what, ours, theirs, fast, slow in in_process_rows(repeat):
        click.echo(
            f"{what:34} {ours:24} {fast * 1e3:7.2f} {theirs:26} {slow * 1e3:7.2f} "
            f"{fast / slow:5.2f}x"
        )
    jpeg = ROOT / "benchmarks" / ".corpus" / "internals-12mp.jpg"
    jpeg.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(jpeg), colour_image(4000, 3000), [cv2.IMWRITE_JPEG_QUALITY, 90])
    tuned_ms, tuned_faults = decode_loop(jpeg, tuned=True)
    plain_ms, plain_faults = decode_loop(jpeg, tuned=False)
    click.echo(
        f"{'12 MP colour decode, 20 in a row':34} {'freed memory kept':24} {tuned_ms:7.1f} "
        f"{'glibc defaults':26} {plain_ms:7.1f} {tuned_ms / plain_ms:5.2f}x"
    )
    click.echo(
        f"{'  minor page faults per decode':34} {'':24} {tuned_faults:7.0f} {'':26} "
        f"{plain_faults:7.0f}"
    )
    bare = start_time("pass", repeat)
    light = start_time("import edgegrad", repeat)
    click.echo(
        f"{'interpreter start':34} {'import edgegrad':24} {light * 1e3:7.0f} "
        f"{'bare python':26} {bare * 1e3:7.0f} {light / bare:5.2f}x"
    )


if __name__ == "__main__":
    main()
