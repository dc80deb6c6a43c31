"""Time and peak memory of batch runs over the hostile-input corpus.

Run from the repository root (needs the ``test`` extra, for Pillow)::

    python benchmarks/bench_io.py

It builds the corpus that ``tests/test_io.py`` uses (empty, text, truncated
and corrupt files, a 30000×30000 PNG bomb, symlink loops, 16-bit, CMYK, EXIF,
...) in a temporary folder, then runs, each in a fresh process so that peak
RSS is its own:

* ``naive cv2.imread``: the baseline, a loop of ``cv2.imread`` over the same
  files, skipping ``None`` (what most scripts do);
* ``edgegrad blur-score -j 1`` and ``edgegrad sobel -j 1`` over the corpus;
* ``read_image(bomb)`` alone.

It prints wall time and peak RSS, and their ratios to the baseline, and checks
that the corpus is byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile import build_corpus  # noqa: E402

NAIVE = """
import os, sys, cv2
for folder, _, names in os.walk(sys.argv[1]):
    for name in sorted(names):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            image = cv2.imread(path)
"""
BOMB = """
import sys
from edgegrad.io import read_image
try:
    read_image(sys.argv[1])
except Exception as error:
    print(type(error).__name__)
"""
MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
seconds = time.perf_counter() - start
print(code, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measure(command: list[str]) -> tuple[int, float, float]:
    """Run ``command`` in a fresh process; return (exit code, seconds, peak RSS MiB)."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]) / 1024


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@click.command()
def main() -> None:
    """Print time and peak memory of batch runs over the hostile corpus."""
    with tempfile.TemporaryDirectory() as scratch:
        corpus = build_corpus(Path(scratch) / "corpus")
        before = tree_digest(corpus)
        edgegrad = [sys.executable, "-m", "edgegrad"]
        runs = {
            "naive cv2.imread loop (baseline)": [sys.executable, "-c", NAIVE, str(corpus)],
            "edgegrad blur-score -j 1": [*edgegrad, "blur-score", str(corpus), "-j", "1"],
            "edgegrad sobel -j 1": [
                *edgegrad,
                "sobel",
                str(corpus),
                "-o",
                str(Path(scratch) / "out"),
                "-j",
                "1",
            ],
            "read_image(bomb) alone": [sys.executable, "-c", BOMB, str(corpus / "bomb.png")],
        }
        click.echo(f"corpus: {sum(1 for p in corpus.rglob('*') if p.is_file())} files")
        click.echo(f"{'run':36} {'exit':>4} {'seconds':>8} {'peak MiB':>9} {'time':>7} {'mem':>7}")
        base: tuple[float, float] | None = None
        started = time.perf_counter()
        for name, command in runs.items():
            code, seconds, peak = measure(command)
            base = base or (seconds, peak)
            click.echo(
                f"{name:36} {code:4d} {seconds:8.3f} {peak:9.1f} "
                f"{seconds / base[0]:6.3f}x {peak / base[1]:6.3f}x"
            )
        click.echo(f"total {time.perf_counter() - started:.1f} s")
        click.echo(f"corpus unchanged: {tree_digest(corpus) == before}")


if __name__ == "__main__":
    main()
