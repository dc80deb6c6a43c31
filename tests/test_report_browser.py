"""``blur-score --report`` in a real browser: headless Chromium driven by Playwright.

Every test here is marked ``browser``. Playwright drives the system's
Chromium (``/usr/bin/chromium`` from the distribution's package, or
``$EDGEGRAD_CHROMIUM``); it downloads no browser of its own. Where Playwright
is missing or Chromium cannot be started, the tests are skipped with the
reason, which ``pytest -ra`` lists; ``-m "not browser"`` leaves them out.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from conftest import CliRun

from edgegrad.report import assets_folder

pytestmark = pytest.mark.browser

HOSTILE = "<b>&\"x'.jpg"
#: The issue's target: a report of 3,000 images loads in under 10 s on the CI machine.
LOAD_SECONDS = 10.0
#: ... and weighs under 60 MB.
WEIGHT_BYTES = 60_000_000


def chromium_path() -> str | None:
    """The Chromium to drive: ``$EDGEGRAD_CHROMIUM``, else the first one on ``PATH``."""
    named = os.environ.get("EDGEGRAD_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium, or a skip that says why there is none."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need Playwright: pip install '.[test]'")
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "browser tests need Chromium: apt-get install chromium (or set EDGEGRAD_CHROMIUM)"
        )
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable)
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            pytest.skip(f"Chromium at {executable} cannot be started: {first}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page whose every request is recorded in ``page.requests``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    opened.on("request", lambda request: requests.append(request.url))
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    opened.requests = requests
    opened.errors = errors
    yield opened
    context.close()


def blurred(image: npt.NDArray[np.uint8], sigma: float) -> npt.NDArray[np.uint8]:
    if sigma == 0:
        return image.copy()
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), np.uint8)


@pytest.fixture
def photos(tmp_path: Path, sample: Callable[..., npt.NDArray[Any]]) -> Path:
    """Six shots of one scene blurred more and more, one with a hostile name, and a broken file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    names = ["a.png", "c.png", "b.png", "e.png", "d.png", HOSTILE]
    base = sample("astronaut.jpg")
    for name, sigma in zip(names, (0, 0.6, 1.2, 2.0, 3.5, 0.3), strict=True):
        data = cv2.imencode(".png" if name.endswith(".png") else ".jpg", blurred(base, sigma))[1]
        (folder / name).write_bytes(data.tobytes())
    (folder / "broken.png").write_text("not an image", encoding="utf-8")
    return folder


@pytest.fixture
def report(cli: CliRun, photos: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The report of ``photos`` with focus maps and a 50 % cut, and the run's JSON records."""
    page_path = photos.parent / "report.html"
    result = cli(
        "blur-score", photos, "--percentile", "50", "--report", page_path, "--report-maps",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 3, result.stderr
    return page_path, json.loads(result.stdout)


def wait_until(page: Any, condition: str, timeout: float = 30.0) -> None:
    """Poll a JavaScript expression (or ``() => ...`` function) in the page until it is true.

    Not ``page.wait_for_function``, which evaluates its predicate with
    ``eval``: the report's Content-Security-Policy forbids that, as it should.
    """
    function = condition if condition.lstrip().startswith("()") else f"() => ({condition})"
    deadline = time.monotonic() + timeout
    while not page.evaluate(function):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:g} s: {condition}")
        time.sleep(0.02)


def open_report(page: Any, path: Path, fragment: str = "") -> None:
    page.goto(path.as_uri() + fragment)
    wait_until(page, "document.getElementById('shown').textContent !== ''")


CARDS = """() => Array.from(document.querySelectorAll('#grid .card')).map(card => ({
    path: card.dataset.path, score: Number(card.dataset.score), blurry: card.dataset.blurry,
    name: card.querySelector('.name').textContent, visible: !card.hidden,
}))"""


def test_the_dom_holds_every_image_in_order_with_its_attributes(
    page: Any, report: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, records = report
    open_report(page, path)
    cards = page.evaluate(CARDS)
    scored = [r for r in records if r["error"] is None]
    assert [c["path"] for c in cards] == [r["path"] for r in scored]  # JSON: sharpest first
    assert [c["score"] for c in cards] == [r["score"] for r in scored]
    assert [c["blurry"] for c in cards] == [str(r["blurry"]).lower() for r in scored]
    assert all(c["visible"] for c in cards)
    counts = page.eval_on_selector("#counts", "e => [e.dataset.scored, e.dataset.failed]")
    assert counts == ["6", "1"]
    assert page.text_content("#shown") == "6 of 6 images"
    failures = page.eval_on_selector_all("[data-error]", "es => es.map(e => e.dataset.path)")
    assert failures == [r["path"] for r in records if r["error"] is not None]
    assert page.locator("#histogram").count() == 1
    assert page.locator("#histogram rect.bar").count() >= 2
    # The hostile name is shown literally and made no element of its own.
    hostile = next(c for c in cards if c["path"].endswith(".jpg"))
    assert hostile["name"] == HOSTILE
    assert page.locator("figcaption b").count() == 0
    assert page.errors == []


def test_filters_sorting_and_the_address(
    page: Any, report: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, records = report
    open_report(page, path)
    page.click("[data-filter=blurry]")
    visible = [c["path"] for c in page.evaluate(CARDS) if c["visible"]]
    blurry = [r["path"] for r in records if r["blurry"]]
    assert visible == blurry
    assert 0 < len(blurry) < 6
    assert page.text_content("#shown") == f"{len(blurry)} of 6 images"
    assert page.is_hidden("#failures")
    page.click("[data-filter=failed]")
    assert page.is_hidden("#grid")
    assert page.is_visible("#failures [data-error]")
    page.click("[data-filter=all]")
    page.select_option("#sort", "name")
    by_name = [c["path"] for c in page.evaluate(CARDS)]
    assert by_name == sorted(r["path"] for r in records if r["error"] is None)
    assert page.evaluate("location.hash") == "#filter=all&sort=name"
    # The address holds the state: a link opens the report as it was left.
    open_report(page, path, "#filter=blurry&sort=name")
    visible = [c["path"] for c in page.evaluate(CARDS) if c["visible"]]
    assert visible == sorted(blurry)


def test_nothing_is_fetched_from_outside(
    page: Any, report: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, _ = report
    violations: list[str] = []
    outside: list[str] = []
    blocked: dict[str, str | None] = {}

    def only_files(route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_files)
    page.on("requestfailed", lambda request: blocked.update({request.url: request.failure}))
    open_report(page, path)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.click("#grid .card")
    wait_until(page, "document.getElementById('viewer-map').complete")
    folder = path.parent.as_uri()
    assert page.requests
    assert all(url.startswith(folder) for url in page.requests), page.requests
    # The page's policy refuses other sources, whatever ends up in it.
    page.expose_function("violated", lambda url: violations.append(url))
    page.evaluate(
        """() => new Promise(done => {
            document.addEventListener('securitypolicyviolation',
                e => { window.violated(e.blockedURI); done(); });
            setTimeout(done, 3000);  // no violation: the assertion below fails
            const img = document.createElement('img');
            img.src = 'https://example.invalid/tracker.png';
            document.body.appendChild(img);
        })"""
    )
    assert violations == ["https://example.invalid/tracker.png"]
    page.wait_for_timeout(200)
    assert outside == []  # refused by the page itself, before any network
    failure = blocked.get("https://example.invalid/tracker.png")
    assert failure is None or "csp" in failure.lower(), failure


def test_a_screenshot_shows_the_thumbnails(
    page: Any, report: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    path, _ = report
    open_report(page, path)
    first = page.locator("#grid .card img").first
    first.scroll_into_view_if_needed()
    wait_until(
        page,
        "Array.from(document.querySelectorAll('#grid .card img'))"
        ".every(img => img.complete && img.naturalWidth > 0)",
    )
    shot = tmp_path / "shot.png"
    page.screenshot(path=str(shot))
    picture = cv2.imread(str(shot))
    assert picture.shape[:2] == (900, 1280)
    assert float(picture.std()) > 20
    box = first.bounding_box()
    thumb = picture[
        round(box["y"]) : round(box["y"] + box["height"]),
        round(box["x"]) : round(box["x"] + box["width"]),
    ]
    assert thumb.size > 0
    assert float(thumb.std()) > 15  # a photo, not a blank box
    blue_red = np.abs(thumb[..., 0].astype(int) - thumb[..., 2]).max()
    assert blue_red <= 2  # gray thumbnails


def test_a_click_shows_the_focus_map_on_the_fixed_scale(
    page: Any, report: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, records = report
    open_report(page, path)
    page.click("#grid .card >> nth=0")
    assert page.is_visible("#viewer")
    wait_until(
        page,
        "['viewer-photo', 'viewer-map', 'viewer-legend'].every(id => "
        "document.getElementById(id).complete && document.getElementById(id).naturalWidth > 0)",
    )
    sizes = page.evaluate(
        "['viewer-photo', 'viewer-map'].map(id => document.getElementById(id).naturalWidth)"
    )
    assert sizes[0] == sizes[1] > 0
    assert page.text_content("#viewer-name") == records[0]["path"]
    page.keyboard.press("ArrowRight")
    assert page.text_content("#viewer-name") == records[1]["path"]
    page.uncheck("#viewer-toggle")
    assert page.is_hidden("#viewer-map")
    page.keyboard.press("Escape")
    assert page.is_hidden("#viewer")


@pytest.mark.slow
def test_a_report_of_3000_images_loads_in_time(
    browser: Any, cli: CliRun, tmp_path: Path, sample: Callable[..., npt.NDArray[Any]]
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(3)
    photo = sample("coffee.png")
    for index in range(3000):
        y, x = rng.integers(0, 100), rng.integers(0, 150)
        crop = blurred(photo[y : y + 240, x : x + 320], float(rng.choice([0, 0, 1, 3])))
        cv2.imwrite(str(folder / f"img_{index:04d}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    page_path = tmp_path / "many.html"
    result = cli("blur-score", folder, "--threshold", "200", "--report", page_path)
    assert result.exit_code == 0, result.stderr
    weight = page_path.stat().st_size + sum(
        p.stat().st_size for p in assets_folder(page_path).rglob("*") if p.is_file()
    )
    assert weight < WEIGHT_BYTES
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    started = time.perf_counter()
    tab.goto(page_path.as_uri())
    wait_until(tab, "document.getElementById('shown').textContent === '3000 of 3000 images'")
    # The cards on screen, found by the cards' own boxes: asking for a thumbnail's box
    # would lay out every off-screen card that content-visibility lets the page skip.
    wait_until(
        tab,
        """() => Array.from(document.querySelectorAll('#grid .card')).filter(card => {
            const r = card.getBoundingClientRect();
            return r.bottom > 0 && r.top < innerHeight;
        }).map(card => card.querySelector('img'))
          .every(img => img.complete && img.naturalWidth > 0)""",
    )
    seconds = time.perf_counter() - started
    assert seconds < LOAD_SECONDS
    # Thumbnails are lazy: far fewer than 3,000 were fetched to show the first screen.
    loaded = tab.evaluate(
        "Array.from(document.querySelectorAll('#grid .card img')).filter(i => i.complete "
        "&& i.naturalWidth > 0).length"
    )
    assert loaded < 1000
    tab.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    wait_until(
        tab,
        "() => { const imgs = document.querySelectorAll('#grid .card img'); "
        "const last = imgs[imgs.length - 1]; return last.complete && last.naturalWidth > 0; }",
    )
    tab.select_option("#sort", "name")
    assert tab.evaluate("document.querySelector('#grid .card').dataset.path").endswith(
        "img_0000.jpg"
    )
    context.close()
