"""Autofocus sweeps rendered from the sample photos, with a known best focus.

Shared by ``tests/test_focus.py``, ``tests/test_cli_focus.py`` and
``benchmarks/bench_focus.py``. A capture at focus position ``z`` is the sharp
photo blurred by a disk (pillbox) point-spread function of radius
``px_per_unit * |z - z0|`` pixels, as a lens defocused by ``z - z0`` blurs a
point into a disk, plus Gaussian sensor noise, rounded to uint8.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

#: Sub-pixel samples per axis of the anti-aliased disk.
SUPERSAMPLE = 16


def disk_psf(radius: float) -> NDArray[np.float32]:
    """An anti-aliased disk of ``radius`` pixels, summing to 1.

    Each tap is the share of its pixel inside the circle. A disk of radius
    0.5 or less lies inside the centre pixel: the identity.
    """
    if radius <= 0.5:
        return np.ones((1, 1), np.float32)
    half = math.ceil(radius)
    side = 2 * half + 1
    offsets = (np.arange(side * SUPERSAMPLE) + 0.5) / SUPERSAMPLE - (half + 0.5)
    inside = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2
    coverage = inside.reshape(side, SUPERSAMPLE, side, SUPERSAMPLE).mean(axis=(1, 3))
    return np.asarray(coverage / coverage.sum(), np.float32)


def capture(
    sharp: NDArray[np.uint8], radius: float, *, noise: float, rng: np.random.Generator
) -> NDArray[np.uint8]:
    """``sharp`` (gray) defocused by a disk of ``radius`` pixels, with ``noise`` DN of noise."""
    blurred = np.asarray(
        cv2.filter2D(
            sharp.astype(np.float32),
            cv2.CV_32F,
            disk_psf(radius),
            borderType=cv2.BORDER_REFLECT_101,
        ),
        np.float32,
    )
    noisy = blurred + rng.normal(0.0, noise, blurred.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def render_sweep(
    sharp: NDArray[np.uint8],
    positions: Sequence[float] | NDArray[np.float64],
    z0: float,
    *,
    px_per_unit: float,
    noise: float = 2.0,
    seed: int = 0,
) -> list[NDArray[np.uint8]]:
    """One capture of ``sharp`` (gray uint8) at each focus position; best focus at ``z0``."""
    rng = np.random.default_rng(seed)
    return [capture(sharp, px_per_unit * abs(z - z0), noise=noise, rng=rng) for z in positions]


def bump(frame: NDArray[np.uint8], length: int = 9) -> NDArray[np.uint8]:
    """A bumped capture: ``frame`` smeared by horizontal motion over ``length`` pixels."""
    kernel = np.full((1, length), 1.0 / length, np.float32)
    smeared = cv2.filter2D(frame.astype(np.float32), cv2.CV_32F, kernel)
    return np.clip(np.rint(smeared), 0, 255).astype(np.uint8)


def gray(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """A sample photo as gray (colour samples are BGR)."""
    if image.ndim == 2:
        return image
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
