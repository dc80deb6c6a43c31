"""What ``blur-score --report`` costs, and how its page loads in headless Chromium.

Run from the repository root (needs the ``test`` extra, for Playwright, and
Chromium: ``apt-get install chromium``)::

    python benchmarks/bench_report.py                  # 2,000 images, 3 rounds
    python benchmarks/bench_report.py --rounds 5 --count 2000 --page-count 3000

It uses ``make_corpus.py``'s default corpus (50 × 12 MP and 150 × 2 MP
photo-like JPEGs, in ``benchmarks/.corpus/default``) and folders of real
copies of its 2 MP files and every tenth 12 MP file (``bench_blur_score.py``'s
``scale-N`` folders, cached in ``benchmarks/.corpus``).

1. **Wall time.** Each round runs, as fresh processes and in an order
   rotated by one each round, ``edgegrad blur-score FOLDER --percentile 10
   --format jsonl -o FILE`` alone (the baseline), with ``--report PAGE``, and
   with ``--report PAGE --report-maps``, on ``--count`` images. The report is
   the median wall time of each and its ratio to the baseline's; the issue's
   target is ``--report`` at most 1.30 times the baseline.
2. **The parent's memory.** One more untimed run of each, polling the
   ``edgegrad`` process's own peak (``VmHWM``, every 10 ms), at ``--count``
   images and at a tenth of them: with thumbnails streamed to the report's
   folder as records arrive, the parent's peak must not grow with the run.
3. **The page.** The report (with maps) of ``--page-count`` images is opened
   ``--loads`` times in headless Chromium, each time in a fresh browser
   context; the time is from the start of navigation until the page's
   script has run and every thumbnail on the first screen (1280 × 900) is
   decoded. Targets: under 10 s, and under 60 MB for the page and its folder
   (about 20 KB per image).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
from bench_blur_score import (
    CACHE,
    Pipeline,
    cpu_model,
    edgegrad_command,
    own_peak,
    scale_folder,
    verdict,
)
from make_corpus import describe, make_corpus

RATIO_TARGET = 1.30
LOAD_TARGET_SECONDS = 10.0
WEIGHT_TARGET_BYTES = 60_000_000
PER_IMAGE_TARGET_BYTES = 20_000
GROWTH_SLACK = 1.25  # "bounded": the parent's peak at N images within 25 % of that at N/10
FIRST_SCREEN = """() => Array.from(document.querySelectorAll('#grid .card')).filter(card => {
    const r = card.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight;
}).map(card => card.querySelector('img')).every(img => img.complete && img.naturalWidth > 0)"""
SCRIPT_RAN = "() => document.getElementById('shown').textContent !== ''"


@dataclass(frozen=True)
class Variant:
    """One way of running blur-score: its name and the options it adds."""

    name: str
    options: tuple[str, ...]


def sources(corpus: Path) -> list[Path]:
    """The corpus's 2 MP files with every tenth 12 MP file, one every ten files.

    The same mix as ``bench_blur_score.scale_sources``, told apart by the names
    ``make_corpus.py`` gives.
    """
    small = sorted(corpus.glob("small_*.jpg"))
    large = sorted(corpus.glob("large_*.jpg"))
    mixed = list(small)
    for position, path in enumerate(large[::10]):
        mixed.insert(position * 10, path)
    return mixed


def command(folder: Path, work: Path, variant: Variant) -> Pipeline:
    output = work / f"{variant.name}.jsonl"
    page = work / f"{variant.name}.html"
    options = [part if part != "PAGE" else str(page) for part in variant.options]
    return Pipeline(
        variant.name,
        [
            *edgegrad_command(),
            "blur-score",
            str(folder),
            "--percentile",
            "10",
            "--format",
            "jsonl",
            "-o",
            str(output),
            "--overwrite",
            *options,
        ],
        output,
    )


def timed(pipeline: Pipeline) -> float:
    start = time.perf_counter()
    done = subprocess.run(pipeline.command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise click.ClickException(
            f"{pipeline.name} exited {done.returncode}: {done.stderr[-2000:]}"
        )
    return seconds


def parent_peak_mib(pipeline: Pipeline) -> float:
    """The peak resident memory of the command's own process (not its workers), in MiB."""
    return own_peak(pipeline.command)[0]


def weight(page: Path) -> tuple[int, int]:
    """Bytes of the page with its folder, and how many images it shows."""
    folder = page.with_name(f"{page.stem}_files")
    total = page.stat().st_size + sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return total, page.read_text(encoding="utf-8").count('<figure class="card"')


def load_times(page: Path, loads: int) -> list[float]:
    """Seconds to a usable first screen, one fresh browser context each time."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise click.ClickException("needs Playwright: pip install '.[test]'") from None
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise click.ClickException("needs Chromium: apt-get install chromium")
    seconds = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            tab = context.new_page()
            start = time.perf_counter()
            tab.goto(page.as_uri())
            for condition in (SCRIPT_RAN, FIRST_SCREEN):
                while not tab.evaluate(condition):
                    time.sleep(0.01)
            seconds.append(time.perf_counter() - start)
            context.close()
        browser.close()
    return seconds


def median(values: list[float]) -> float:
    return statistics.median(values)


@click.command()
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--count", default=2000, show_default=True, type=click.IntRange(min=20))
@click.option("--page-count", default=3000, show_default=True, type=click.IntRange(min=1))
@click.option("--loads", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--memory/--no-memory", default=True, show_default=True)
def main(rounds: int, count: int, page_count: int, loads: int, memory: bool) -> None:
    """Time blur-score with and without --report, and load its page in Chromium."""
    summary = make_corpus(CACHE / "default")
    click.echo(describe(summary), err=True)
    mixed = sources(CACHE / "default")
    folder, _ = scale_folder(mixed, count)
    variants = [
        Variant("baseline", ()),
        Variant("report", ("--report", "PAGE")),
        Variant("report-maps", ("--report", "PAGE", "--report-maps")),
    ]
    lines = [
        f"machine: {cpu_model()}, Python {sys.version.split()[0]}",
        f"{count} images in {folder} ({len(mixed)} distinct files: 2 MP, one 12 MP in ten)",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-report-") as temporary:
        work = Path(temporary)
        pipelines = [command(folder, work, variant) for variant in variants]
        samples: dict[str, list[float]] = {p.name: [] for p in pipelines}
        for index in range(rounds):
            shift = index % len(pipelines)
            for pipeline in pipelines[shift:] + pipelines[:shift]:
                samples[pipeline.name].append(timed(pipeline))
            click.echo(f"round {index + 1}/{rounds} done", err=True)
        base = median(samples["baseline"])
        lines.append(f"\n| run ({rounds} rounds) | median s | min s | vs baseline |")
        lines.append("| --- | ---: | ---: | ---: |")
        for pipeline in pipelines:
            times = samples[pipeline.name]
            lines.append(
                f"| {pipeline.name} | {median(times):.2f} | {min(times):.2f} | "
                f"{median(times) / base:.2f}× |"
            )
        ratio = median(samples["report"]) / base
        # The ratio of the fastest runs is the least touched by other load on the machine.
        fastest = min(samples["report"]) / min(samples["baseline"])
        per_round = [r / b for r, b in zip(samples["report"], samples["baseline"], strict=True)]
        lines.append(
            f"- --report ≤ {RATIO_TARGET:.2f}× the baseline: {ratio:.2f}× "
            f"(fastest runs {fastest:.2f}×; per round {', '.join(f'{r:.2f}' for r in per_round)}) "
            f"{verdict(ratio <= RATIO_TARGET)}"
        )
        for name in ("report", "report-maps"):
            total, shown = weight(work / f"{name}.html")
            lines.append(
                f"- {name}: {shown} images, {total / 1e6:.1f} MB, {total / shown / 1e3:.1f} KB "
                f"per image (≤ {PER_IMAGE_TARGET_BYTES / 1e3:.0f} KB: "
                f"{verdict(total / shown <= PER_IMAGE_TARGET_BYTES)})"
            )
        if memory:
            small_folder, _ = scale_folder(mixed, count // 10)
            peaks: dict[str, float] = {}
            for pipeline in pipelines[:2]:
                peaks[pipeline.name] = parent_peak_mib(pipeline)
            small = command(small_folder, work, variants[1])
            peaks[f"report, {count // 10} images"] = parent_peak_mib(small)
            lines.append("\n| parent process peak (VmHWM) | MiB |")
            lines.append("| --- | ---: |")
            lines += [f"| {name} | {mib:.0f} |" for name, mib in peaks.items()]
            growth = peaks["report"] / peaks[f"report, {count // 10} images"]
            lines.append(
                f"- parent peak with --report, {count} vs {count // 10} images: {growth:.2f}× "
                f"(≤ {GROWTH_SLACK}×: {verdict(growth <= GROWTH_SLACK)}); "
                f"vs without --report: {peaks['report'] / peaks['baseline']:.2f}×"
            )
        page_folder, _ = scale_folder(mixed, page_count)
        page_run = command(page_folder, work, Variant(f"page-{page_count}", variants[2].options))
        timed(page_run)
        page = work / f"page-{page_count}.html"
        total, shown = weight(page)
        seconds = load_times(page, loads)
        lines.append(
            f"\n- report of {shown} images with maps: {total / 1e6:.1f} MB "
            f"(< {WEIGHT_TARGET_BYTES / 1e6:.0f} MB: {verdict(total < WEIGHT_TARGET_BYTES)}), "
            f"page alone {page.stat().st_size / 1e6:.1f} MB"
        )
        lines.append(
            f"- first screen in headless Chromium, {loads} loads: median {median(seconds):.2f} s, "
            f"max {max(seconds):.2f} s (< {LOAD_TARGET_SECONDS:.0f} s: "
            f"{verdict(max(seconds) < LOAD_TARGET_SECONDS)})"
        )
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
