"""Take the README's screenshots of ``blur-score --report``, made from ``sample_images/``.

Run from anywhere (needs the ``test`` extra, for Playwright, and Chromium:
``apt-get install chromium``)::

    python scripts/make_report_screenshot.py              # docs/report.png, docs/report-map.png
    python scripts/make_report_screenshot.py -o /tmp/shots

It runs ``edgegrad blur-score sample_images --threshold 100 --report-maps
--report out/sample_images.html`` from the repository's root (so the page's
header shows that command line; the page is removed afterwards), opens the
page in headless Chromium at 1280 px wide and saves the whole page as
``report.png``; then it clicks the first blurry image and saves the window
with its focus map as ``report-map.png``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from pathlib import Path

import click

from edgegrad.io import write_bytes
from edgegrad.report import assets_folder

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ["blur-score", "sample_images", "--threshold", "100", "--report-maps"]


def _edgegrad() -> list[str]:
    script = Path(sys.executable).parent / "edgegrad"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "edgegrad"]


@click.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=ROOT / "docs",
    show_default=True,
    help="Folder for report.png and report-map.png.",
)
def main(output: Path) -> None:
    """Write the report's screenshots."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise click.ClickException("needs Playwright: pip install '.[test]'") from None
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise click.ClickException("needs Chromium: apt-get install chromium")
    made_out = not (ROOT / "out").exists()
    page_path = ROOT / "out" / "sample_images.html"
    run = subprocess.run(
        [*_edgegrad(), *COMMAND, "--report", str(page_path.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise click.ClickException(f"blur-score exited {run.returncode}: {run.stderr}")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            # Lazy thumbnails below the first screen load once scrolled to.
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_timeout(300)
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            whole = page.screenshot(full_page=True)
            page.click('#grid .card[data-blurry="true"]')
            page.wait_for_timeout(400)
            viewer = page.screenshot()
            browser.close()
    finally:
        page_path.unlink(missing_ok=True)
        shutil.rmtree(assets_folder(page_path), ignore_errors=True)
        if made_out:
            with contextlib.suppress(OSError):
                (ROOT / "out").rmdir()
    for name, data in (("report.png", whole), ("report-map.png", viewer)):
        click.echo(f"wrote {write_bytes(output / name, data, overwrite=True)}")


if __name__ == "__main__":
    main()
