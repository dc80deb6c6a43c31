"""Wall time and peak memory of ``edgegrad blur-score`` against baselines on a JPEG corpus.

Run from the repository root::

    python benchmarks/bench_blur_score.py                 # default corpus, 5 rounds
    python benchmarks/bench_blur_score.py --corpus DIR --rounds 3 --no-memory

Without ``--corpus`` it makes the default corpus of ``make_corpus.py`` (50 × 12 MP
and 150 × 2 MP photo-like JPEGs) in ``benchmarks/.corpus/default`` and reuses it
afterwards. A corpus is the ``*.jpg``/``*.jpeg`` files directly in the folder.

Each round runs every pipeline once as a fresh process, in an order rotated by
one each round, so that machine load affects all of them alike; the report is
the median and minimum wall time per pipeline:

* ``naive``: the tutorial recipe in one process, ``cv2.imread`` (colour),
  ``cv2.cvtColor`` to gray, ``cv2.Laplacian(…, CV_64F).var()`` per file;
* ``decode floor``: decoding alone, straight to gray, on one process per CPU
  (``blur_baselines.py``): no tool that scores every pixel can beat it;
* ``decode floor, reused buffers``: the same, each worker decoding into a
  buffer it keeps (``cv2.imread(path, buffer, flags)``), which spares the
  page faults of fresh memory, as edgegrad's workers do;
* ``reduced decode floor``: the same with ``IMREAD_REDUCED_GRAYSCALE_k``, the
  largest k of 2, 4, 8 that keeps at least the working size in pixels;
* ``edgegrad exact``: ``edgegrad blur-score CORPUS --format jsonl -o FILE``;
* ``edgegrad working size``: the same with ``--working-size N``.

Every edgegrad run must exit 0 with one error-free record per file; exact
scores are compared, outside the timed region, with
``cv2.Laplacian(cv2.imread(p, IMREAD_GRAYSCALE), CV_64F).var()``.

With ``--memory`` (the default) every pipeline runs once more, untimed, under
a fresh Python process that polls ``/proc`` every 10 ms for the peak of the sum
of VmRSS over the whole process tree (worker pools included; shared pages count
once per process) and the largest single process's peak (VmHWM, or
``RUSAGE_CHILDREN``'s ``ru_maxrss`` if higher). It then checks the issue's
"peak memory with default jobs ≤ 400 MiB for a folder of 2,000 images, the same
as for 20" on folders of 20 and 2,000 real copies (not links: edgegrad skips
duplicate inodes and symlinks) of the corpus's 2 MP files and every tenth 12 MP
file, cached in ``benchmarks/.corpus``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click
import cv2
import numpy as np
import numpy.typing as npt
from make_corpus import describe, make_corpus

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".corpus"
BASELINES = BENCH / "blur_baselines.py"
POLL_SECONDS = 0.01
TREE_TARGET_MIB = 400.0
SCALE_SLACK = 1.25  # "about the same": the 2,000-file peak within 25% of the 20-file one
SCALE_COUNTS = (20, 2000)
LARGE_PIXELS = 6_000_000
REDUCED = (
    (8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
    (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
    (2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
)
WATCH = f"""
import sys
sys.path.insert(0, {str(BENCH)!r})
from bench_blur_score import watch
watch(sys.argv[1:])
"""
NAIVE = "naive imread + cvtColor + Laplacian, 1 process"
FLOOR = "decode floor: gray imread, all cores"
REUSED_FLOOR = "decode floor, reused buffers"
REDUCED_FLOOR = "reduced decode floor: imread 1/k"
EXACT = "edgegrad exact"
WORKING = "edgegrad --working-size"


@dataclass(frozen=True)
class Reference:
    """Per file: decoded (height, width), and the recipe's score from gray and colour decodes."""

    shape: dict[Path, tuple[int, int]]
    gray: dict[Path, float]
    color: dict[Path, float]


@dataclass(frozen=True)
class Pipeline:
    """A command to time; ``output`` is the JSONL it writes, for edgegrad runs."""

    name: str
    command: list[str]
    output: Path | None = None


@dataclass(frozen=True)
class Memory:
    """Peak MiB of the sum of RSS over the process tree and of its largest process; wall time."""

    tree: float
    largest: float
    seconds: float


def imread(path: Path, flags: int) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise click.ClickException(f"cannot decode {path}")
    return np.asarray(image, dtype=np.uint8)


def laplacian_variance(gray: npt.NDArray[np.uint8]) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def reference(files: list[Path]) -> Reference:
    """Decode every file both ways and score it with the recipe (also warms the page cache)."""
    shape, gray, color = {}, {}, {}
    for path in files:
        image = imread(path, cv2.IMREAD_GRAYSCALE)
        shape[path] = (image.shape[0], image.shape[1])
        gray[path] = laplacian_variance(image)
        recipe = cv2.cvtColor(imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
        color[path] = laplacian_variance(np.asarray(recipe, dtype=np.uint8))
    return Reference(shape, gray, color)


def reduced_flag(shape: tuple[int, int], working_size: int) -> int:
    """The coarsest JPEG DCT scaling that still decodes to ``working_size`` pixels or more."""
    height, width = shape
    for k, flag in REDUCED:
        if -(-height // k) * -(-width // k) >= working_size:
            return flag
    return cv2.IMREAD_GRAYSCALE


def write_listing(path: Path, files: Iterable[Path], flags: dict[Path, int], ref: Reference) -> str:
    """Write ``[path, flags, height, width]`` per file, the shape that decode gives."""
    listing = []
    for file in files:
        height, width = ref.shape[file]
        k = next((k for k, flag in REDUCED if flag == flags[file]), 1)
        listing.append([str(file), flags[file], -(-height // k), -(-width // k)])
    path.write_text(json.dumps(listing))
    return str(path)


def edgegrad_command() -> list[str]:
    script = Path(sys.executable).parent / "edgegrad"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "edgegrad"]


def blur_score_command(folder: Path, output: Path, *options: str) -> list[str]:
    return [
        *edgegrad_command(),
        "blur-score",
        str(folder),
        "--format",
        "jsonl",
        "-o",
        str(output),
        *options,
    ]


def scores(output: Path, files: list[Path]) -> dict[Path, float]:
    """The scores in an edgegrad JSONL; fail unless it has one error-free record per file."""
    records = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    found = {Path(record["path"]).resolve(): record for record in records}
    failed = [str(path) for path, record in found.items() if record.get("error")]
    if failed or len(records) != len(files) or set(found) != set(files):
        raise click.ClickException(
            f"{output}: {len(records)} records for {len(files)} files, errors in {failed[:3]}"
        )
    return {path: float(record["score"]) for path, record in found.items()}


def run(pipeline: Pipeline) -> float:
    """Run ``pipeline`` once; return its wall time in seconds."""
    if pipeline.output is not None:
        pipeline.output.unlink(missing_ok=True)
    start = time.perf_counter()
    done = subprocess.run(pipeline.command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise click.ClickException(
            f"{pipeline.name} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return seconds


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_bytes()
            except OSError:
                continue
            parent = int(stat[stat.rindex(b")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    tree = [root]
    for pid in tree:
        tree.extend(children.get(pid, []))
    return tree


def status_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB; zeros once it has gone or is a zombie."""
    values = {"VmRSS:": 0, "VmHWM:": 0}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        key, _, rest = line.partition("\t")
        if key in values:
            values[key] = int(rest.split()[0])
    return values["VmRSS:"], values["VmHWM:"]


def watch(command: list[str]) -> None:
    """Run ``command``, polling its process tree; print exit code and peaks as JSON.

    Meant for a fresh interpreter (see ``WATCH``), so that ``RUSAGE_CHILDREN``
    holds this command alone.
    """
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree = largest = 0
    while process.poll() is None:
        sample = [status_kib(pid) for pid in descendants(process.pid)]
        tree = max(tree, sum(rss for rss, _ in sample))
        largest = max(largest, *(hwm for _, hwm in sample))
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - start
    largest = max(largest, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"code": process.returncode, "tree": tree, "largest": largest, "s": seconds}))


def measure_memory(pipeline: Pipeline) -> Memory:
    """Peak memory of one untimed run of ``pipeline``, watched from a fresh process."""
    if pipeline.output is not None:
        pipeline.output.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", WATCH, *pipeline.command], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    if result["code"] != 0:
        raise click.ClickException(f"{pipeline.name} exited {result['code']} under the watcher")
    return Memory(result["tree"] / 1024, result["largest"] / 1024, result["s"])


def scale_sources(files: list[Path], ref: Reference) -> list[Path]:
    """The small files plus every tenth large one, a large one every ten files."""
    mixed = [path for path in files if ref.shape[path][0] * ref.shape[path][1] < LARGE_PIXELS]
    large = [path for path in files if ref.shape[path][0] * ref.shape[path][1] >= LARGE_PIXELS]
    for position, path in enumerate(large[::10]):
        mixed.insert(position * 10, path)
    return mixed


def scale_folder(sources: list[Path], count: int) -> tuple[Path, list[Path]]:
    """A cached folder of ``count`` real copies cycling through ``sources``."""
    folder = CACHE / f"scale-{count}"
    manifest = CACHE / f"scale-{count}.json"
    names = [f"copy_{i:04d}_{sources[i % len(sources)].name}" for i in range(count)]
    stats = [[str(path), path.stat().st_size, path.stat().st_mtime_ns] for path in sources]
    wanted = {"sources": stats, "names": names}
    if not (manifest.is_file() and json.loads(manifest.read_text()) == wanted):
        manifest.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i, name in enumerate(names):
            shutil.copyfile(sources[i % len(sources)], folder / name)
        manifest.write_text(json.dumps(wanted))
    return folder, [(folder / name).resolve() for name in names]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown CPU"


def machine_report(corpus: Path, files: list[Path], ref: Reference) -> list[str]:
    pixels = [height * width for height, width in ref.shape.values()]
    mix = ", ".join(f"{pixels.count(n)} × {n / 1e6:.1f} MP" for n in sorted(set(pixels)))
    megabytes = sum(path.stat().st_size for path in files) / 1e6
    return [
        f"- machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()}, OpenCV {cv2.__version__}",
        f"- corpus: {corpus}: {len(files)} JPEGs ({mix}), "
        f"{sum(pixels) / 1e6:.0f} megapixels, {megabytes:.1f} MB",
    ]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def time_rounds(
    pipelines: list[Pipeline], rounds: int, files: list[Path]
) -> dict[str, list[float]]:
    """Wall times of every pipeline, round-robin, the order rotated each round."""
    samples: dict[str, list[float]] = {pipeline.name: [] for pipeline in pipelines}
    for index in range(rounds):
        shift = index % len(pipelines)
        for pipeline in pipelines[shift:] + pipelines[:shift]:
            samples[pipeline.name].append(run(pipeline))
            if pipeline.output is not None:
                scores(pipeline.output, files)
        click.echo(f"round {index + 1}/{rounds} done", err=True)
    return samples


def relative_difference(ours: dict[Path, float], theirs: dict[Path, float]) -> float:
    return max(abs(ours[path] - theirs[path]) / max(abs(theirs[path]), 1e-300) for path in ours)


@click.command()
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of JPEGs [default: make_corpus.py's default corpus, cached].",
)
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--working-size", default=1_000_000, show_default=True, type=click.IntRange(min=16))
@click.option(
    "--memory/--no-memory",
    default=True,
    show_default=True,
    help="Measure peak memory, and run the 20 vs 2,000 files check.",
)
def main(corpus: Path | None, rounds: int, working_size: int, memory: bool) -> None:
    """Time edgegrad blur-score against the naive recipe and the decode floors."""
    started = time.perf_counter()
    if corpus is None:
        corpus = CACHE / "default"
        click.echo(describe(make_corpus(corpus)), err=True)
    corpus = corpus.resolve()
    files = sorted(p.resolve() for p in corpus.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if not files:
        raise click.ClickException(f"no JPEG files in {corpus}")
    click.echo(f"reference pass over {len(files)} files (untimed)…", err=True)
    ref = reference(files)
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name).resolve()
        if scratch.is_relative_to(corpus):
            raise click.ClickException(f"the temporary folder {scratch} is inside the corpus")
        gray = {path: cv2.IMREAD_GRAYSCALE for path in files}
        reduced = {path: reduced_flag(ref.shape[path], working_size) for path in files}
        exact_out, working_out = scratch / "exact.jsonl", scratch / "working.jsonl"
        baseline = [sys.executable, str(BASELINES)]
        pipelines = [
            Pipeline(
                NAIVE, [*baseline, "naive", write_listing(scratch / "n.json", files, gray, ref)]
            ),
            Pipeline(
                FLOOR, [*baseline, "decode", write_listing(scratch / "g.json", files, gray, ref)]
            ),
            Pipeline(
                REUSED_FLOOR,
                [*baseline, "decode-reuse", write_listing(scratch / "g2.json", files, gray, ref)],
            ),
            Pipeline(EXACT, blur_score_command(corpus, exact_out), exact_out),
            Pipeline(
                WORKING,
                blur_score_command(corpus, working_out, "--working-size", str(working_size)),
                working_out,
            ),
            Pipeline(
                REDUCED_FLOOR,
                [*baseline, "decode", write_listing(scratch / "r.json", files, reduced, ref)],
            ),
        ]
        click.echo(f"timing {rounds} rounds of {len(pipelines)} pipelines…", err=True)
        samples = time_rounds(pipelines, rounds, files)
        exact = scores(exact_out, files)
        peaks: dict[str, Memory] = {}
        scale: dict[int, Memory] = {}
        sources = scale_sources(files, ref)
        if memory:
            click.echo("peak memory, one untimed run each…", err=True)
            peaks = {pipeline.name: measure_memory(pipeline) for pipeline in pipelines}
            for count in SCALE_COUNTS:
                folder, copies = scale_folder(sources, count)
                output = scratch / f"scale-{count}.jsonl"
                scale[count] = measure_memory(
                    Pipeline(f"{count} files", blur_score_command(folder, output), output)
                )
                scores(output, copies)

    median = {name: statistics.median(values) for name, values in samples.items()}
    naive, floor, reduced_floor = median[NAIVE], median[FLOOR], median[REDUCED_FLOOR]
    reused_floor = median[REUSED_FLOOR]
    lines = [
        "",
        *machine_report(corpus, files, ref),
        f"- rounds: {rounds}, round-robin; working size {working_size:,} pixels; "
        f"reduced floor decodes at 1/{{1,2,4,8}} per file; page cache warm",
        "",
        "| pipeline | median s | min s | vs naive | vs decode floor | vs reused-buffer floor "
        "| vs reduced floor | peak MiB, tree sum | peak MiB, largest process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, seconds in median.items():
        peak = peaks.get(name)
        mib = f"{peak.tree:.0f} | {peak.largest:.0f}" if peak else "– | –"
        lines.append(
            f"| {name} | {seconds:.2f} | {min(samples[name]):.2f} | {naive / seconds:.2f}× faster "
            f"| {seconds / floor:.2f}× | {seconds / reused_floor:.2f}× "
            f"| {seconds / reduced_floor:.2f}× | {mib} |"
        )
    gray_diff = relative_difference(exact, ref.gray)
    lines += [
        "",
        "targets:",
        f"- exact ≥ 2.0× faster than naive: {naive / median[EXACT]:.2f}× "
        f"{verdict(naive / median[EXACT] >= 2.0)}",
        f"- exact ≤ 1.5× decode floor: {median[EXACT] / floor:.2f}× "
        f"{verdict(median[EXACT] / floor <= 1.5)}",
        f"- (info) exact vs the reused-buffer decode floor: {median[EXACT] / reused_floor:.2f}×",
        f"- working size ≥ 3.5× faster than naive: {naive / median[WORKING]:.2f}× "
        f"{verdict(naive / median[WORKING] >= 3.5)}",
        f"- exact scores = Laplacian var of gray imread (rtol 1e-9): max rel. diff "
        f"{gray_diff:.2e} {verdict(gray_diff <= 1e-9)}",
        f"- (info) exact scores vs naive colour recipe: max rel. diff "
        f"{relative_difference(exact, ref.color):.2e}",
    ]
    if scale:
        small, large = scale[SCALE_COUNTS[0]], scale[SCALE_COUNTS[1]]
        lines += [
            f"- tree peak, {SCALE_COUNTS[1]} files ≤ {TREE_TARGET_MIB:.0f} MiB: "
            f"{large.tree:.0f} MiB (largest process {large.largest:.0f}; "
            f"{large.seconds:.1f} s with polling) {verdict(large.tree <= TREE_TARGET_MIB)}",
            f"- tree peak, {SCALE_COUNTS[1]} vs {SCALE_COUNTS[0]} files ≤ {SCALE_SLACK}×: "
            f"{large.tree:.0f} vs {small.tree:.0f} MiB ({SCALE_COUNTS[0]} files: largest process "
            f"{small.largest:.0f}, {small.seconds:.1f} s) "
            f"{verdict(large.tree <= SCALE_SLACK * small.tree)}",
            f"  (real copies cycling through {len(sources)} of the corpus's files: all under "
            f"{LARGE_PIXELS / 1e6:.0f} MP and every tenth larger one)",
        ]
    lines.append(f"\ntotal {time.perf_counter() - started:.0f} s")
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
