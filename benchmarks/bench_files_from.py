"""The client's memory with ``blur-score --files-from`` on 100,000 and 1,000,000 inputs.

Run from the repository root::

    python benchmarks/bench_files_from.py        # 1,000, 100,000 and 1,000,000 inputs
    python benchmarks/bench_files_from.py --count 100000 --small 1000 --jobs 2

It makes a folder of hard links (as many as the largest ``--count``) to one
small photo, a 128×128 crop of ``sample_images/camera.png`` (a fresh copy
every 50,000 links): the work per image is small, so the client's own
bookkeeping per input is what shows. A list names each link once, under its
own name, since ``--files-from`` skips a line it has read before. Then, as
fresh processes on the local process pool, it runs::

    edgegrad blur-score --files-from LIST -o OUT.jsonl --jobs N

with the first ``--small`` lines of the list (the baseline) and then with the
first ``--count`` lines, for each count, polling the ``edgegrad`` process's
own peak resident memory (``VmHWM``, its workers not included) until it
ends. It prints the peaks, their growth per input over the baseline and the
wall times. The issue's targets: under 300 MiB for the client with 100,000
inputs, and a client whose memory does not grow with the inputs (a streamed
run keeps 8 bytes a listed name, to tell repeated lines).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import click
import cv2
from bench_blur_score import cpu_model, edgegrad_command, own_peak

TARGET_MIB = 300.0
LINKS_PER_FILE = 50_000
SAMPLE = Path(__file__).resolve().parent.parent / "sample_images" / "camera.png"


def make_inputs(folder: Path, count: int) -> Path:
    """``count`` hard links to one small PNG in ``folder``, and the list of them."""
    photo = cv2.imread(str(SAMPLE), cv2.IMREAD_GRAYSCALE)
    if photo is None:
        raise click.ClickException(f"cannot read {SAMPLE}")
    first = folder / "images" / "0.png"
    first.parent.mkdir(parents=True)
    cv2.imwrite(str(first), photo[192:320, 192:320])
    lines = [f"{first}\n"]
    source = first
    for i in range(1, count):
        link = first.with_name(f"{i}.png")
        if i % LINKS_PER_FILE == 0:  # a real copy: ext4 allows 65,000 links to a file
            shutil.copy(first, link)
            source = link
        else:
            os.link(source, link)
        lines.append(f"{link}\n")
    listing = folder / "list.txt"
    listing.write_text("".join(lines))
    return listing


def peak_of_run(listing: Path, output: Path, jobs: int) -> tuple[float, float, int]:
    """(client's peak MiB, wall seconds, records written) of one run."""
    command = [*edgegrad_command(), "blur-score", "--files-from", str(listing)]
    command += ["-o", str(output), "--overwrite", "--jobs", str(jobs)]
    peak, wall = own_peak(command)
    with output.open("rb") as file:
        written = sum(1 for _ in file)
    return peak, wall, written


def head_of(listing: Path, lines: int, target: Path) -> Path:
    """The first ``lines`` lines of ``listing``, written to ``target``."""
    with listing.open() as file:
        target.write_text("".join(line for _, line in zip(range(lines), file, strict=False)))
    return target


@click.command()
@click.option(
    "--count",
    "counts",
    multiple=True,
    type=click.IntRange(min=2),
    default=(100_000, 1_000_000),
    show_default=True,
    help="Inputs in a big list (repeatable).",
)
@click.option("--small", default=1_000, show_default=True, help="Inputs in the baseline list.")
@click.option("--jobs", default=2, show_default=True, help="Worker processes.")
def main(counts: tuple[int, ...], small: int, jobs: int) -> None:
    """Measure the client's peak memory with each COUNT inputs from --files-from."""
    runs: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="edgegrad-files-from-") as scratch:
        folder = Path(scratch)
        listing = make_inputs(folder, max(counts))
        for n in (small, *sorted(counts)):
            part = head_of(listing, n, folder / f"head-{n}.txt")
            peak, wall, rows = peak_of_run(part, folder / f"out-{n}.jsonl", jobs)
            assert rows == n, (rows, n)
            runs.append((n, peak, wall))
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'inputs':>10}  {'client peak MiB':>15}  {'wall s':>7}  {'inputs/s':>8}  growth")
    _, small_peak, _ = runs[0]
    for n, peak, wall in runs:
        growth = (peak - small_peak) * 1024 * 1024 / (n - small) if n > small else 0.0
        print(f"{n:>10,}  {peak:>15.1f}  {wall:>7.1f}  {n / wall:>8.0f}  {growth:.0f} B/input")
    hundred_k = [peak for n, peak, _ in runs if n == 100_000]
    if hundred_k:
        verdict = "meets" if hundred_k[0] < TARGET_MIB else "misses"
        print(f"target: client under {TARGET_MIB:.0f} MiB with 100,000 inputs: {verdict} it")


if __name__ == "__main__":
    main()
