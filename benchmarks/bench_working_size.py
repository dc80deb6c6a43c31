"""Spread of each focus measure over one scene captured at 0.75 to 12 MP.

Run from the repository root::

    python benchmarks/bench_working_size.py

It renders the scene of ``tests/scenes.py`` (a random-phase 1/f texture
with exact pixel-area integration) at 0.75, 2, 5 and 12 MP and prints, for
every method, max/min of the scores with ``working_size`` (edgegrad's
resampling) and with a plain ``cv2.INTER_AREA`` resize to the same pixel count
(the baseline). ``tests/test_metrics.py`` holds the spread to 1.01 for lapv
and 1.005 for the others.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from scenes import CAPTURES, render_scene

from edgegrad.metrics import METHODS, blur_score


def area_resize(image: npt.NDArray[Any], pixels: int) -> npt.NDArray[Any]:
    """The baseline: INTER_AREA straight to ``pixels`` pixels."""
    scale = (pixels / image.size) ** 0.5
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


@click.command()
@click.option("--working-size", default=300_000, show_default=True, type=click.IntRange(min=16))
def main(working_size: int) -> None:
    """Print max/min score ratios per method, edgegrad vs plain INTER_AREA."""
    captures = [render_scene(width, height) for width, height in CAPTURES]
    sizes = ", ".join(f"{c.shape[1]}x{c.shape[0]}" for c in captures)
    click.echo(f"captures {sizes}; working size {working_size:,} pixels")
    click.echo(f"{'method':12} {'working_size':>13} {'INTER_AREA':>11}")
    for method in METHODS:
        ours = [blur_score(c, method, working_size=working_size) for c in captures]
        plain = [blur_score(area_resize(c, working_size), method) for c in captures]
        click.echo(f"{method:12} {max(ours) / min(ours):13.4f} {max(plain) / min(plain):11.4f}")


if __name__ == "__main__":
    main()
