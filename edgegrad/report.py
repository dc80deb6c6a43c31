"""An HTML report of a batch of focus scores, to look at rather than read.

:class:`HtmlReport` writes one page, ``NAME.html``, and beside it one folder,
``NAME_files/``, that holds the pictures: one gray JPEG thumbnail per image
(``t/000012.jpg``), and with focus maps one PNG per image (``m/000012.png``)
and the map legend (``legend.png``). It is written in two steps, so that a run
over any number of images holds none of the pictures in memory:

1. :meth:`HtmlReport.add_pictures`, as each record arrives: the worker's
   encoded thumbnail and map (:func:`edgegrad.jobs.score_file` makes them from
   the array it scored) go straight to the folder;
2. :meth:`HtmlReport.write`, at the end: the page, with every image's card,
   the histogram, the failures and the run's facts, written atomically.

The page opens offline from ``file://``: it loads nothing from outside (a
Content-Security-Policy forbids any other source than the page itself, its
folder and ``data:``; its one script and one style sheet are inline and
allowed by their hashes), uses no web fonts, and needs no ``fetch()``, which
browsers refuse on ``file://`` pages: the data is in the page's own elements
and the pictures are plain ``<img>`` elements, loaded lazily as they scroll
into view. What scripts and tests can rely on:

* each scored image is one element with ``data-path``, ``data-score`` (the
  score, in full) and ``data-blurry`` (``"true"`` or ``"false"``);
* each failure is one element with ``data-path`` and ``data-error``;
* the histogram is the element with id ``histogram``;
* ``#counts`` carries ``data-scored``, ``data-failed`` and ``data-blurry``;
* every text from a file name or message is escaped, so a file called
  ``<b>&"x'.jpg`` shows literally; undecodable bytes of a name show as
  ``\\xNN``.

The page's address takes ``#filter=all|blurry|failed&sort=score|name``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import os
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import numpy as np

from edgegrad._validate import check_path
from edgegrad.display import encode_image, focus_legend
from edgegrad.errors import ImageWriteError, OutputExistsError
from edgegrad.io import write_bytes, write_text
from edgegrad.metrics import METHODS, FocusMeasure

__all__ = [
    "MAP_TILE",
    "THUMBNAIL_SIZE",
    "HtmlReport",
    "ReportFailure",
    "ReportImage",
    "ReportRun",
    "assets_folder",
]

#: Long side, in pixels, of a report's thumbnails.
THUMBNAIL_SIZE: Final = 256
#: Tile side, in pixels of the scored image, of a report's focus maps (``focus-map``'s default).
MAP_TILE: Final = 64
#: Height, in pixels, of the legend drawn beside a report's focus maps.
_LEGEND_HEIGHT: Final = 384
_HISTOGRAM_BINS: Final = 40


def assets_folder(page: str | os.PathLike[str]) -> Path:
    """The folder beside a report's page that holds its pictures: ``NAME_files``.

    Named after the page's stem, with ``_files`` as browsers name the folder of
    a saved page, so that ``photos.html`` never writes into a folder
    ``photos/`` of inputs.

    Examples
    --------
    >>> assets_folder("out/run.html").as_posix()
    'out/run_files'
    """
    path = check_path(page)
    return path.with_name(f"{path.stem}_files")


@dataclass(frozen=True)
class ReportImage:
    """One scored image as the report shows it.

    Attributes
    ----------
    path : str
        The input as it was given or found.
    score : float
        Its score.
    width, height : int
        Its size, after EXIF orientation.
    blurry : bool
        Whether the run judged it blurry (false when no cut was given).
    warning : str or None
        A problem tolerated while reading it.
    pictures : int or None
        The number :meth:`HtmlReport.add_pictures` gave its pictures, or None.
    mapped : bool
        Whether a focus map was written under that number.
    order : int
        Its position among the run's inputs.
    """

    path: str
    score: float
    width: int
    height: int
    blurry: bool
    warning: str | None
    pictures: int | None
    mapped: bool
    order: int


@dataclass(frozen=True)
class ReportFailure:
    """One input that could not be scored, with the reason in words."""

    path: str
    error: str


@dataclass(frozen=True)
class ReportRun:
    """The facts of a run that the report's header shows.

    Attributes
    ----------
    command : str
        The command line.
    method : str
        The focus measure, a name in :data:`edgegrad.metrics.METHODS`.
    started : datetime
        When the run started (with its time zone).
    seconds : float
        How long it took, up to the report.
    skipped : int
        Inputs left alone (not images, or earlier outputs).
    cut : float or None
        The score below which (in the method's sharper direction) an image
        is blurry, or None without a cut.
    cut_label : str
        How the cut was given, e.g. ``--percentile 10``.
    """

    command: str
    method: str
    started: datetime
    seconds: float
    skipped: int = 0
    cut: float | None = None
    cut_label: str = ""


class HtmlReport:
    """Writes one offline HTML report: pictures as records arrive, the page at the end.

    Parameters
    ----------
    page : str or os.PathLike
        The page to write, ``NAME.html`` (or ``.htm``); its pictures go to
        :func:`assets_folder`.
    method : str
        The focus measure of the run.
    overwrite : bool, optional
        Replace an existing page, and pictures of the same names in its
        folder (pictures of an earlier, longer run stay there, unused).
        Without it, an existing page or folder is refused at once.
    maps : bool, optional
        Whether focus maps are to be shown (they come with the records).

    Raises
    ------
    ValueError
        If ``page`` does not end in ``.html`` or ``.htm``.
    OutputExistsError
        If the page or its folder exists and ``overwrite`` is false.
    ImageWriteError
        If the page's name is taken by a folder.
    """

    def __init__(
        self,
        page: str | os.PathLike[str],
        *,
        method: str,
        overwrite: bool = False,
        maps: bool = False,
    ) -> None:
        self.page = check_path(page, "page")
        if self.page.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"page must end in .html or .htm; got {self.page.name!r}")
        self.measure: FocusMeasure = METHODS[method]
        self.assets = assets_folder(self.page)
        self.overwrite = overwrite
        self.maps = maps
        if self.page.is_dir():
            raise ImageWriteError(self.page, "is a directory")
        for taken in (self.page, self.assets):
            if (taken.exists() or taken.is_symlink()) and not overwrite:
                raise OutputExistsError(taken, "already exists (pass overwrite=True to replace it)")
        self._numbered = 0

    def add_pictures(self, thumbnail: bytes | None, focus_map: bytes | None) -> int | None:
        """Write one image's thumbnail (and map) into the folder; return their number.

        Each call takes the next number, so pictures never share a name; the
        bytes are written at once (not durably: the page, written last and
        durably, is what makes them part of a report) and not kept.

        Returns
        -------
        int or None
            The number to give :class:`ReportImage`, or None without a thumbnail.
        """
        if thumbnail is None:
            return None
        number = self._numbered
        self._numbered += 1
        name = f"{number:06d}"
        write_bytes(
            self.assets / "t" / f"{name}.jpg", thumbnail, overwrite=self.overwrite, durable=False
        )
        if focus_map is not None and self.maps:
            write_bytes(
                self.assets / "m" / f"{name}.png",
                focus_map,
                overwrite=self.overwrite,
                durable=False,
            )
        return number

    def write(
        self,
        run: ReportRun,
        images: Sequence[ReportImage],
        failures: Sequence[ReportFailure],
        *,
        protected: Iterable[str | os.PathLike[str]] = (),
    ) -> Path:
        """Write the page (and the maps' legend), sharpest image first; return the page's path.

        Parameters
        ----------
        run : ReportRun
            The header's facts.
        images : sequence of ReportImage
            Every scored image, in input order.
        failures : sequence of ReportFailure
            Every input that failed.
        protected : iterable of path, optional
            The run's inputs, which the page must never replace.
        """
        if self.maps:
            legend = focus_legend(_LEGEND_HEIGHT, self.measure.name)
            write_bytes(
                self.assets / "legend.png",
                encode_image(legend, ".png"),
                overwrite=self.overwrite,
                durable=False,
            )
        page = _Page(self, run, images, failures).render()
        return write_text(self.page, page, overwrite=self.overwrite, protected=tuple(protected))


# --- the page -------------------------------------------------------------------------


def _text(value: str) -> str:
    """Escaped for HTML text and attributes; a name's undecodable bytes as ``\\xNN``."""
    readable = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return html.escape(readable, quote=True)


def _name(path: str) -> str:
    """The last part of a path, as a card's title."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path


def _thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The thumbnail's width and height, as :func:`edgegrad.display.thumbnail` makes it."""
    longest = max(width, height)
    if longest <= THUMBNAIL_SIZE:
        return width, height
    return (
        max(1, round(width * THUMBNAIL_SIZE / longest)),
        max(1, round(height * THUMBNAIL_SIZE / longest)),
    )


def _sha256(source: str) -> str:
    """A Content-Security-Policy hash source for an inline script or style."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return (
        f"{minutes // 60:d} h {minutes % 60:02d} min"
        if minutes >= 60
        else f"{minutes} min {rest:02d} s"
    )


class _Page:
    """Renders the page of one report."""

    def __init__(
        self,
        report: HtmlReport,
        run: ReportRun,
        images: Sequence[ReportImage],
        failures: Sequence[ReportFailure],
    ) -> None:
        self.report = report
        self.measure = report.measure
        self.run = run
        self.images = sorted(images, key=lambda i: (-self.measure.sharpness(i.score), i.order))
        self.failures = failures
        self.folder = urllib.parse.quote(report.assets.name)

    def render(self) -> str:
        style, script = _STYLE, _SCRIPT
        policy = (
            "default-src 'none'; img-src 'self' file: data:; "
            f"style-src {_sha256(style)}; script-src {_sha256(script)}; "
            "base-uri 'none'; form-action 'none'"
        )
        blurry = sum(image.blurry for image in self.images)
        direction = "true" if self.measure.sharper_is_higher else "false"
        title = f"edgegrad blur-score: {len(self.images)} images, {self.measure.name}"
        parts = [
            "<!doctype html>\n",
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            '<meta name="generator" content="edgegrad">\n',
            f"<title>{_text(title)}</title>\n<style>{style}</style>\n</head>\n",
            f'<body data-sharper-is-higher="{direction}">\n',
            self._header(blurry),
            self._histogram(),
            self._controls(blurry),
            self._grid(),
            self._failures(),
            self._viewer(),
            f"<script>{script}</script>\n</body>\n</html>\n",
        ]
        return "".join(parts)

    def _header(self, blurry: int) -> str:
        run, measure = self.run, self.measure
        started = run.started.isoformat(timespec="seconds")
        if run.cut is None:
            verdict = "no blurry cut given (--threshold, --percentile or --sigma)"
        else:
            verdict = f"blurry: {measure.blurrier_side} {measure.format(run.cut)} ({run.cut_label})"
        counts = (
            f"{len(self.images)} scored, {len(self.failures)} failed, "
            + (f"{blurry} blurry" if run.cut is not None else "none judged blurry")
            + (f", {run.skipped} skipped" if run.skipped else "")
        )
        return (
            '<header>\n<h1>edgegrad blur-score</h1>\n<dl class="facts">\n'
            f'<dt>command</dt><dd><code id="command">{_text(run.command)}</code></dd>\n'
            f'<dt>method</dt><dd id="method" data-method="{_text(measure.name)}">'
            f"{_text(measure.name)}: {_text(measure.direction)}; {_text(measure.units)}; "
            f"{_text(measure.reference)}</dd>\n"
            f'<dt>images</dt><dd id="counts" data-scored="{len(self.images)}" '
            f'data-failed="{len(self.failures)}" data-blurry="{blurry}">{_text(counts)}</dd>\n'
            f"<dt>verdict</dt><dd>{_text(verdict)}</dd>\n"
            f'<dt>time</dt><dd><time datetime="{started}">{started}</time>, '
            f"took {_seconds(run.seconds)}</dd>\n</dl>\n</header>\n"
        )

    def _histogram(self) -> str:
        scores = np.array([image.score for image in self.images], dtype=np.float64)
        width, height, left, right, top, bottom = 720, 170, 44, 16, 14, 40
        plot_w, plot_h = width - left - right, height - top - bottom
        open_tag = (
            f'<figure class="histogram-box"><svg id="histogram" class="histogram" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="histogram of the scores">'
        )
        if scores.size == 0:
            return f'{open_tag}<text x="{left}" y="{top + 20}">no scores</text></svg></figure>\n'
        cut = self.run.cut
        log = self.measure.map_log and float(scores.min()) > 0
        values = np.log10(scores) if log else scores
        low, high = float(values.min()), float(values.max())
        if cut is not None and (cut > 0 or not log):
            where = math.log10(cut) if log else cut
            low, high = min(low, where), max(high, where)
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        counts, edges = np.histogram(values, bins=_HISTOGRAM_BINS, range=(low, high))
        tallest = int(counts.max())

        def x_of(value: float) -> float:
            return left + (value - low) / (high - low) * plot_w

        def shown(value: float) -> float:
            return 10.0**value if log else value

        bars = []
        for count, start, end in zip(counts, edges[:-1], edges[1:], strict=True):
            if not count:
                continue
            middle = shown((start + end) / 2)
            below = cut is not None and self.measure.sharpness(middle) < self.measure.sharpness(cut)
            bar_h = count / tallest * plot_h
            bar_w = max(1.0, x_of(end) - x_of(start) - 1)
            bars.append(
                f'<rect class="{"bar blurry" if below else "bar"}" x="{x_of(start):.1f}" '
                f'y="{top + plot_h - bar_h:.1f}" width="{bar_w:.1f}" '
                f'height="{bar_h:.1f}"><title>{self.measure.format(shown(start))} to '
                f"{self.measure.format(shown(end))}: {int(count)}</title></rect>"
            )
        ticks = []
        for value in self._axis_ticks(low, high, log):
            x = x_of(math.log10(value) if log else value)
            ticks.append(
                f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" '
                f'y2="{top + plot_h + 4}"/><text class="label" x="{x:.1f}" '
                f'y="{top + plot_h + 16}" text-anchor="middle">{value:.4g}</text>'
            )
        marks = []
        if cut is not None and (cut > 0 or not log):
            x = x_of(math.log10(cut) if log else cut)
            marks.append(
                f'<line id="histogram-cut" class="cut" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" '
                f'y2="{top + plot_h}" data-score="{cut!r}"/><text class="cut-label" '
                f'x="{x + 4:.1f}" y="{top + 6}">{_text(self._cut_text())}</text>'
            )
        sharper = "sharper →" if self.measure.sharper_is_higher else "← sharper"
        axis = (
            f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" '
            f'y2="{top + plot_h}"/><text class="label" x="{left - 6}" y="{top + 8}" '
            f'text-anchor="end">{tallest}</text><text class="label" x="{left - 6}" '
            f'y="{top + plot_h}" text-anchor="end">0</text>'
            f'<text class="label" x="{left + plot_w}" y="{height - 4}" text-anchor="end">'
            f"{_text(self.measure.name)}{' (log scale)' if log else ''}, {sharper}</text>"
        )
        return f"{open_tag}{''.join(bars)}{axis}{''.join(ticks)}{''.join(marks)}</svg></figure>\n"

    @staticmethod
    def _axis_ticks(low: float, high: float, log: bool) -> list[float]:
        """Axis labels: each power of ten (log) or quarters, and the ends where there is room."""
        if not log:
            return [low + (high - low) * q for q in (0.0, 0.25, 0.5, 0.75, 1.0)]
        decades = list(range(math.ceil(low), math.floor(high) + 1))
        room = 0.08 * (high - low)
        ends = [end for end in (low, high) if all(abs(end - k) > room for k in decades)]
        return [10.0**k for k in sorted([*decades, *ends])]

    def _cut_text(self) -> str:
        """The cut as the histogram labels it: how it was given, and its score if relative."""
        label, cut = self.run.cut_label, self.run.cut
        if cut is None or label.startswith("--threshold"):
            return label
        return f"{label}: {self.measure.format(cut)}" if label else self.measure.format(cut)

    def _controls(self, blurry: int) -> str:
        filters = (
            ("all", f"all ({len(self.images)})"),
            ("blurry", f"blurry ({blurry})"),
            ("failed", f"failed ({len(self.failures)})"),
        )
        buttons = "".join(
            f'<button type="button" data-filter="{key}" '
            f'aria-pressed="{"true" if key == "all" else "false"}">{label}</button>'
            for key, label in filters
        )
        return (
            '<nav class="controls"><span class="group" role="group" aria-label="show">'
            f"{buttons}</span>"
            '<label>sort <select id="sort"><option value="score">score, sharpest first</option>'
            '<option value="name">name</option></select></label>'
            '<output id="shown"></output></nav>\n'
        )

    def _grid(self) -> str:
        measure, folder = self.measure, self.folder
        cards = []
        for image in self.images:
            path = _text(image.path)
            if image.pictures is None:
                picture = '<span class="nothumb">no thumbnail</span>'
                focus = ""
            else:
                w, h = _thumbnail_size(image.width, image.height)
                name = f"{image.pictures:06d}"
                picture = (
                    f'<img src="{folder}/t/{name}.jpg" width="{w}" height="{h}" '
                    'loading="lazy" decoding="async" alt="">'
                )
                focus = f' data-map="{folder}/m/{name}.png"' if image.mapped else ""
            badge = '<span class="badge">blurry</span>' if image.blurry else ""
            warning = (
                f'<span class="warning" title="{_text(image.warning)}">warning</span>'
                if image.warning
                else ""
            )
            cards.append(
                f'<figure class="card" tabindex="0" data-path="{path}" '
                f'data-score="{image.score!r}" data-blurry="{"true" if image.blurry else "false"}" '
                f'data-order="{image.order}" data-size="{image.width}x{image.height}"{focus}>'
                f'<div class="thumb">{picture}</div><figcaption>'
                f'<span class="name" title="{path}">{_text(_name(image.path))}</span>'
                f'<span class="score">{measure.format(image.score)}</span>'
                f'<span class="size">{image.width}×{image.height}</span>{badge}{warning}'
                "</figcaption></figure>\n"
            )
        return f'<main id="grid" class="grid">\n{"".join(cards)}</main>\n'

    def _failures(self) -> str:
        items = "".join(
            f'<li class="failure" data-path="{_text(f.path)}" data-error="{_text(f.error)}">'
            f"<code>{_text(f.path)}</code>: "
            f"{_text(f.error.removeprefix(f'{f.path}: '))}</li>\n"
            for f in self.failures
        )
        body = f"<ul>\n{items}</ul>" if self.failures else "<p>none</p>"
        return (
            f'<section id="failures"><h2>Failures ({len(self.failures)})</h2>\n{body}</section>\n'
        )

    def _viewer(self) -> str:
        if self.report.maps:
            legend = (
                f'<img id="viewer-legend" src="{self.folder}/legend.png" '
                'alt="colour scale of the focus maps">'
            )
            note = (
                f"Tiles of {MAP_TILE} px on the fixed {_text(self.measure.name)} scale, the same "
                "for every image (edgegrad focus-map's default)."
            )
            toggle = '<label><input type="checkbox" id="viewer-toggle" checked> focus map</label>'
        else:
            legend, toggle = "", ""
            note = "No focus maps in this report: run blur-score with --report-maps to add them."
        return (
            '<dialog id="viewer" aria-label="image">\n'
            '<div class="viewer-bar"><strong id="viewer-name"></strong>'
            f'{toggle}<button type="button" id="viewer-close">close</button></div>\n'
            '<div class="viewer-body"><div class="stage"><img id="viewer-photo" alt="">'
            f'<img id="viewer-map" alt=""></div>{legend}</div>\n'
            f'<p id="viewer-facts"></p><p class="note">{note}</p>\n</dialog>\n'
        )


_STYLE: Final = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1d1d1f;--muted:#5f6368;--card:#f1f3f4;
--line:#d0d4d8;--bar:#3b6fb6;--blurry:#c5221f;--accent:#1a56c4}
@media (prefers-color-scheme:dark){:root{--bg:#16181b;--fg:#e8eaed;--muted:#a0a4a8;
--card:#23262b;--line:#3c4043;--bar:#7aa7e8;--blurry:#f28b82;--accent:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1800px;padding:0 1.25rem 3rem;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:1.4rem;margin:1rem 0 .5rem}h2{font-size:1.1rem}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0}
.facts dt{color:var(--muted)}.facts dd{margin:0;overflow-wrap:anywhere}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.histogram-box{margin:1rem 0}.histogram{width:100%;max-width:900px;height:auto;display:block}
.histogram .bar{fill:var(--bar)}.histogram .bar.blurry{fill:var(--blurry)}
.histogram .axis,.histogram .tick{stroke:var(--muted)}
.histogram .cut{stroke:var(--fg);stroke-width:2;stroke-dasharray:5 3}
.histogram text{fill:var(--fg);font-size:12px}.histogram .label{fill:var(--muted)}
.controls{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;gap:.75rem;
align-items:center;padding:.5rem 0;background:var(--bg);border-bottom:1px solid var(--line);
margin-bottom:.75rem}
.controls button,.controls select,dialog button{font:inherit;color:inherit;background:var(--card);
border:1px solid var(--line);border-radius:4px;padding:.2rem .6rem;cursor:pointer}
.controls button[aria-pressed=true]{background:var(--accent);border-color:var(--accent);color:#fff}
.group{display:inline-flex;gap:.25rem}#shown{color:var(--muted)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:10px}
.card{margin:0;background:var(--card);border-radius:6px;padding:6px;cursor:pointer;
content-visibility:auto;contain-intrinsic-size:auto 240px;border:2px solid transparent}
.card:focus-visible,.card:hover{border-color:var(--accent);outline:none}
.card[data-blurry=true]{border-color:var(--blurry)}
.thumb{aspect-ratio:4/3;display:flex;align-items:center;justify-content:center;
background:#8881;border-radius:3px;overflow:hidden}
.thumb img{max-width:100%;max-height:100%;width:auto;height:auto}
.nothumb{color:var(--muted)}
figcaption{display:flex;flex-wrap:wrap;gap:.2rem .5rem;align-items:baseline;margin-top:4px}
.name{flex:1 1 100%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-weight:600}
.score{font-variant-numeric:tabular-nums}.size{color:var(--muted)}
.badge{background:var(--blurry);color:#fff;border-radius:3px;padding:0 .35rem;font-size:12px;
font-weight:700;text-transform:uppercase}
.warning{color:var(--blurry);font-size:12px;text-decoration:underline dotted}
#failures ul{padding-left:1.2rem}#failures li{margin:.2rem 0;overflow-wrap:anywhere}
[hidden]{display:none!important}
dialog{max-width:min(96vw,1100px);border:1px solid var(--line);border-radius:8px;
background:var(--bg);color:var(--fg);padding:.75rem}
dialog::backdrop{background:#000a}
.viewer-bar{display:flex;gap:1rem;align-items:center;margin-bottom:.5rem}
.viewer-bar strong{flex:1;overflow-wrap:anywhere}
.viewer-body{display:flex;gap:.75rem;align-items:flex-start}
.stage{position:relative;line-height:0}
#viewer-photo{display:block;height:min(70vh,512px);width:auto;max-width:80vw}
#viewer-map{position:absolute;inset:0;width:100%;height:100%;opacity:.55;
image-rendering:pixelated}
#viewer-legend{height:min(70vh,512px);width:auto}
.note{color:var(--muted);font-size:12px}
"""

_SCRIPT: Final = """
(() => {
  "use strict";
  const grid = document.getElementById("grid");
  const failures = document.getElementById("failures");
  const shown = document.getElementById("shown");
  const sort = document.getElementById("sort");
  const buttons = Array.from(document.querySelectorAll("[data-filter]"));
  const cards = Array.from(grid.children);
  const failed = failures.querySelectorAll("[data-error]").length;
  const orders = {score: cards};
  let filter = "all";
  let order = "score";

  function sorted(name) {
    if (!orders[name]) {
      orders[name] = cards.slice().sort((a, b) =>
        a.dataset.path < b.dataset.path ? -1 : a.dataset.path > b.dataset.path ? 1 : 0);
    }
    return orders[name];
  }

  function apply(newFilter, newOrder) {
    if (newOrder !== order) {
      const fragment = document.createDocumentFragment();
      for (const card of sorted(newOrder)) fragment.appendChild(card);
      grid.appendChild(fragment);
      order = newOrder;
    }
    filter = newFilter;
    let count = 0;
    for (const card of cards) {
      const show = filter === "all" || (filter === "blurry" && card.dataset.blurry === "true");
      card.hidden = !show;
      if (show) count += 1;
    }
    grid.hidden = filter === "failed";
    failures.hidden = filter === "blurry";
    for (const button of buttons) {
      button.setAttribute("aria-pressed", String(button.dataset.filter === filter));
    }
    sort.value = order;
    shown.textContent = filter === "failed" ? failed + " failed"
      : count + " of " + cards.length + " images";
    const hash = "#filter=" + filter + "&sort=" + order;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  function fromHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const f = params.get("filter");
    const s = params.get("sort");
    apply(["all", "blurry", "failed"].includes(f) ? f : "all",
          ["score", "name"].includes(s) ? s : "score");
  }

  for (const button of buttons) {
    button.addEventListener("click", () => apply(button.dataset.filter, order));
  }
  sort.addEventListener("change", () => apply(filter, sort.value));
  window.addEventListener("hashchange", fromHash);

  const viewer = document.getElementById("viewer");
  const photo = document.getElementById("viewer-photo");
  const map = document.getElementById("viewer-map");
  const toggle = document.getElementById("viewer-toggle");
  let current = null;

  function show(card) {
    current = card;
    const thumb = card.querySelector(".thumb img");
    photo.src = thumb ? thumb.getAttribute("src") : "";
    const mapped = card.dataset.map;
    map.hidden = !mapped || (toggle !== null && !toggle.checked);
    if (mapped) map.src = mapped; else map.removeAttribute("src");
    document.getElementById("viewer-name").textContent = card.dataset.path;
    const score = card.querySelector(".score").textContent;
    document.getElementById("viewer-facts").textContent =
      "score " + score + ", " + card.dataset.size.replace("x", "×") + " px" +
      (card.dataset.blurry === "true" ? ", blurry" : "") +
      (mapped ? "" : toggle !== null ? " (too small to map)" : "");
    if (!viewer.open) viewer.showModal();
  }

  function step(by) {
    if (current === null) return;
    let card = current;
    do {
      card = by > 0 ? card.nextElementSibling : card.previousElementSibling;
    } while (card !== null && card.hidden);
    if (card !== null) show(card);
  }

  grid.addEventListener("click", (event) => {
    const card = event.target.closest(".card");
    if (card) show(card);
  });
  grid.addEventListener("keydown", (event) => {
    const card = event.target.closest(".card");
    if (card && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      show(card);
    }
  });
  viewer.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") step(1);
    if (event.key === "ArrowLeft") step(-1);
  });
  viewer.addEventListener("close", () => { if (current) current.focus(); });
  document.getElementById("viewer-close").addEventListener("click", () => viewer.close());
  if (toggle !== null) {
    toggle.addEventListener("change", () => {
      map.hidden = !toggle.checked || !(current && current.dataset.map);
    });
  }
  fromHash();
})();
"""
