"""The HTML report of ``blur-score --report`` and the fixed-scale focus maps, without a browser.

The page is parsed with the standard library's HTML parser, which is what a
script reading the report would do; ``test_report_browser.py`` checks the
same page in headless Chromium.
"""

from __future__ import annotations

import html.parser
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from conftest import CliRun

from edgegrad import display, jobs
from edgegrad.batch import Record
from edgegrad.errors import OutputExistsError
from edgegrad.jobs import FileScore, score_file
from edgegrad.metrics import METHODS, sharpness_map
from edgegrad.report import HtmlReport, ReportImage, ReportRun, assets_folder
from edgegrad_cli.gallery import Gallery

HOSTILE = "<b>&\"x'.jpg"


def blurred(image: npt.NDArray[np.uint8], sigma: float) -> npt.NDArray[np.uint8]:
    if sigma == 0:
        return image.copy()
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), np.uint8)


@pytest.fixture
def photos(tmp_path: Path, sample: Callable[..., npt.NDArray[Any]]) -> Path:
    """Six shots of one scene, blurred more and more, a hostile name, and one broken file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    base = sample("camera.png")
    names = ["a.png", "c.png", "b.png", "e.png", "d.png", HOSTILE]
    for name, sigma in zip(names, (0, 0.6, 1.2, 2.0, 3.5, 0.3), strict=True):
        assert cv2.imwrite(str(folder / name), blurred(base, sigma)) or name == HOSTILE
    # cv2.imwrite picks the format from the extension: write the hostile one by bytes.
    (folder / HOSTILE).write_bytes(cv2.imencode(".jpg", blurred(base, 0.3))[1].tobytes())
    (folder / "broken.png").write_text("not an image", encoding="utf-8")
    return folder


class Page(html.parser.HTMLParser):
    """Every element's attributes, by tag, in document order, and the text of each id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: dict[str, str] = {}
        self._open: list[str | None] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append((tag, values))
        if tag not in ("img", "meta", "input", "line", "rect", "br"):
            self._open.append(values.get("id"))
            if values.get("id"):
                self.text[values["id"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag not in ("img", "meta", "input", "line", "rect", "br"):
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for name in self._open:
            if name:
                self.text[name] += data

    def having(self, attribute: str) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.elements if attribute in attrs]

    def cards(self) -> list[dict[str, str]]:
        """The scored images' elements."""
        return [a for a in self.having("data-blurry") if a.get("class") == "card"]


def parse(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


# --- the worker's pictures ----------------------------------------------------------


def test_score_file_returns_a_gray_thumbnail_of_the_array_it_scored(
    photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = []
    real = jobs.read_image_checked

    def counting(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "read_image_checked", counting)
    plain = score_file(photos / "a.png")
    result = score_file(photos / "a.png", thumbnail_size=256, map_tile=64)
    assert len(reads) == 2  # one decode per call: the thumbnail reuses it
    assert (plain.thumbnail, plain.focus_map) == (None, None)
    assert result.score == plain.score
    assert result.thumbnail is not None
    assert result.thumbnail[:2] == b"\xff\xd8"  # a JPEG
    thumb = cv2.imdecode(np.frombuffer(result.thumbnail, np.uint8), cv2.IMREAD_UNCHANGED)
    assert thumb.shape == (256, 256)  # gray: sharpness is judged on luma
    expected = display.thumbnail(cv2.imread(str(photos / "a.png"), cv2.IMREAD_GRAYSCALE))
    assert np.abs(thumb.astype(int) - expected).mean() < 3  # JPEG's loss only
    assert result.focus_map is not None
    assert result.focus_map[:4] == b"\x89PNG"
    tiles = cv2.imdecode(np.frombuffer(result.focus_map, np.uint8), cv2.IMREAD_COLOR)
    assert tiles.shape == (256, 256, 3)
    assert len(result.thumbnail) + len(result.focus_map) < 20_000


def test_an_image_too_small_to_map_still_gets_its_thumbnail(tmp_path: Path) -> None:
    source = tmp_path / "tiny.png"
    cv2.imwrite(str(source), np.random.default_rng(0).integers(0, 256, (4, 3), np.uint8))
    result = score_file(source, method="lapv", thumbnail_size=256, map_tile=64)
    assert result.thumbnail is not None  # 3 px wide: scored, but lapv maps need 3x3 tiles
    assert result.focus_map is None or result.focus_map[:4] == b"\x89PNG"


def test_thumbnail_keeps_the_aspect_and_the_8_bit_scale_of_every_dtype() -> None:
    gray = np.random.default_rng(1).integers(0, 256, (3000, 4000), np.uint8)
    small = display.thumbnail(gray)
    assert small.shape == (192, 256)
    assert small.dtype == np.uint8
    sixteen = display.thumbnail(gray.astype(np.uint16) * 257)
    floats = display.thumbnail(gray.astype(np.float32) / 255)
    assert np.abs(sixteen.astype(int) - small).max() <= 1
    assert np.abs(floats.astype(int) - small).max() <= 1
    assert display.thumbnail(np.zeros((100, 30), np.uint8), 64).shape == (64, 19)
    assert display.thumbnail(np.zeros((20, 10), np.uint8)).shape == (20, 10)  # never enlarged
    colour = np.dstack([gray[:300, :400]] * 3)
    np.testing.assert_array_equal(display.thumbnail(colour), display.thumbnail(gray[:300, :400]))


# --- fixed-scale focus maps ---------------------------------------------------------


def test_every_method_declares_a_map_range_its_scale_accepts() -> None:
    for name, measure in METHODS.items():
        scale = display.focus_scale(name)
        assert (scale.low, scale.high, scale.log) == (*measure.map_range, measure.map_log)
        levels = scale.levels(np.array(measure.map_range))
        expected = [0.0, 1.0] if measure.sharper_is_higher else [1.0, 0.0]
        assert levels.tolist() == expected, name


def test_the_scale_clips_and_takes_vmin_vmax() -> None:
    scale = display.focus_scale("lapv", vmin=10, vmax=1000)
    assert scale.levels(np.array([1.0, 10.0, 100.0, 1000.0, 1e9])).tolist() == [
        0.0,
        0.0,
        0.5,
        1.0,
        1.0,
    ]
    assert scale.ticks() == [10.0, 100.0, 1000.0]
    with pytest.raises(ValueError, match="vmin must be below vmax"):
        display.focus_scale("lapv", vmin=5, vmax=5)
    with pytest.raises(ValueError, match="vmin must be above 0: the lapv map has a log scale"):
        display.focus_scale("lapv", vmin=0)
    with pytest.raises(ValueError, match="vmax must be finite"):
        display.focus_scale("lapv", vmax=float("inf"))
    assert display.focus_scale("blur-effect", vmin=0.2, vmax=0.6).levels(
        np.array([0.2, 0.6])
    ).tolist() == [1.0, 0.0]


def _tile_colours(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return display.focus_tiles(sharpness_map(image, tile=64), image.shape, 64, "lapv")


def test_a_blurry_capture_looks_blurry_and_equal_scores_look_equal(
    sample: Callable[..., npt.NDArray[Any]],
) -> None:
    sharp = sample("camera.png")
    soft = blurred(sharp, 4.0)
    sharp_colours, soft_colours = _tile_colours(sharp), _tile_colours(soft)
    luma = lambda c: cv2.cvtColor(c, cv2.COLOR_BGR2GRAY).astype(float)  # noqa: E731
    # On a per-image scale the soft image's best tile was as bright as the sharp one's.
    assert luma(soft_colours).max() < np.percentile(luma(sharp_colours), 50)
    # One score, one colour, whatever the other tiles of its image.
    both = np.hstack([sharp[:64, :64], soft[:64, 64:128]])
    np.testing.assert_array_equal(_tile_colours(both)[:, :64], sharp_colours[:64, :64])


def test_the_legend_grows_with_the_image() -> None:
    def ink_height(height: int) -> int:
        legend = display.focus_legend(height, "lapv")
        labels = legend[:, round(legend.shape[1] * 0.3) :]
        dark = np.flatnonzero((labels.min(axis=2) < 128).any(axis=1))
        # The title, the first text at the top: its rows of ink.
        first = dark[0]
        gap = np.flatnonzero(np.diff(dark) > 1)
        return int(dark[gap[0]] - first + 1) if gap.size else int(dark[-1] - first + 1)

    small, large = ink_height(480), ink_height(3000)
    assert display.focus_legend(64, "lapv").shape == (64, 120, 3)
    assert 5.0 < large / small < 7.5  # 3000 / 480 = 6.25
    assert large >= 0.015 * 3000  # about 1/50 of the height, not 12 px


def test_focus_map_scale_options(cli: CliRun, tmp_path: Path, sample: Any) -> None:
    source = tmp_path / "cam.png"
    cv2.imwrite(str(source), sample("camera.png"))
    assert cli("focus-map", source, "-o", tmp_path / "a.png").exit_code == 0
    narrow = cli("focus-map", source, "-o", tmp_path / "b.png", "--vmin", "100", "--vmax", "200")
    assert narrow.exit_code == 0, narrow.stderr
    wide, tight = cv2.imread(str(tmp_path / "a.png")), cv2.imread(str(tmp_path / "b.png"))
    assert not np.array_equal(wide, tight)
    cividis = cli("focus-map", source, "-o", tmp_path / "c.png", "--colormap", "cividis")
    assert cividis.exit_code == 0
    bad = cli("focus-map", source, "-o", tmp_path / "d.png", "--vmin", "300", "--vmax", "200")
    assert bad.exit_code == 2
    assert "vmin must be below vmax" in bad.stderr
    assert not (tmp_path / "d.png").exists()
    log = cli("focus-map", source, "-o", tmp_path / "e.png", "--vmin", "0")
    assert log.exit_code == 2
    assert "log scale" in log.stderr


# --- the page --------------------------------------------------------------------


def test_blur_score_report_lists_every_image_sharpest_first(cli: CliRun, photos: Path) -> None:
    page = photos.parent / "out" / "run.html"
    result = cli("blur-score", photos, "--threshold", "300", "--report", page, "--format", "json")
    assert result.exit_code == 3, result.stderr  # the broken file fails, the rest is scored
    assert f"wrote {page}" in result.stderr
    records = {r["path"]: r for r in json.loads(result.stdout)}
    parsed = parse(page)
    cards = parsed.cards()
    scored = {p: r for p, r in records.items() if r["error"] is None}
    assert len(cards) == len(scored) == 6
    assert [c["data-path"] for c in cards] == sorted(scored, key=lambda p: -scored[p]["score"])
    for card in cards:
        record = scored[card["data-path"]]
        assert float(card["data-score"]) == record["score"]
        assert card["data-blurry"] == ("true" if record["blurry"] else "false")
    assert (
        sum(c["data-blurry"] == "true" for c in cards)
        == sum(r["blurry"] for r in scored.values())
        > 0
    )
    failures = parsed.having("data-error")
    assert [f["data-path"] for f in failures] == [str(photos / "broken.png")]
    assert "not a recognised image format" in failures[0]["data-error"]
    counts = next(a for a in parsed.having("id") if a["id"] == "counts")
    assert (counts["data-scored"], counts["data-failed"]) == ("6", "1")
    assert counts["data-blurry"] == str(sum(c["data-blurry"] == "true" for c in cards))
    assert any("histogram" in a.get("id", "") + a.get("class", "") for _, a in parsed.elements)
    assert "--threshold 300" in parsed.text["command"]
    assert "--report" in parsed.text["command"]
    # Each card's thumbnail is in the sibling folder, named after the page's stem.
    folder = assets_folder(page)
    assert folder == page.parent / "run_files"
    sources = [a["src"] for t, a in parsed.elements if t == "img" and "loading" in a]
    assert len(sources) == 6
    assert all(s.startswith("run_files/t/") for s in sources)
    assert all((page.parent / s).is_file() for s in sources)


def test_names_are_escaped_and_nothing_comes_from_outside(cli: CliRun, photos: Path) -> None:
    page = photos.parent / "r.html"
    assert cli("blur-score", photos, "--report", page, "--report-maps").exit_code == 3
    text = page.read_text(encoding="utf-8")
    assert HOSTILE not in text
    assert "<b>&" not in text
    parsed = parse(page)
    hostile = [a for a in parsed.having("data-path") if a["data-path"].endswith(".jpg")]
    assert hostile
    assert hostile[0]["data-path"] == str(photos / HOSTILE)  # escaped, not lost
    for tag, attrs in parsed.elements:
        for name in ("src", "href", "action", "poster", "data"):
            value = attrs.get(name, "")
            assert "//" not in value
            assert not value.startswith(("http", "ftp")), (tag, attrs)
    assert "@import" not in text
    assert "url(" not in text
    assert "fetch(" not in text
    policy = next(a["content"] for t, a in parsed.elements if a.get("http-equiv"))
    assert "default-src 'none'" in policy
    assert "http" not in policy
    maps = [a["data-map"] for a in parsed.having("data-map")]
    assert len(maps) == 6
    assert all((page.parent / m).is_file() for m in maps)
    assert (assets_folder(page) / "legend.png").is_file()


def test_the_report_weighs_under_20_kb_per_image(
    cli: CliRun, samples_dir: Path, tmp_path: Path
) -> None:
    page = tmp_path / "samples.html"
    assert cli("blur-score", samples_dir, "--report", page, "--report-maps").exit_code == 0
    images = len(parse(page).cards())
    weight = page.stat().st_size + sum(
        p.stat().st_size for p in assets_folder(page).rglob("*") if p.is_file()
    )
    assert images >= 10
    assert weight / images < 20_000, weight / images


def test_a_streamed_run_writes_the_same_records_and_a_report(cli: CliRun, photos: Path) -> None:
    plain = cli("blur-score", photos, "--format", "jsonl")
    page = photos.parent / "s.html"
    reported = cli("blur-score", photos, "--format", "jsonl", "--report", page)
    assert reported.stdout == plain.stdout
    assert reported.exit_code == plain.exit_code == 3
    assert len(parse(page).cards()) == 6


def test_the_percentile_cut_is_marked_on_the_histogram(cli: CliRun, photos: Path) -> None:
    page = photos.parent / "p.html"
    result = cli("blur-score", photos, "--percentile", "50", "--report", page, "--format", "json")
    scores = sorted(r["score"] for r in json.loads(result.stdout) if r["score"] is not None)
    cut = next(a for a in parse(page).having("id") if a["id"] == "histogram-cut")
    assert float(cut["data-score"]) == pytest.approx(float(np.percentile(scores, 50)))
    assert "--percentile 50" in page.read_text(encoding="utf-8")


def test_report_usage_errors(cli: CliRun, photos: Path) -> None:
    page = photos.parent / "x.html"
    maps_alone = cli("blur-score", photos, "--report-maps")
    assert maps_alone.exit_code == 2
    assert "--report-maps needs --report" in maps_alone.stderr
    wrong = cli("blur-score", photos, "--report", photos.parent / "x.txt")
    assert wrong.exit_code == 2
    assert "must end in .html" in wrong.stderr
    log = photos.parent / "log.jsonl"
    resumed = cli("blur-score", photos, "-o", log, "--resume", "--report", page)
    assert resumed.exit_code == 2
    assert "--resume" in resumed.stderr
    assert cli("blur-score", photos, "--report", page).exit_code == 3
    again = cli("blur-score", photos, "--report", page)
    assert again.exit_code == 2
    assert "pass --overwrite" in again.stderr
    assert cli("blur-score", photos, "--report", page, "--overwrite").exit_code == 3


def test_a_report_inside_a_walked_folder_is_never_taken_for_input(
    cli: CliRun, photos: Path
) -> None:
    page = photos / "inside.html"
    first = cli("blur-score", photos, "--report", page, "--format", "json")
    second = cli("blur-score", photos, "--report", page, "--overwrite", "--format", "json")
    assert len(json.loads(second.stdout)) == len(json.loads(first.stdout)) == 7


def test_the_gallery_keeps_no_picture_of_a_record(tmp_path: Path) -> None:
    gallery = Gallery(tmp_path / "g.html", method="lapv", overwrite=False, maps=True)
    picture = b"\xff\xd8" + bytes(5000)
    record = Record(Path("a.png"), FileScore(1.0, 10, 10, None, picture, b"\x89PNG"), None)
    kept = gallery.take(record)
    assert kept.result is not None
    assert (kept.result.thumbnail, kept.result.focus_map) == (None, None)
    assert (tmp_path / "g_files" / "t" / "000000.jpg").read_bytes() == picture
    assert (tmp_path / "g_files" / "m" / "000000.png").read_bytes() == b"\x89PNG"


def test_html_report_refuses_an_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "r_files").mkdir()
    with pytest.raises(OutputExistsError, match="r_files"):
        HtmlReport(tmp_path / "r.html", method="lapv")
    report = HtmlReport(tmp_path / "r.html", method="blur-effect", overwrite=True)
    image = ReportImage("a/b.png", 0.25, 40, 30, False, None, None, False, 0)
    run = ReportRun("edgegrad blur-score a", "blur-effect", datetime.now().astimezone(), 0.5)
    page = report.write(run, [image], [])
    assert 'data-score="0.25"' in page.read_text(encoding="utf-8")
    assert "no thumbnail" in page.read_text(encoding="utf-8")


def test_command_line_is_the_one_given(cli: CliRun, photos: Path) -> None:
    page = photos.parent / "c.html"
    cli("blur-score", photos, "-m", "teng", "--roi", "0,0,64,64", "--no-recursive",
        "--include", "*.png", "--include", "*.jpg", "--report", page)  # fmt: skip
    command = parse(page).text["command"]
    assert command == (
        f"edgegrad blur-score {photos} --method teng --roi 0,0,64,64 --report {page} "
        "--no-recursive --include '*.png' --include '*.jpg'"
    )
