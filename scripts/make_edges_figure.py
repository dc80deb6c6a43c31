"""Draw the README's edge figure: a photo, its Canny map and its blur map in pixels.

Run from anywhere::

    python scripts/make_edges_figure.py                 # writes docs/edges.png
    python scripts/make_edges_figure.py --image sample_images/coffee.png -o /tmp/fig.png

The photo's right half is blurred by a Gaussian of ``--blur`` px (3 by default)
so that the map has something to find. Panels, left to right:

* the photo (half blurred);
* ``edgegrad.canny(photo, 50, 150)``, edges black on white;
* ``edgegrad.sharpness_map(photo, tile=64, method="edge-blur")`` drawn by
  ``edgegrad.display.render_focus_map`` (grey: a tile without reliable edges),
  each tile labelled with its blur in pixels.
"""

from __future__ import annotations

import math
from pathlib import Path

import click
import cv2
import numpy as np
import numpy.typing as npt

import edgegrad
from edgegrad.display import render_focus_map
from edgegrad.io import read_image, write_image

ROOT = Path(__file__).resolve().parent.parent
TILE = 64


def _label(panel: npt.NDArray[np.uint8], text: str) -> npt.NDArray[np.uint8]:
    bar = np.full((28, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, panel])


def _numbers(picture: npt.NDArray[np.uint8], tiles: npt.NDArray[np.float64]) -> None:
    """Write each tile's blur in px at its centre (the last tiles run to the edge)."""
    for (row, col), value in np.ndenumerate(tiles):
        if math.isnan(value):
            continue
        x = col * TILE + TILE // 2 - 14
        y = row * TILE + TILE // 2 + 5
        for colour, width in (((255, 255, 255), 3), ((0, 0, 0), 1)):
            cv2.putText(
                picture,
                f"{value:.1f}",
                (x, y),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                colour,
                width,
                cv2.LINE_AA,
            )


@click.command()
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=ROOT / "sample_images" / "astronaut.jpg",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=ROOT / "docs" / "edges.png",
    show_default=True,
)
@click.option("--blur", default=3.0, show_default=True, help="Gaussian σ (px) for the right half.")
def main(image: Path, output: Path, blur: float) -> None:
    """Write the three-panel edge figure."""
    gray = read_image(image, mode="gray")
    half = gray.shape[1] // 2
    photo = gray.copy()
    photo[:, half:] = cv2.GaussianBlur(gray, (0, 0), blur)[:, half:]
    edges = edgegrad.canny(photo, 50, 150)
    tiles = edgegrad.sharpness_map(photo, tile=TILE, method="edge-blur")
    blur_map = render_focus_map(photo, tiles, TILE, "edge-blur")
    _numbers(blur_map, tiles)
    panels = [
        _label(
            np.asarray(cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR), np.uint8),
            f"right half blurred {blur:g} px",
        ),
        _label(
            np.asarray(
                cv2.cvtColor(np.where(edges, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR), np.uint8
            ),
            "canny(photo, 50, 150)",
        ),
        _label(blur_map, "edge-blur per 64 px tile, px"),
    ]
    gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
    figure = np.hstack([panels[0], gap, panels[1], gap, panels[2]])
    write_image(output, figure, overwrite=True)
    click.echo(f"wrote {output}")


if __name__ == "__main__":
    main()
