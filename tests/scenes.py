"""A scene seen by cameras of several resolutions, for resolution-independence checks.

Shared by ``tests/test_metrics.py`` and ``benchmarks/bench_working_size.py``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def render_scene(width: int, height: int, *, seed: int = 0, terms: int = 96) -> NDArray[np.uint8]:
    """One 4:3 scene seen by a width x height camera whose pixels integrate their area.

    The scene is a random-phase texture with a natural 1/f amplitude spectrum,
    a sum of plane waves on a log-spaced frequency grid from 2 to 3000 cycles
    per picture width (past the 12 MP Nyquist frequency of 2000). Integrating
    a wave over a square pixel of pitch p multiplies it by sinc(f p) along
    each axis, exactly, so every resolution sees the same continuous scene.
    The sum is separable and evaluated as one real matrix product.
    """
    rng = np.random.default_rng(seed)
    fx = rng.choice([-1.0, 1.0], terms) * np.exp(rng.uniform(np.log(2), np.log(3000), terms))
    fy = rng.choice([-1.0, 1.0], terms) * np.exp(rng.uniform(np.log(2), np.log(3000), terms))
    cell = np.sqrt(np.abs(fy[:, None] * fx[None, :]))  # log-grid cell area, square-rooted
    amplitude = cell / np.hypot(fy[:, None], fx[None, :])
    coef = amplitude * (rng.normal(size=(terms, terms)) + 1j * rng.normal(size=(terms, terms)))
    coef *= 40.0 / np.sqrt(np.sum(np.abs(coef) ** 2))  # about 40 DN standard deviation
    pitch = 1.0 / width
    x = (np.arange(width) + 0.5) * pitch
    y = (np.arange(height) + 0.5) * pitch
    waves_x = np.exp(2j * np.pi * np.outer(x, fx)) * np.sinc(fx * pitch)
    waves_y = np.exp(2j * np.pi * np.outer(y, fy)) * np.sinc(fy * pitch)
    left = waves_y @ coef
    real_left = np.hstack([left.real, -left.imag]).astype(np.float32)
    real_right = np.vstack([waves_x.real.T, waves_x.imag.T]).astype(np.float32)
    scene = 128.0 + real_left @ real_right
    return np.clip(np.round(scene), 0, 255).astype(np.uint8)


CAPTURES = [(1000, 750), (1632, 1224), (2580, 1935), (4000, 3000)]  # 0.75, 2, 5, 12 MP
