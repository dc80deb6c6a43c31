"""Regenerate the bundled ``sample_images/`` folder from scikit-image's own photos.

Every file in ``sample_images/`` is derived, deterministically, from photographs that
ship inside the scikit-image wheel (``skimage/data/*.png`` and ``*.jpg``). They are
loaded through ``skimage.data.<name>()``; none of the loaders used here needs ``pooch``
or a network connection. The credit and licence of each photo are taken from the
docstrings in ``skimage/data/_fetchers.py`` and are written to ``SOURCES.md`` next to the
images. All of them are public domain or CC0.

Outputs
-------
* A few real photos, at most 512 px on the long side (``cv2.INTER_AREA``), written with
  ``cv2.imwrite`` in OpenCV's BGR order: gray and colour, PNG and JPEG (quality 90).
* ``focus_sweep/focus_NN.png``: an autofocus sweep of one scene (``skimage.data.chelsea``)
  captured at focus positions ``z = 0, 1, ..., 8`` of a lens whose best focus is at
  ``z = 4.4``, between two files: each frame is defocused with an anti-aliased disk
  (pillbox) point-spread function of radius ``|z - 4.4|`` pixels, and gets Gaussian
  sensor noise of 1 DN (fixed seed). The Laplacian variance rises strictly up to
  ``focus_04.png`` and falls strictly after it, and every frame scores differently;
  the script checks this and fails otherwise.
* ``SOURCES.md``: origin, licence and processing of every file.

Run from anywhere::

    python scripts/make_sample_images.py            # writes <repo>/sample_images
    python scripts/make_sample_images.py --out-dir /tmp/samples

The output is byte-identical from run to run on the same machine and library versions.

References
----------
.. [1] scikit-image sample data, ``skimage.data``:
       https://scikit-image.org/docs/stable/api/skimage.data.html
.. [2] S. van der Walt et al., "scikit-image: image processing in Python", PeerJ 2:e453
       (2014). :doi:`10.7717/peerj.453`
"""

from __future__ import annotations

import importlib.metadata
import itertools
import math
import pathlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click
import cv2
import numpy as np
import numpy.typing as npt
import skimage.data

#: Longest side, in pixels, of every bundled photo.
MAX_SIDE = 512
#: JPEG quality used for the lossy samples (fixed, so the output is reproducible).
JPEG_QUALITY = 90
#: zlib level for PNG (lossless; the level only changes the size and the speed).
PNG_COMPRESSION = 9
#: Focus positions of ``focus_00.png``, ``focus_01.png``, ... (steps of the focus drive).
SWEEP_POSITIONS: tuple[float, ...] = tuple(float(z) for z in range(9))
#: The position of best focus, between ``focus_04.png`` and ``focus_05.png``.
SWEEP_FOCUS = 4.4
#: Growth of the PSF radius, in pixels per step away from ``SWEEP_FOCUS``.
SWEEP_PX_PER_STEP = 1.0
#: Standard deviation, in DN, of the Gaussian sensor noise added to every frame.
SWEEP_NOISE = 1.0
#: Seed of that noise (fixed, so that the frames are reproducible).
SWEEP_SEED = 13
#: Sub-pixel samples per axis used to anti-alias the disk PSF.
PSF_SUPERSAMPLE = 16
#: Folder (inside the output folder) and file-name pattern of the focus sweep.
SWEEP_DIR = "focus_sweep"
SWEEP_NAME = "focus_{index:02d}.png"
_SWEEP_NAME_RE = re.compile(r"focus_\d{2}\.png")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
_SKIMAGE_VERSION = importlib.metadata.version("scikit-image")


@dataclass(frozen=True)
class Source:
    """Provenance of one scikit-image photo.

    Attributes
    ----------
    function : str
        Name of the ``skimage.data`` loader, e.g. ``"camera"``.
    file : str
        File name inside ``skimage/data`` that the loader reads.
    description : str
        What the photo shows.
    credit : str
        Photographer or agency, as stated by scikit-image.
    origin : str
        Where scikit-image says it obtained the photo.
    license : str
        Licence statement, quoted from the loader's docstring.
    """

    function: str
    file: str
    description: str
    credit: str
    origin: str
    license: str

    def load(self) -> npt.NDArray[np.uint8]:
        """Load the photo through ``skimage.data``, in RGB (or gray) order.

        Returns
        -------
        numpy.ndarray
            ``(H, W)`` or ``(H, W, 3)`` uint8 array.

        Raises
        ------
        click.ClickException
            If the loader returns something that is not a gray or RGB uint8 image.
        """
        loader: Callable[[], Any] = getattr(skimage.data, self.function)
        image = np.asarray(loader())
        if image.dtype != np.uint8 or not (
            image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
        ):
            raise click.ClickException(
                f"skimage.data.{self.function}() returned {image.dtype} {image.shape}; "
                "expected a gray or RGB uint8 image"
            )
        return np.ascontiguousarray(image, dtype=np.uint8)


@dataclass(frozen=True)
class Photo:
    """One bundled photo: the output name and its source.

    Attributes
    ----------
    name : str
        Output file name; its extension (``.png`` or ``.jpg``) selects the codec.
    source : Source
        Where the pixels come from. Gray sources stay gray, RGB sources become BGR.
    """

    name: str
    source: Source


# Licence texts are quoted from the docstrings in skimage/data/_fetchers.py
# (scikit-image 0.26.0); skimage/data/README.txt states no licences.
CAMERA = Source(
    function="camera",
    file="camera.png",
    description='Gray-level "camera" image: a photographer with a camera on a tripod',
    credit="Lav Varshney",
    origin="https://github.com/scikit-image/scikit-image/issues/3927",
    license="No copyright restrictions. CC0 by the photographer (Lav Varshney).",
)
BRICK = Source(
    function="brick",
    file="brick.png",
    description="A small section of a brick wall (gray)",
    credit="CC0Textures (now ambientCG), texture Bricks25",
    origin="https://cc0textures.com/view.php?tex=Bricks25",
    license="Licensed under the Creative Commons CC0 License.",
)
COFFEE = Source(
    function="coffee",
    file="coffee.png",
    description="Coffee cup on a wooden table, courtesy of Pikolo Espresso Bar",
    credit="Rachel Michetti",
    origin="scikit-image sample data (no further URL given)",
    license="No copyright restrictions. CC0 by the photographer (Rachel Michetti).",
)
ASTRONAUT = Source(
    function="astronaut",
    file="astronaut.png",
    description="Portrait of NASA astronaut Eileen Collins",
    credit="NASA",
    origin="NASA Great Images database, https://flic.kr/p/r9qvLn",
    license="No known copyright restrictions, released into the public domain.",
)
ROCKET = Source(
    function="rocket",
    file="rocket.jpg",
    description="Launch of DSCOVR on a Falcon 9 from Cape Canaveral LC-40",
    credit="SpaceX",
    origin="https://www.flickr.com/photos/spacexphotos/16511594820/",
    license=(
        "Captured by SpaceX and released in the public domain "
        "(http://arstechnica.com/tech-policy/2015/03/"
        "elon-musk-puts-spacex-photos-into-the-public-domain/)."
    ),
)
CHELSEA = Source(
    function="chelsea",
    file="chelsea.png",
    description="Chelsea the cat: fur texture and whiskers at several scales",
    credit="Stefan van der Walt",
    origin="scikit-image sample data (no further URL given)",
    license="No copyright restrictions. CC0 by the photographer (Stefan van der Walt).",
)

PHOTOS: tuple[Photo, ...] = (
    Photo("camera.png", CAMERA),
    Photo("brick.png", BRICK),
    Photo("coffee.png", COFFEE),
    Photo("astronaut.jpg", ASTRONAUT),
    Photo("rocket.jpg", ROCKET),
)
SWEEP_SOURCE = CHELSEA


def to_bgr(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Convert an RGB image to OpenCV's BGR order; pass gray images through.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` gray or ``(H, W, 3)`` RGB uint8 image.

    Returns
    -------
    numpy.ndarray
        The same pixels, channels reversed when the input has colour.
    """
    if image.ndim == 2:
        return image
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), dtype=np.uint8)


def fit_long_side(image: npt.NDArray[np.uint8], max_side: int) -> npt.NDArray[np.uint8]:
    """Downscale with ``cv2.INTER_AREA`` so that the long side is at most ``max_side``.

    Parameters
    ----------
    image : numpy.ndarray
        Gray or colour uint8 image.
    max_side : int
        Largest allowed height or width, in pixels.

    Returns
    -------
    numpy.ndarray
        ``image`` itself when it already fits, otherwise a resized copy whose long side
        is exactly ``max_side`` (the short side is rounded to the nearest pixel).
    """
    height, width = image.shape[:2]
    long_side = max(height, width)
    if long_side <= max_side:
        return image
    scale = max_side / long_side
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def disk_psf(radius: float, *, supersample: int = PSF_SUPERSAMPLE) -> npt.NDArray[np.float32]:
    """Build an anti-aliased disk (pillbox) point-spread function.

    Each tap holds the fraction of its pixel square that lies inside the circle of the
    given radius centred on the middle tap, estimated on a ``supersample`` x
    ``supersample`` grid of sub-pixel centres. The kernel is then normalized to sum 1.

    Parameters
    ----------
    radius : float
        Disk radius in pixels, ``>= 0``. ``0`` gives the identity kernel ``[[1]]``.
    supersample : int, optional
        Sub-pixel samples per axis (default ``PSF_SUPERSAMPLE``).

    Returns
    -------
    numpy.ndarray
        Square float32 kernel of odd side ``2 * ceil(radius) + 1`` that sums to 1.

    Raises
    ------
    ValueError
        If ``radius`` is negative or not finite, or ``supersample < 1``.

    Notes
    -----
    For ``radius=1`` the kernel is, to three decimals::

        0.026 0.145 0.026
        0.145 0.315 0.145
        0.026 0.145 0.026

    The disk is symmetric, so correlation (``cv2.filter2D``) and convolution agree.

    References
    ----------
    .. [1] J. W. Goodman, *Introduction to Fourier Optics*, 3rd ed., Roberts & Co.,
           2005, ch. 6 (defocus aberration; the geometric-optics PSF of a defocused
           lens with a circular pupil is a uniform disk).
    """
    if not math.isfinite(radius) or radius < 0:
        raise ValueError(f"radius must be a finite number >= 0; got {radius!r}")
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1; got {supersample!r}")
    if radius == 0:
        return np.ones((1, 1), dtype=np.float32)
    half = math.ceil(radius)
    side = 2 * half + 1
    # Sub-pixel centres along one axis, in pixel units relative to the kernel centre.
    offsets = (np.arange(side * supersample, dtype=np.float64) + 0.5) / supersample - (half + 0.5)
    inside = (offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2
    coverage = inside.reshape(side, supersample, side, supersample).mean(axis=(1, 3))
    return np.asarray(coverage / coverage.sum(), dtype=np.float32)


def defocus(
    image: npt.NDArray[np.uint8],
    radius: float,
    *,
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
) -> npt.NDArray[np.uint8]:
    """Blur an image with a disk PSF, as an out-of-focus lens would, and add sensor noise.

    Parameters
    ----------
    image : numpy.ndarray
        Gray or multichannel uint8 image; channels are filtered independently.
    radius : float
        PSF radius in pixels (see :func:`disk_psf`).
    noise : float, optional
        Standard deviation, in DN, of Gaussian noise added to every pixel and
        channel after the blur (0 adds none).
    rng : numpy.random.Generator, optional
        Source of the noise; required when ``noise`` is positive.

    Returns
    -------
    numpy.ndarray
        uint8 image of the same shape: the float32 ``cv2.filter2D`` result with
        ``cv2.BORDER_REFLECT_101``, plus the noise, rounded half to even and
        clipped to ``[0, 255]``.
    """
    if radius == 0 and noise == 0:
        return np.array(image, dtype=np.uint8, copy=True)
    kernel = disk_psf(radius)
    blurred = np.asarray(
        cv2.filter2D(
            image.astype(np.float32), cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT_101
        ),
        dtype=np.float32,
    )
    if noise > 0:
        if rng is None:
            raise ValueError("rng is required when noise is positive")
        blurred = blurred + rng.normal(0.0, noise, blurred.shape).astype(np.float32)
    return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)


def laplacian_variance(image: npt.NDArray[np.uint8]) -> float:
    """Return the variance of the Laplacian of the gray image (higher means sharper).

    Parameters
    ----------
    image : numpy.ndarray
        Gray or BGR uint8 image.

    Returns
    -------
    float
        ``cv2.Laplacian(gray, cv2.CV_64F).var()``, in squared 8-bit grey levels.

    References
    ----------
    .. [1] J. L. Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy:
           a comparative study", ICPR 2000. :doi:`10.1109/ICPR.2000.903548`
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(np.asarray(cv2.Laplacian(gray, cv2.CV_64F)).var())


def write_image(path: pathlib.Path, image: npt.NDArray[np.uint8]) -> None:
    """Write a BGR or gray uint8 image with fixed, reproducible codec settings.

    Parameters
    ----------
    path : pathlib.Path
        Destination; ``.png`` is written losslessly, ``.jpg`` at ``JPEG_QUALITY``.
    image : numpy.ndarray
        Image in OpenCV's BGR (or gray) convention.

    Raises
    ------
    click.ClickException
        If the extension is not supported or OpenCV fails to write the file.
    """
    suffix = path.suffix.lower()
    if suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]
    elif suffix in {".jpg", ".jpeg"}:
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    else:
        raise click.ClickException(f"cannot write {path}: unsupported extension {suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, params):
        raise click.ClickException(f"cannot write {path}: OpenCV's imwrite failed")


def _shape_text(image: npt.NDArray[np.uint8]) -> str:
    height, width = image.shape[:2]
    mode = "gray" if image.ndim == 2 else "colour (BGR)"
    return f"{width}x{height} {mode}"


def _photo_processing(photo: Photo, original: npt.NDArray[np.uint8]) -> str:
    steps: list[str] = []
    height, width = original.shape[:2]
    if max(height, width) > MAX_SIDE:
        steps.append(
            f"downscaled from {width}x{height} to {MAX_SIDE} px on the long side "
            "with cv2.INTER_AREA"
        )
    if original.ndim == 3:
        steps.append("RGB to BGR")
    if photo.name.lower().endswith((".jpg", ".jpeg")):
        steps.append(f"written as JPEG, quality {JPEG_QUALITY}")
    else:
        steps.append("written as PNG (lossless)")
    return "; ".join(steps)


def sources_markdown(
    photo_rows: Sequence[tuple[Photo, str, str]],
    sweep_rows: Sequence[tuple[str, float, float, float]],
    sweep_shape: str,
) -> str:
    """Render ``SOURCES.md``.

    Parameters
    ----------
    photo_rows : sequence of (Photo, str, str)
        Each photo with its output shape text and processing description.
    sweep_rows : sequence of (str, float, float, float)
        File name, focus position, PSF radius and Laplacian variance of each
        focus-sweep frame.
    sweep_shape : str
        Size and colour mode of the sweep frames.

    Returns
    -------
    str
        Markdown text ending in a newline.
    """
    lines = [
        "# Sample images: sources and licences",
        "",
        "Every file in this folder is generated by `scripts/make_sample_images.py` from",
        "photographs bundled in the scikit-image wheel (`skimage/data/`), loaded with",
        f"`skimage.data.<name>()` (generated with scikit-image {_SKIMAGE_VERSION}).",
        "Do not edit the images by hand; change the script and run it again:",
        "",
        "```",
        "python scripts/make_sample_images.py",
        "```",
        "",
        "The credit and licence of each photo are quoted from the docstring of its loader in",
        "`skimage/data/_fetchers.py`. All are public domain or CC0, so they may be",
        "redistributed and modified. scikit-image's own code is BSD-3-Clause.",
        "",
        "All images are stored in OpenCV's convention: written with `cv2.imwrite` after",
        "converting RGB to BGR, so `cv2.imread` returns them in BGR order.",
        "",
        "## Photos",
        "",
    ]
    for photo, shape, processing in photo_rows:
        src = photo.source
        lines += [
            f"### `{photo.name}`",
            "",
            f"- Content: {src.description}.",
            f"- Stored: {shape}.",
            f"- Loader: `skimage.data.{src.function}()` (file `skimage/data/{src.file}`).",
            f"- Credit: {src.credit}.",
            f"- Original source: {src.origin}.",
            f"- Licence (as stated by scikit-image): {src.license}",
            f"- Processing: {processing}.",
            "",
        ]
    src = SWEEP_SOURCE
    lines += [
        f"## Focus sweep: `{SWEEP_DIR}/`",
        "",
        f"One scene, `skimage.data.{src.function}()` (file `skimage/data/{src.file}`):",
        f"{src.description}.",
        "",
        f"- Credit: {src.credit}.",
        f"- Licence (as stated by scikit-image): {src.license}",
        f"- Stored: {sweep_shape}, PNG (lossless).",
        "",
        "An autofocus sweep: the same photo as a lens would capture it at focus positions",
        f"z = {SWEEP_POSITIONS[0]:g}, {SWEEP_POSITIONS[1]:g}, ..., {SWEEP_POSITIONS[-1]:g} "
        f"(steps of the focus drive), with its best focus at z = {SWEEP_FOCUS:g},",
        "between two files. Each frame is defocused with a disk (pillbox) point-spread",
        f"function of radius {SWEEP_PX_PER_STEP:g} px x |z - {SWEEP_FOCUS:g}|: every kernel "
        "tap is the fraction of its",
        "pixel inside a circle of that radius (estimated with "
        f"{PSF_SUPERSAMPLE}x{PSF_SUPERSAMPLE} supersampling),",
        "normalized to sum 1 (a disk of radius 0.5 or less lies inside its pixel and blurs",
        "nothing). The RGB photo is converted to BGR, filtered per channel with",
        "`cv2.filter2D` on float32 with `cv2.BORDER_REFLECT_101`, given Gaussian sensor",
        f"noise of {SWEEP_NOISE:g} DN (NumPy's default generator, seed {SWEEP_SEED}), "
        "rounded and clipped to",
        "uint8. The index in the file name is the focus position.",
        "",
        "| File | Focus position z | PSF radius (px) | Laplacian variance |",
        "|---|---:|---:|---:|",
    ]
    for name, position, radius, score in sweep_rows:
        lines.append(f"| `{SWEEP_DIR}/{name}` | {position:g} | {radius:g} | {score:.2f} |")
    lines += [
        "",
        "Laplacian variance is `cv2.Laplacian(gray, cv2.CV_64F).var()` on",
        "`cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)`; it rises strictly up to the frame",
        "nearest the best focus and falls strictly after it, and no two frames score alike.",
        "`edgegrad focus-sweep sample_images/focus_sweep/` fits the curve and finds the",
        "peak between the files.",
        "",
    ]
    return "\n".join(lines)


def _check_sweep(rows: Sequence[tuple[str, float, float, float]]) -> None:
    """Fail unless the sweep's scores rise strictly to its sharpest frame, then fall."""
    scores = [row[3] for row in rows]
    peak = scores.index(max(scores))
    rising = all(a < b for a, b in itertools.pairwise(scores))
    falling = all(a > b for a, b in zip(scores[peak:-1], scores[peak + 1 :], strict=True))
    nearest = min(range(len(rows)), key=lambda i: abs(rows[i][1] - SWEEP_FOCUS))
    if not (rising and falling and peak == nearest and len(set(scores)) == len(scores)):
        listed = ", ".join(f"{score:.3f}" for score in scores)
        raise click.ClickException(
            f"focus sweep does not rise strictly to the frame nearest z = {SWEEP_FOCUS:g} "
            f"and fall strictly after it: {listed}"
        )


def generate(out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Write every sample image and ``SOURCES.md`` into ``out_dir``.

    Parameters
    ----------
    out_dir : pathlib.Path
        Destination folder; created if missing. Existing files are overwritten, and
        stale ``focus_NN.png`` frames beyond the current sweep are removed.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order they were written.

    Raises
    ------
    click.ClickException
        If a write fails or the focus sweep does not rise and fall strictly.
    """
    written: list[pathlib.Path] = []

    photo_rows: list[tuple[Photo, str, str]] = []
    for photo in PHOTOS:
        original = photo.source.load()
        image = fit_long_side(original, MAX_SIDE)
        image = to_bgr(image)
        path = out_dir / photo.name
        write_image(path, image)
        written.append(path)
        photo_rows.append((photo, _shape_text(image), _photo_processing(photo, original)))

    sharp = to_bgr(fit_long_side(SWEEP_SOURCE.load(), MAX_SIDE))
    sweep_dir = out_dir / SWEEP_DIR
    sweep_rows: list[tuple[str, float, float, float]] = []
    expected: set[str] = set()
    rng = np.random.default_rng(SWEEP_SEED)
    for index, position in enumerate(SWEEP_POSITIONS):
        radius = round(SWEEP_PX_PER_STEP * abs(position - SWEEP_FOCUS), 6)
        frame = defocus(sharp, radius, noise=SWEEP_NOISE, rng=rng)
        name = SWEEP_NAME.format(index=index)
        path = sweep_dir / name
        write_image(path, frame)
        written.append(path)
        expected.add(name)
        sweep_rows.append((name, position, radius, laplacian_variance(frame)))
    _check_sweep(sweep_rows)
    for stale in sorted(sweep_dir.iterdir()):
        if _SWEEP_NAME_RE.fullmatch(stale.name) and stale.name not in expected:
            stale.unlink()

    sources = out_dir / "SOURCES.md"
    sources.write_text(
        sources_markdown(photo_rows, sweep_rows, _shape_text(sharp)), encoding="utf-8"
    )
    written.append(sources)
    return written


@click.command()
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=pathlib.Path),
    default=REPO_ROOT / "sample_images",
    show_default=True,
    help="Folder to (re)generate.",
)
def main(out_dir: pathlib.Path) -> None:
    """Regenerate the bundled sample images deterministically from skimage.data."""
    written = generate(out_dir)
    total = sum(path.stat().st_size for path in written)
    click.echo(f"wrote {len(written)} files ({total / 1e6:.2f} MB) to {out_dir}")


if __name__ == "__main__":
    main()
