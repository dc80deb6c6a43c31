"""Build a deterministic corpus of photo-like JPEGs for the blur-score benchmark.

Run from the repository root::

    python benchmarks/make_corpus.py OUT_DIR                    # 50 × 12 MP + 150 × 2 MP
    python benchmarks/make_corpus.py OUT_DIR --large 5 --small 20 --seed 1

Every file starts from one of the bundled photos in ``sample_images/`` (about
512 px): a random crop and flip, upscaled with ``cv2.INTER_CUBIC`` to 4000×3000
(``large_NNN.jpg``) or 1632×1224 (``small_NNN.jpg``), plus band-limited noise so
that it has a real photo's fine detail (per-channel white noise blurred with
σ = 0.8, 8 grey levels, and a coarser shared component, 5 grey levels), then a
"mixed blur": a Gaussian blur with σ drawn from 0, 0, 0.7, 1.5 and 3.0, so some
files are sharp and some blurry. Files are written at JPEG quality 90; one in
ten carries an EXIF segment with Orientation = 6 (a phone photo held upright).

The random choices come from ``numpy.random.default_rng(seed + index)``, so the
output is byte-identical on every run (with the same OpenCV). OUT_DIR gets a
``corpus.json`` manifest of the parameters: rerunning with the same parameters
skips the work (or finishes an interrupted run), and a non-empty folder that is
not such a corpus is refused.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
import numpy.typing as npt

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
SOURCES = ("camera.png", "brick.png", "coffee.png", "astronaut.jpg", "rocket.jpg")
LARGE_SIZE = (4000, 3000)
SMALL_SIZE = (1632, 1224)
QUALITY = 90
BLUR_SIGMAS = (0.0, 0.0, 0.7, 1.5, 3.0)
FINE_SIGMA, FINE_AMPLITUDE = 0.8, 8.0
COARSE_STEP, COARSE_AMPLITUDE = 8, 5.0
EXIF_EVERY = 10
MANIFEST = "corpus.json"
PROCESSES = 2

# A minimal little-endian EXIF blob: TIFF header, one IFD with Orientation (0x0112,
# SHORT, count 1) = 6, no next IFD. A SHORT value sits left-justified in the 4-byte field.
EXIF_ORIENTATION_6 = (
    b"Exif\0\0"
    + b"II*\0"
    + struct.pack("<I", 8)
    + struct.pack("<H", 1)
    + struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0)
    + struct.pack("<I", 0)
)
APP1_EXIF = b"\xff\xe1" + struct.pack(">H", len(EXIF_ORIENTATION_6) + 2) + EXIF_ORIENTATION_6


@dataclass(frozen=True)
class Job:
    """One output file: its name, size and the index that seeds its random choices."""

    name: str
    width: int
    height: int
    index: int


@dataclass(frozen=True)
class Summary:
    """What a corpus folder holds, and whether this call wrote it."""

    files: int
    megabytes: float
    megapixels: float
    seconds: float
    generated: bool


def parameters(large: int, small: int, seed: int) -> dict[str, Any]:
    """The manifest: everything the corpus's bytes depend on."""
    return {
        "generator": "benchmarks/make_corpus.py",
        "version": 1,
        "large": large,
        "small": small,
        "seed": seed,
        "quality": QUALITY,
        "large_size": list(LARGE_SIZE),
        "small_size": list(SMALL_SIZE),
        "opencv": cv2.__version__,
    }


def jobs_for(large: int, small: int) -> list[Job]:
    """All outputs, the 12 MP ones first (they take longest, so the pool balances)."""
    jobs = [Job(f"large_{i:03d}.jpg", *LARGE_SIZE, i) for i in range(large)]
    return jobs + [Job(f"small_{i:03d}.jpg", *SMALL_SIZE, large + i) for i in range(small)]


@functools.cache
def source(name: str) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(SAMPLES / name), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(SAMPLES / name)
    return np.asarray(image)


def random_view(rng: np.random.Generator, width: int, height: int) -> npt.NDArray[np.uint8]:
    """A random crop of a random source photo with the target's aspect, maybe mirrored."""
    photo = source(SOURCES[int(rng.integers(len(SOURCES)))])
    rows, cols = photo.shape[:2]
    aspect = width / height
    crop_w = int(min(cols, rows * aspect) * rng.uniform(0.55, 1.0))
    crop_h = int(crop_w / aspect)
    x = int(rng.integers(cols - crop_w + 1))
    y = int(rng.integers(rows - crop_h + 1))
    view = photo[y : y + crop_h, x : x + crop_w]
    return view[:, ::-1] if rng.random() < 0.5 else view


def texture(rng: np.random.Generator, width: int, height: int) -> npt.NDArray[np.float32]:
    """Band-limited noise: fine per-channel grain plus a coarse shared component."""
    white = rng.standard_normal((height, width, 3), dtype=np.float32)
    kernel = cv2.getGaussianKernel(7, FINE_SIGMA)
    # A separable blur scales white noise's standard deviation by Σk² (of the 1-D kernel).
    gain = FINE_AMPLITUDE / float(np.sum(kernel**2))
    fine = cv2.GaussianBlur(white, (7, 7), FINE_SIGMA) * np.float32(gain)
    grid = rng.standard_normal(
        (height // COARSE_STEP + 1, width // COARSE_STEP + 1), dtype=np.float32
    )
    coarse = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.asarray(fine + (COARSE_AMPLITUDE * coarse)[:, :, None], dtype=np.float32)


def render(job: Job, seed: int) -> bytes:
    """The JPEG bytes of one output file."""
    rng = np.random.default_rng(seed + job.index)
    view = random_view(rng, job.width, job.height)
    image = cv2.resize(view, (job.width, job.height), interpolation=cv2.INTER_CUBIC)
    image = image.astype(np.float32) + texture(rng, job.width, job.height)
    sigma = float(rng.choice(BLUR_SIGMAS))
    if sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    ok, encoded = cv2.imencode(
        ".jpg", np.clip(image, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, QUALITY]
    )
    if not ok:
        raise RuntimeError(f"cv2.imencode failed for {job.name}")
    data = encoded.tobytes()
    if job.index % EXIF_EVERY == EXIF_EVERY - 1:
        data = data[:2] + APP1_EXIF + data[2:]  # right after SOI
    return data


def write(job: Job, seed: int, folder: Path) -> None:
    """Render ``job`` into ``folder`` via a temporary name and an atomic rename."""
    temporary = folder / f".{job.name}.tmp"
    temporary.write_bytes(render(job, seed))
    os.replace(temporary, folder / job.name)


def _single_thread() -> None:
    cv2.setNumThreads(1)


def _write(args: tuple[Job, int, Path]) -> None:
    write(*args)


def summarize(folder: Path, jobs: list[Job], seconds: float, generated: bool) -> Summary:
    size = sum((folder / job.name).stat().st_size for job in jobs)
    pixels = sum(job.width * job.height for job in jobs)
    return Summary(len(jobs), size / 1e6, pixels / 1e6, seconds, generated)


def make_corpus(folder: Path, large: int = 50, small: int = 150, seed: int = 0) -> Summary:
    """Make (or find up to date) the corpus in ``folder``; see the module docstring."""
    started = time.perf_counter()
    wanted = parameters(large, small, seed)
    manifest = folder / MANIFEST
    folder.mkdir(parents=True, exist_ok=True)
    if manifest.is_file():
        found = json.loads(manifest.read_text())
        complete = found.pop("complete", False)
        if found != wanted:
            raise click.ClickException(f"{folder} holds a corpus made with other parameters")
    elif any(folder.iterdir()):
        raise click.ClickException(f"{folder} is not empty and is not a corpus")
    else:
        complete = False
    jobs = jobs_for(large, small)
    missing = [job for job in jobs if not (folder / job.name).is_file()]
    if complete and not missing:
        return summarize(folder, jobs, time.perf_counter() - started, generated=False)
    manifest.write_text(json.dumps({**wanted, "complete": False}, indent=2) + "\n")
    context = multiprocessing.get_context("forkserver")
    with context.Pool(PROCESSES, initializer=_single_thread) as pool:
        for _ in pool.imap_unordered(_write, [(job, seed, folder) for job in missing]):
            pass
    manifest.write_text(json.dumps({**wanted, "complete": True}, indent=2) + "\n")
    return summarize(folder, jobs, time.perf_counter() - started, generated=True)


def describe(summary: Summary) -> str:
    verb = "generated" if summary.generated else "up to date, skipped generation:"
    return (
        f"corpus {verb} {summary.files} files, {summary.megabytes:.1f} MB, "
        f"{summary.megapixels:.0f} megapixels, {summary.seconds:.1f} s"
    )


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--large", default=50, show_default=True, type=click.IntRange(min=0))
@click.option("--small", default=150, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
def main(out_dir: Path, large: int, small: int, seed: int) -> None:
    """Write LARGE 12 MP and SMALL 2 MP photo-like JPEGs into OUT_DIR."""
    click.echo(describe(make_corpus(out_dir, large, small, seed)))


if __name__ == "__main__":
    main()
