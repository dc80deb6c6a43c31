"""Draw the README's focus-sweep figure: the curve of ``sample_images/focus_sweep/``.

Run from anywhere::

    python scripts/make_focus_figure.py              # writes docs/focus_sweep.png
    python scripts/make_focus_figure.py -m teng -o /tmp/curve.png

It does what ``edgegrad focus-sweep sample_images/focus_sweep/ --plot FILE``
does: read each frame as gray (``edgegrad.io.read_image``), score it, place
it at its index in the natural order of the names (z = 0..8), fit the peak
with :func:`edgegrad.focus.fit_peak` and draw it with
:func:`edgegrad.display.render_focus_curve`. The sweep's true best focus is
z = 4.4 (``scripts/make_sample_images.py``).
"""

from __future__ import annotations

from pathlib import Path

import click

from edgegrad.display import render_focus_curve
from edgegrad.focus import fit_peak
from edgegrad.io import read_image, write_image
from edgegrad.metrics import METHODS, blur_score

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ROOT / "sample_images" / "focus_sweep"
#: The true best focus of the sample sweep.
TRUE_FOCUS = 4.4


@click.command()
@click.option("-m", "--method", type=click.Choice(list(METHODS)), default="lapv", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=ROOT / "docs" / "focus_sweep.png",
    show_default=True,
)
def main(method: str, output: Path) -> None:
    """Write the focus-sweep figure and print the peak against the truth."""
    files = sorted(SWEEP.glob("focus_*.png"))
    positions = [float(index) for index in range(len(files))]
    scores = [blur_score(read_image(path), method) for path in files]
    peak = fit_peak(positions, scores, higher_is_sharper=METHODS[method].sharper_is_higher)
    picture = render_focus_curve(
        positions,
        scores,
        peak,
        method=method,
        position_label="position (step: file in natural name order)",
    )
    write_image(output, picture, overwrite=True)
    if peak.position is None or peak.stderr is None:
        raise click.ClickException(f"no trustworthy peak: {peak.reason}")
    click.echo(
        f"wrote {output}: peak {peak.position:.3f} ± {peak.stderr:.3f} ({peak.model}), "
        f"true focus {TRUE_FOCUS:g}, error {peak.position - TRUE_FOCUS:+.3f} step"
    )


if __name__ == "__main__":
    main()
