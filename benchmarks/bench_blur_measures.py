"""Every focus measure on images of known blur: verdicts across scenes, errors in px, speed.

Run from the repository root::

    python benchmarks/bench_blur_measures.py            # the whole run, about 10 minutes
    python benchmarks/bench_blur_measures.py --quick    # fewer charts and photos

Two deterministic corpora, built in memory from fixed seeds (the dead-leaves
renders are cached in ``benchmarks/.corpus/blur_measures/``):

* **Dead-leaves charts** (Cao, Guichard and Hornung 2010): discs whose radii
  follow ``r⁻³`` from 1 px to a quarter of the chart, so the chart is sharp and
  scale-invariant at any size, rendered at 4× and area-averaged, blurred by a
  Gaussian of known σ before the averaging (so that σ is exact). 4 scenes at
  1024×1024, σ = 0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5 px, each at three contrasts
  (100 %, 50 %, 25 % of the gray range) and four captures: no noise; 1 DN
  noise and JPEG quality 95; 2.5 DN and 85; 5 DN and 75. A group is one
  (scene, contrast, capture) at every σ.
* **Upscaled photos**: ten scenes, two crops of each bundled photo, upscaled
  ×3 (``INTER_CUBIC``), blurred by σ = 0, 0.5, 1, 1.5, 2, 3, 4, 5 px, each file
  with its own noise (uniform 0.5-5 DN, as ISO changes from shot to shot) and
  JPEG quality (70-95). The scenes' own softness (the upscaling) is part of
  their blur, so only the order within a scene and the cut at σ >= 2 count.

For every registered method, and for FFmpeg's ``blurdetect`` filter
(Marziliano et al. 2002's edge width, through PyAV's libavfilter, or an
``ffmpeg`` program on PATH), it prints:

* **AUC** of telling σ >= 2 from σ < 2 with one threshold across all images;
* **median absolute error** in px over σ 1-4 (edge-blur only: the others have
  no pixel unit), against σ and against the total PSF ``sqrt(σ² + 1/12)``
  that area-sampling pixels see;
* **within-scene Spearman** correlation of score and σ (median, worst), over
  the images the method scored, and how many groups are ordered exactly
  (every image scored, in order); edge-blur refuses images without reliable
  edges, counted in the last column (for the AUC a refusal counts as blurry:
  the image is flagged for a person to look at);
* **time per MP** on a 12 MP photo-like image, median of interleaved rounds,
  and edge-blur's time over exact lapv's (the target is at most 3×), both as
  ``blur_score`` on the array and per file (decode included);
* ``edgegrad.canny`` against ``cv2.Canny`` for speed, on the same image.
"""

from __future__ import annotations

import functools
import math
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata, spearmanr

from edgegrad.edges import canny
from edgegrad.io import read_image
from edgegrad.metrics import METHODS, blur_score

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".corpus" / "blur_measures"
PHOTOS = ("camera.png", "brick.png", "coffee.png", "astronaut.jpg", "rocket.jpg")
CHART_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
PHOTO_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0)
CONTRASTS = (1.0, 0.5, 0.25)
CAPTURES = ((0.0, None), (1.0, 95), (2.5, 85), (5.0, 75))
BLURRY = 2.0
FFMPEG = "ffmpeg blurdetect"

Gray = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Item:
    """One image of a corpus: its group, known blur, and pixels."""

    group: str
    sigma: float
    image: Gray


# --- corpora -------------------------------------------------------------------------------


def dead_leaves(size: int, seed: int, sigma: float) -> npt.NDArray[np.float32]:
    """A full-contrast dead-leaves chart, blurred by ``sigma`` px, area-sampled."""
    path = CACHE / f"leaves_{size}_{seed}_{sigma:g}.npy"
    if path.exists():
        cached: npt.NDArray[np.float32] = np.load(path)
        return cached
    rng = np.random.default_rng(1000 + seed)
    fine, shift = 4, 4
    canvas = np.full((size * fine, size * fine), 128, np.uint8)
    rmin, rmax = 1.0, size / 4
    a, b = rmin**-2, rmax**-2
    mean_area = math.pi * 2 * math.log(rmax / rmin) / (a - b)
    count = int(6 * (size + 2 * rmax) ** 2 / mean_area)
    radii = (a - rng.random(count) * (a - b)) ** -0.5
    xs = rng.uniform(-rmax, size + rmax, count)
    ys = rng.uniform(-rmax, size + rmax, count)
    levels = rng.uniform(1.0, 254.0, count)
    unit = fine * (1 << shift)
    for i in range(count - 1, -1, -1):  # the first disc ends on top
        centre = (round(xs[i] * unit), round(ys[i] * unit))
        cv2.circle(canvas, centre, round(radii[i] * unit), round(levels[i]), -1, cv2.LINE_8, shift)
    image: npt.NDArray[Any] = canvas.astype(np.float32)
    if sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), sigma * fine, borderType=cv2.BORDER_REFLECT_101)
    chart = np.asarray(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA), np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, chart)
    return chart


def capture(image: npt.NDArray[Any], noise: float, quality: int | None, seed: int) -> Gray:
    """Noise, 8-bit rounding and a JPEG round trip, as a camera would."""
    rng = np.random.default_rng(seed)
    noisy = np.asarray(image, np.float64) + rng.normal(0.0, noise, image.shape)
    pixels = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    if quality is None:
        return pixels
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.asarray(cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE), np.uint8)


def chart_corpus(scenes: int, size: int) -> Iterator[Item]:
    for scene in range(scenes):
        charts = {sigma: dead_leaves(size, scene, sigma) for sigma in CHART_SIGMAS}
        for contrast in CONTRASTS:
            for noise, quality in CAPTURES:
                group = f"leaves{scene} c{contrast:g} n{noise:g} q{quality or '-'}"
                for k, (sigma, chart) in enumerate(charts.items()):
                    seed = hash((scene, contrast, noise, k)) % 2**32
                    image = 128 + contrast * (chart - 128)
                    yield Item(group, sigma, capture(image, noise, quality, seed))


def photo_corpus(scenes: int) -> Iterator[Item]:
    rng = np.random.default_rng(11)
    for index in range(scenes):
        name = PHOTOS[index % len(PHOTOS)]
        photo = read_image(ROOT / "sample_images" / name, mode="gray")
        side = 320
        top = int(rng.integers(0, photo.shape[0] - side + 1))
        left = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = photo[top : top + side, left : left + side]
        if index >= len(PHOTOS):
            crop = crop[:, ::-1]
        base = cv2.resize(crop, (3 * side, 3 * side), interpolation=cv2.INTER_CUBIC)
        scene = base.astype(np.float32)
        for sigma in PHOTO_SIGMAS:
            blurred = scene if sigma == 0 else cv2.GaussianBlur(scene, (0, 0), sigma)
            noise = float(rng.uniform(0.5, 5.0))
            quality = int(rng.integers(70, 96))
            seed = int(rng.integers(0, 2**31))
            yield Item(
                f"{name}#{index // len(PHOTOS)}", sigma, capture(blurred, noise, quality, seed)
            )


# --- scoring -------------------------------------------------------------------------------


def blurdetect_pyav(image: Gray) -> float:
    """FFmpeg's blurdetect (defaults) on one gray frame, through PyAV's libavfilter."""
    import av

    height, width = image.shape
    graph = av.filter.Graph()
    gray = av.VideoFormat("gray")
    source = graph.add_buffer(width=width, height=height, format=gray, time_base=Fraction(1, 25))
    detect = graph.add("blurdetect")
    sink = graph.add("buffersink")
    source.link_to(detect)
    detect.link_to(sink)
    graph.configure()
    source.push(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="gray"))
    frame = sink.pull()
    return float(frame.metadata["lavfi.blur"])


def blurdetect_program(image: Gray) -> float:
    """The same through an ``ffmpeg`` program on PATH."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frame.png"
        cv2.imwrite(str(path), image)
        run = subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(path),
                "-vf",
                "blurdetect,metadata=print:file=-",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(ln for ln in run.stdout.splitlines() if "lavfi.blur=" in ln)
    return float(line.split("=", 1)[1])


def ffmpeg_scorer() -> tuple[Callable[[Gray], float] | None, str]:
    """The blurdetect scorer available here, and where it comes from."""
    if shutil.which("ffmpeg"):
        return blurdetect_program, "ffmpeg program on PATH"
    try:
        import av

        if "blurdetect" in av.filter.filters_available:
            return (
                blurdetect_pyav,
                f"no ffmpeg program on PATH; libavfilter of PyAV {av.__version__}",
            )
    except ImportError:
        pass
    return None, "no ffmpeg program on PATH and no PyAV: blurdetect left out"


def blurriness(method: str, image: Gray) -> float:
    """A key that is larger for a blurrier image, or NaN if the method refuses the image."""
    try:
        score = blur_score(image, method)
    except ValueError:
        return math.nan
    return score if not METHODS[method].sharper_is_higher else -score


@dataclass
class Scores:
    """Every method's key (higher = blurrier) for every item of a corpus."""

    items: list[Item]
    keys: dict[str, list[float]]
    raw: dict[str, list[float]]


def score_corpus(items: list[Item], ffmpeg: Callable[[Gray], float] | None) -> Scores:
    keys: dict[str, list[float]] = {m: [] for m in METHODS}
    raw: dict[str, list[float]] = {m: [] for m in METHODS}
    if ffmpeg is not None:
        keys[FFMPEG] = []
        raw[FFMPEG] = []
    for item in items:
        for method in METHODS:
            key = blurriness(method, item.image)
            keys[method].append(key)
            raw[method].append(key if not METHODS[method].sharper_is_higher else -key)
        if ffmpeg is not None:
            value = ffmpeg(item.image)
            keys[FFMPEG].append(value)
            raw[FFMPEG].append(value)
    return Scores(items, keys, raw)


def auc(labels: npt.NDArray[np.bool_], keys: npt.NDArray[np.float64]) -> float:
    """Probability that a blurry image has a larger key than a sharp one (ties count half).

    An image a method refused (NaN) counts as the blurriest: refusing is the
    method saying it found no sharp edges.
    """
    filled = np.where(np.isnan(keys), np.inf, keys)
    ranks = rankdata(filled)
    positives = int(labels.sum())
    negatives = labels.size - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


@dataclass(frozen=True)
class Summary:
    auc: float
    spearman_median: float
    spearman_worst: float
    ordered: int
    groups: int
    refused: int


def summarise(scores: Scores, method: str) -> Summary:
    keys = np.asarray(scores.keys[method], np.float64)
    sigmas = np.asarray([item.sigma for item in scores.items])
    labels = sigmas >= BLURRY
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(scores.items):
        groups.setdefault(item.group, []).append(i)
    rhos = []
    ordered = 0
    for members in groups.values():
        # Within a scene, only the images the method scored are ranked; the
        # images it refused are counted apart (the "refused" column).
        scored = [m for m in members if not math.isnan(keys[m])]
        k = keys[scored]
        rho = spearmanr(sigmas[scored], k).statistic if len(scored) > 2 else math.nan
        rhos.append(float(rho) if math.isfinite(rho) else -1.0)
        ordered += bool(len(scored) == len(members) and np.all(np.diff(k) > 0))
    return Summary(
        auc(labels, keys),
        statistics.median(rhos),
        min(rhos),
        ordered,
        len(groups),
        int(np.isnan(keys).sum()),
    )


def pixel_errors(scores: Scores) -> tuple[float, float, float]:
    """edge-blur's median |error| in px over σ 1-4: against σ, against sqrt(σ²+1/12); worst."""
    values = np.asarray(scores.raw["edge-blur"], np.float64)
    sigmas = np.asarray([item.sigma for item in scores.items])
    inside = (sigmas >= 1) & (sigmas <= 4)
    found = np.where(np.isnan(values[inside]), 0.0, values[inside])
    against_sigma = np.abs(found - sigmas[inside])
    against_psf = np.abs(found - np.sqrt(sigmas[inside] ** 2 + 1 / 12))
    return (
        float(np.median(against_sigma)),
        float(np.median(against_psf)),
        float(against_sigma.max()),
    )


# --- speed ---------------------------------------------------------------------------------------


def interleaved(candidates: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call, the candidates run in turn each round."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for call in candidates.values():
        call()  # warm up
    for _ in range(rounds):
        for name, call in candidates.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def speed(rounds: int, ffmpeg: Callable[[Gray], float] | None) -> None:
    photo = read_image(ROOT / "sample_images" / "astronaut.jpg", mode="gray")
    big = cv2.resize(photo, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    big = capture(big, 2.0, None, 5)
    megapixels = big.size / 1e6
    for threads in (1, cv2.getNumThreads()):
        previous = cv2.getNumThreads()
        cv2.setNumThreads(threads)
        calls: dict[str, Callable[[], object]] = {
            m: functools.partial(blurriness, m, big) for m in METHODS if m != "blur-effect"
        }
        if ffmpeg is not None:
            calls[FFMPEG] = lambda: ffmpeg(big)
        timed = interleaved(calls, rounds)
        cv2.setNumThreads(previous)
        print(f"\n12 MP uint8 array, blur_score, {threads} OpenCV thread(s), median of {rounds}:")
        print("| method | ms | ms/MP | vs lapv |\n| --- | ---: | ---: | ---: |")
        for name, seconds in timed.items():
            ratio = seconds / timed["lapv"]
            per_mp = seconds * 1e3 / megapixels
            print(f"| {name} | {seconds * 1e3:.1f} | {per_mp:.2f} | {ratio:.2f}× |")
        # The other measures' large float64 arrays slow the next call down:
        # the target ratio is also timed with the two alone.
        cv2.setNumThreads(threads)
        pair = interleaved({m: calls[m] for m in ("lapv", "edge-blur")}, 4 * rounds)
        cv2.setNumThreads(previous)
        print(
            f"edge-blur against lapv alone, median of {4 * rounds}: {pair['lapv'] * 1e3:.1f} "
            f"and {pair['edge-blur'] * 1e3:.1f} ms, {pair['edge-blur'] / pair['lapv']:.2f}×"
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.jpg"
        cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
        files = interleaved(
            {
                "lapv": lambda: blur_score(read_image(path, mode="gray"), "lapv"),
                "edge-blur": lambda: blur_score(read_image(path, mode="gray"), "edge-blur"),
            },
            rounds,
        )
    print(
        f"\nPer 12 MP JPEG file (decode + score): lapv {files['lapv'] * 1e3:.1f} ms, edge-blur "
        f"{files['edge-blur'] * 1e3:.1f} ms, {files['edge-blur'] / files['lapv']:.2f}×"
    )
    edges = interleaved(
        {
            "cv2.Canny(L2gradient=True)": lambda: cv2.Canny(big, 50, 150, L2gradient=True),
            "edgegrad.canny": lambda: canny(big, 50, 150),
        },
        max(3, rounds // 3),
    )
    reference = edges["cv2.Canny(L2gradient=True)"]
    same = bool(np.array_equal(canny(big, 50, 150), cv2.Canny(big, 50, 150, L2gradient=True) > 0))
    print("\nCanny on the 12 MP image (50, 150):")
    for name, seconds in edges.items():
        print(f"  {name}: {seconds * 1e3:.0f} ms ({seconds / reference:.1f}× cv2)")
    print(f"  maps identical: {same}")


# --- report --------------------------------------------------------------------------------


def report(title: str, scores: Scores, *, pixels: bool) -> None:
    print(f"\n{title}: {len(scores.items)} images")
    print("| method | AUC σ≥2 | Spearman median | worst | ordered groups | refused |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for method in scores.keys:
        s = summarise(scores, method)
        print(
            f"| {method} | {s.auc:.3f} | {s.spearman_median:.3f} | {s.spearman_worst:.3f} | "
            f"{s.ordered}/{s.groups} | {s.refused} |"
        )
    if pixels:
        sigma_error, psf_error, worst = pixel_errors(scores)
        print(
            f"edge-blur median |error| over σ 1-4: {sigma_error:.3f} px against σ, "
            f"{psf_error:.3f} px against sqrt(σ² + 1/12); worst {worst:.2f} px"
        )


@click.command()
@click.option("--quick", is_flag=True, help="2 chart scenes at 512 px and 5 photo scenes.")
@click.option("--rounds", type=click.IntRange(min=3), default=11, show_default=True)
def main(quick: bool, rounds: int) -> None:
    """Compare every focus measure on charts and photos of known blur, and time them."""
    ffmpeg, source = ffmpeg_scorer()
    print(f"blurdetect: {source}")
    size, chart_scenes, photo_scenes = (512, 2, 5) if quick else (1024, 4, 10)
    started = time.perf_counter()
    charts = score_corpus(list(chart_corpus(chart_scenes, size)), ffmpeg)
    report(f"Dead-leaves charts {size}×{size}", charts, pixels=True)
    photos = score_corpus(list(photo_corpus(photo_scenes)), ffmpeg)
    report("Upscaled photos (×3, per-file noise and JPEG quality)", photos, pixels=False)
    print(f"(scoring took {time.perf_counter() - started:.0f} s)")
    speed(rounds, ffmpeg)


if __name__ == "__main__":
    main()
