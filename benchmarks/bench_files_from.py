"""The client's memory with ``blur-score --files-from`` on 100,000 inputs.

Run from the repository root::

    python benchmarks/bench_files_from.py                   # 100,000 and 1,000 inputs
    python benchmarks/bench_files_from.py --count 100000 --small 1000 --jobs 2

It makes a folder of ``--count`` hard links to one small photo, a 128×128
crop of ``sample_images/camera.png`` (a fresh copy every 50,000 links): the
work per image is small, so the client's own bookkeeping per input is what
shows. A list names each link once. Then, as fresh processes on the local process pool, it runs::

    edgegrad blur-score --files-from LIST -o OUT.jsonl --jobs N

with the whole list and with its first ``--small`` lines (the baseline),
polling the ``edgegrad`` process's own peak resident memory (``VmHWM``, its
workers not included) until it ends. It prints both peaks, their
difference per input and the wall times. The issue's target: under 300 MiB
for the client with 100,000 inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import cv2
from bench_blur_score import POLL_SECONDS, cpu_model, edgegrad_command, status_kib

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
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, status_kib(process.pid)[1])
        time.sleep(POLL_SECONDS)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise click.ClickException(f"{' '.join(command)} exited {process.returncode}: {stderr}")
    with output.open("rb") as file:
        written = sum(1 for _ in file)
    return peak / 1024, wall, written


@click.command()
@click.option("--count", default=100_000, show_default=True, help="Inputs in the big list.")
@click.option("--small", default=1_000, show_default=True, help="Inputs in the baseline list.")
@click.option("--jobs", default=2, show_default=True, help="Worker processes.")
def main(count: int, small: int, jobs: int) -> None:
    """Measure the client's peak memory with COUNT inputs from --files-from."""
    with tempfile.TemporaryDirectory(prefix="edgegrad-files-from-") as scratch:
        folder = Path(scratch)
        listing = make_inputs(folder, count)
        head = folder / "head.txt"
        with listing.open() as file:
            head.write_text("".join(line for _, line in zip(range(small), file, strict=False)))
        small_peak, small_wall, small_rows = peak_of_run(head, folder / "small.jsonl", jobs)
        big_peak, big_wall, big_rows = peak_of_run(listing, folder / "big.jsonl", jobs)
    assert (small_rows, big_rows) == (small, count), (small_rows, big_rows)
    per_input = (big_peak - small_peak) * 1024 * 1024 / (count - small)
    verdict = "meets" if big_peak < TARGET_MIB else "misses"
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'inputs':>8}  {'client peak MiB':>15}  {'wall s':>7}  {'inputs/s':>8}")
    for n, peak, wall in ((small, small_peak, small_wall), (count, big_peak, big_wall)):
        print(f"{n:>8,}  {peak:>15.1f}  {wall:>7.1f}  {n / wall:>8.0f}")
    print(f"growth: {per_input:.0f} bytes per input; {count:,} inputs vs {small:,}: ", end="")
    print(f"{big_peak / small_peak:.2f}x the peak")
    print(f"target: client under {TARGET_MIB:.0f} MiB with {count:,} inputs: {verdict} it")


if __name__ == "__main__":
    main()
