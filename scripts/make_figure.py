"""Draw the README's figure: one photo's directional responses at 0/45/90/135°.

Run from anywhere::

    python scripts/make_figure.py                  # writes docs/angles.png
    python scripts/make_figure.py --image sample_images/coffee.png -o /tmp/fig.png

Each panel is ``edgegrad.directional(gray, θ, kernel="scharr")`` shown with
``to_uint8(..., "signed")`` and one shared scale, so mid-grey is zero, light is
intensity rising along θ and dark is intensity falling along θ.
"""

from __future__ import annotations

from pathlib import Path

import click
import cv2
import numpy as np
import numpy.typing as npt

import edgegrad
from edgegrad.io import read_image, write_image

ROOT = Path(__file__).resolve().parent.parent
ANGLES = (0.0, 45.0, 90.0, 135.0)


def _label(panel: npt.NDArray[np.uint8], text: str) -> npt.NDArray[np.uint8]:
    bar = np.full((28, panel.shape[1]), 255, np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 1, cv2.LINE_AA)
    return np.vstack([bar, panel])


@click.command()
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=ROOT / "sample_images" / "camera.png",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=ROOT / "docs" / "angles.png",
    show_default=True,
)
@click.option("--width", default=256, show_default=True, help="Width of each panel in pixels.")
def main(image: Path, output: Path, width: int) -> None:
    """Write the four-angle figure."""
    gray = read_image(image, mode="gray")
    height = round(gray.shape[0] * width / gray.shape[1])
    gray = np.asarray(cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA), np.uint8)
    responses = [edgegrad.directional(gray, angle, kernel="scharr") for angle in ANGLES]
    scale = 127.0 / max(float(np.abs(r).max()) for r in responses)
    gap = np.full((height + 28, 4), 255, np.uint8)
    panels = [_label(gray, "input")]
    for angle, response in zip(ANGLES, responses, strict=True):
        shown = edgegrad.to_uint8(response, "signed", scale=scale)
        panels.append(_label(shown, f"{angle:g} deg"))
    figure = np.hstack([p for panel in panels for p in (panel, gap)][:-1])
    write_image(output, figure, overwrite=True)
    click.echo(f"wrote {output}")


if __name__ == "__main__":
    main()
