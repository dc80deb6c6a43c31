"""Wall time and peak memory of ``edgegrad blur-score`` against baselines on JPEG corpora.

Run from the repository root::

    python benchmarks/bench_blur_score.py                 # default corpora, 5 rounds
    python benchmarks/bench_blur_score.py --corpus DIR --rounds 3 --no-memory
    python benchmarks/bench_blur_score.py --compare /tmp/before   # also time another checkout

Without ``--corpus`` it makes the default corpus of ``make_corpus.py`` (50 × 12 MP
and 150 × 2 MP photo-like JPEGs) in ``benchmarks/.corpus/default`` and reuses it
afterwards. A corpus is the ``*.jpg``/``*.jpeg`` files directly in the folder.
A second corpus of 2,000 small files (640×480 crops of the default corpus's
2 MP files, JPEG quality 90, cached in ``benchmarks/.corpus/small-2000``) is
timed the same way unless ``--no-small``; its first 16 files time start-up.

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
* ``bare interpreter``: ``python -c pass``;
* ``edgegrad exact``: ``edgegrad blur-score CORPUS --format jsonl -o FILE``,
  also with ``--jobs 1`` and ``--jobs 2``;
* ``edgegrad working size``: the same with ``--working-size N``;
* ``edgegrad start-up``: the same command on a folder of one 64×48 JPEG with
  ``--jobs 2``, so that the pool starts: the fixed cost of a run;
* on the small corpus, ``edgegrad --help`` and ``blur-score`` on its first 16
  files.

``--compare DIR`` (repeatable) times another checkout's exact, working-size,
start-up, ``--help`` and 16-file runs in the same rounds: DIR holds its
``edgegrad/`` and ``edgegrad_cli/`` packages (for instance ``git archive
HEAD~3 edgegrad cli | tar -x -C DIR && mv DIR/cli DIR/edgegrad_cli``) and
runs on ``PYTHONPATH``, through a copy of the console script.

Every checkout's packages are byte-compiled before the rounds, as ``pip
install`` does, so that no run pays for compiling modules (an editable
install under ``PYTHONDONTWRITEBYTECODE`` would, on every start).

Every edgegrad run must exit 0 with one error-free record per file; exact
scores are compared, outside the timed region, with
``cv2.Laplacian(cv2.imread(p, IMREAD_GRAYSCALE), CV_64F).var()``.

**Breakdown.** ``blur_baselines.py profile`` measures, once per checkout and
outside the timed rounds, the CPU time of each step per file in one process
prepared as a worker is: decoding alone, the score of the decoded array
(the Laplacian and its sums, with the resampling in working-size mode), and
the whole job. Each default-jobs edgegrad run's median wall time is then
split into the bare interpreter start; start-up beyond it (the start-up
run's median minus the bare start); decoding, scoring and per-image Python
and I/O (job minus decode minus score), each summed over the files and
divided by the cores; and the rest, worker ↔ parent traffic and the tail of
workers idle at the end (with whatever the machine's load adds). The
**physical limit** is the decode CPU summed over the files ÷ cores plus a
bare interpreter start.

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
BARE = "bare interpreter: python -c pass"
THIS = "edgegrad"
SMALL_COUNT = 2000
SMALL_SIZE = (640, 480)
SMALL_QUALITY = 90
START_FILES = 16
# The console script of a --compare checkout: its own entry point, launch.py
# where it has one (the fork server starts before click), else main.py.
LAUNCHER = """import sys
from edgegrad_cli.{module} import main
if __name__ == "__main__":
    sys.exit(main())
"""
# Targets of issue 16 (ratios in one run).
FLOOR_TARGET, LIMIT_TARGET, NAIVE_TARGET, START_TARGET = 1.10, 1.6, 3.5, 1.5


@dataclass(frozen=True)
class Reference:
    """Per file: decoded (height, width), and the recipe's score from gray and colour decodes."""

    shape: dict[Path, tuple[int, int]]
    gray: dict[Path, float]
    color: dict[Path, float]


@dataclass(frozen=True)
class Pipeline:
    """A command to time; ``output`` is the JSONL it writes, for edgegrad runs.

    ``pythonpath`` is put on ``PYTHONPATH`` (another checkout's packages).
    """

    name: str
    command: list[str]
    output: Path | None = None
    pythonpath: Path | None = None
    expect: tuple[Path, ...] | None = None  # the files of its records, if not the corpus


@dataclass(frozen=True)
class Checkout:
    """An edgegrad to time: this one (``path`` None) or another on ``PYTHONPATH``."""

    label: str
    path: Path | None
    launcher: list[str]

    def command(self, *arguments: str) -> list[str]:
        return [*self.launcher, *arguments]

    def pipeline(
        self,
        name: str,
        *arguments: str,
        output: Path | None = None,
        expect: tuple[Path, ...] | None = None,
    ) -> Pipeline:
        return Pipeline(f"{self.label} {name}", self.command(*arguments), output, self.path, expect)


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


def environment(pythonpath: Path | None) -> dict[str, str] | None:
    """The environment of a run: this one, with ``pythonpath`` first on ``PYTHONPATH``."""
    if pythonpath is None:
        return None
    return {**os.environ, "PYTHONPATH": str(pythonpath)}


def run(pipeline: Pipeline) -> float:
    """Run ``pipeline`` once; return its wall time in seconds."""
    if pipeline.output is not None:
        pipeline.output.unlink(missing_ok=True)
    env = environment(pipeline.pythonpath)
    start = time.perf_counter()
    done = subprocess.run(
        pipeline.command, capture_output=True, text=True, check=False, env=env, cwd=BENCH
    )
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


def own_peak(command: list[str]) -> tuple[float, float]:
    """Run ``command``; its own process's peak VmHWM (not its workers') in MiB, and wall seconds.

    Its stderr goes to a temporary file, never a pipe that a long run could fill.

    Raises
    ------
    click.ClickException
        If it exits non-zero (with the end of its stderr).
    """
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        peak = 0
        while process.poll() is None:
            peak = max(peak, status_kib(process.pid)[1])
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - start
        if process.returncode != 0:
            errors.seek(0)
            text = errors.read().decode(errors="replace")[-2000:]
            raise click.ClickException(f"{' '.join(command)} exited {process.returncode}: {text}")
    return peak / 1024, seconds


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
        [sys.executable, "-c", WATCH, *pipeline.command],
        capture_output=True,
        text=True,
        check=True,
        env=environment(pipeline.pythonpath),
        cwd=BENCH,
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
                scores(pipeline.output, list(pipeline.expect or files))
        click.echo(f"round {index + 1}/{rounds} done", err=True)
    return samples


def relative_difference(ours: dict[Path, float], theirs: dict[Path, float]) -> float:
    return max(abs(ours[path] - theirs[path]) / max(abs(theirs[path]), 1e-300) for path in ours)


def small_corpus(sources: list[Path]) -> tuple[Path, list[Path]]:
    """The cached corpus of ``SMALL_COUNT`` 640×480 crops of ``sources``, made on first use.

    File ``i`` is a crop of source ``i mod len(sources)`` at an offset drawn from
    ``numpy.random.default_rng(i)``, re-encoded at quality ``SMALL_QUALITY``.
    """
    folder = CACHE / f"small-{SMALL_COUNT}"
    manifest = CACHE / f"small-{SMALL_COUNT}.json"
    stats = [[path.name, path.stat().st_size] for path in sources]
    wanted = {"sources": stats, "size": list(SMALL_SIZE), "quality": SMALL_QUALITY}
    names = [f"small_{i:04d}.jpg" for i in range(SMALL_COUNT)]
    if not (manifest.is_file() and json.loads(manifest.read_text()) == wanted):
        click.echo(f"making {SMALL_COUNT} small files in {folder}…", err=True)
        manifest.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        width, height = SMALL_SIZE
        decoded: dict[Path, npt.NDArray[np.uint8]] = {}
        for i, name in enumerate(names):
            source = sources[i % len(sources)]
            image = decoded.setdefault(source, imread(source, cv2.IMREAD_COLOR))
            rng = np.random.default_rng(i)
            y = int(rng.integers(0, image.shape[0] - height + 1))
            x = int(rng.integers(0, image.shape[1] - width + 1))
            crop = image[y : y + height, x : x + width]
            if not cv2.imwrite(str(folder / name), crop, [cv2.IMWRITE_JPEG_QUALITY, SMALL_QUALITY]):
                raise click.ClickException(f"cannot write {folder / name}")
        manifest.write_text(json.dumps(wanted))
    return folder, [(folder / name).resolve() for name in names]


def copies(files: list[Path], folder: Path) -> Path:
    """``folder`` holding real copies of ``files`` (edgegrad skips links and shared inodes)."""
    folder.mkdir(parents=True)
    for path in files:
        shutil.copyfile(path, folder / path.name)
    return folder


def checkouts(compare: tuple[Path, ...], scratch: Path) -> list[Checkout]:
    """This edgegrad, then each ``--compare`` checkout, run through a copy of its console script.

    Each checkout's packages are byte-compiled first, as ``pip install``
    does: a run that found no ``.pyc`` files (an editable install under
    ``PYTHONDONTWRITEBYTECODE``) would compile every module it imports,
    which is not what an installed edgegrad costs.
    """
    import edgegrad
    import edgegrad_cli

    found = [Checkout(THIS, None, edgegrad_command())]
    packages = [Path(edgegrad.__file__).parent, Path(edgegrad_cli.__file__).parent]
    for path in compare:
        if not (path / "edgegrad").is_dir() or not (path / "edgegrad_cli").is_dir():
            raise click.ClickException(f"--compare {path}: needs edgegrad/ and edgegrad_cli/")
        module = "launch" if (path / "edgegrad_cli" / "launch.py").is_file() else "main"
        launcher = scratch / f"edgegrad_launcher_{len(found)}.py"
        launcher.write_text(LAUNCHER.format(module=module))
        found.append(Checkout(f"{path.name}:", path.resolve(), [sys.executable, str(launcher)]))
        packages += [path / "edgegrad", path / "edgegrad_cli"]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *map(str, packages)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return found


def profile(checkout: Checkout, listing: str, working_size: int) -> dict[str, float]:
    """CPU seconds per step over a corpus (``blur_baselines.py profile``), for ``checkout``."""
    done = subprocess.run(
        [sys.executable, str(BASELINES), "profile", listing, str(working_size)],
        capture_output=True,
        text=True,
        check=False,
        env=environment(checkout.path),
        cwd=BENCH,
    )
    if done.returncode != 0:
        raise click.ClickException(f"profile of {checkout.label}: {done.stderr.strip()[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


@dataclass(frozen=True)
class Corpus:
    """One corpus's pipelines: the baselines, and each checkout's runs by kind."""

    name: str
    files: list[Path]
    pipelines: list[Pipeline]
    runs: dict[tuple[str, str], Pipeline]  # (checkout label, kind) -> pipeline


def edgegrad_runs(
    folder: Path,
    scratch: Path,
    found: list[Checkout],
    working_size: int,
    start_folder: Path,
    sixteen: Path | None,
) -> dict[tuple[str, str], Pipeline]:
    """Each checkout's exact, working-size and start-up runs (and this one's --jobs 1 and 2)."""
    runs: dict[tuple[str, str], Pipeline] = {}

    def blur(checkout: Checkout, number: int, kind: str, target: Path, *options: str) -> None:
        output = scratch / f"{folder.name}-{number}-{kind.replace(' ', '_')}.jsonl"
        runs[checkout.label, kind] = checkout.pipeline(
            kind,
            "blur-score",
            str(target),
            "--format",
            "jsonl",
            "-o",
            str(output),
            *options,
            output=output,
            expect=None if target == folder else tuple(sorted(target.resolve().iterdir())),
        )

    for number, checkout in enumerate(found):
        blur(checkout, number, "exact", folder)
        blur(checkout, number, "--working-size", folder, "--working-size", str(working_size))
        blur(checkout, number, "start-up", start_folder, "--jobs", "2")
        if checkout.path is None:
            blur(checkout, number, "exact --jobs 1", folder, "--jobs", "1")
            blur(checkout, number, "exact --jobs 2", folder, "--jobs", "2")
        if sixteen is not None:
            blur(checkout, number, f"{START_FILES} files", sixteen)
            runs[checkout.label, "--help"] = checkout.pipeline("--help", "--help")
    return runs


def baseline_pipelines(
    files: list[Path], scratch: Path, ref: Reference, working_size: int, *, naive: bool
) -> list[Pipeline]:
    tag = files[0].parent.name
    gray = {path: cv2.IMREAD_GRAYSCALE for path in files}
    reduced = {path: reduced_flag(ref.shape[path], working_size) for path in files}
    baseline = [sys.executable, str(BASELINES)]

    def listing(name: str, flags: dict[Path, int]) -> str:
        return write_listing(scratch / f"{tag}-{name}.json", files, flags, ref)

    pipelines = [
        Pipeline(FLOOR, [*baseline, "decode", listing("g", gray)]),
        Pipeline(REUSED_FLOOR, [*baseline, "decode-reuse", listing("g2", gray)]),
        Pipeline(BARE, [sys.executable, "-c", "pass"]),
    ]
    if naive:
        pipelines.insert(0, Pipeline(NAIVE, [*baseline, "naive", listing("n", gray)]))
    if reduced != gray:
        pipelines.append(Pipeline(REDUCED_FLOOR, [*baseline, "decode", listing("r", reduced)]))
    return pipelines


def breakdown(
    corpus: Corpus,
    median: dict[str, float],
    costs: dict[str, dict[str, float]],
    cores: int,
) -> list[str]:
    """Each checkout's exact and working-size wall time split as the module docstring says."""
    lines = [
        "",
        f"breakdown, {corpus.name} ({len(corpus.files)} files, {cores} cores; seconds, "
        "and share of the run's median wall time):",
        "",
        "| run | median s | physical limit | bare start | start-up beyond it | decode ÷ cores "
        "| Laplacian + sums (+ resampling) ÷ cores | per-image Python + I/O ÷ cores "
        "| traffic + tail (rest) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    bare = median[BARE]
    for label, cost in costs.items():
        start = median[corpus.runs[label, "start-up"].name] - bare
        for kind, decode, score, job in (
            ("exact", "decode", "score", "job"),
            ("--working-size", "decode_reduced", "score_working", "job_working"),
        ):
            wall = median[corpus.runs[label, kind].name]
            parts = [
                bare,
                start,
                cost[decode] / cores,
                cost[score] / cores,
                (cost[job] - cost[decode] - cost[score]) / cores,
            ]
            parts.append(wall - sum(parts))
            limit = cost["decode"] / cores + bare
            cells = " | ".join(f"{part:.2f} ({100 * part / wall:.0f} %)" for part in parts)
            lines.append(
                f"| {label} {kind} | {wall:.2f} | {limit:.2f} ({wall / limit:.2f}×) | {cells} |"
            )
    return lines


def timing_table(
    corpus: Corpus, samples: dict[str, list[float]], peaks: dict[str, Memory]
) -> list[str]:
    median = {name: statistics.median(values) for name, values in samples.items()}
    floor, reused_floor = median[FLOOR], median[REUSED_FLOOR]
    naive = median.get(NAIVE)
    lines = [
        "",
        f"{corpus.name}:",
        "",
        "| pipeline | median s | min s | vs naive | vs decode floor | vs reused-buffer floor "
        "| peak MiB, tree sum | peak MiB, largest process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, seconds in median.items():
        peak = peaks.get(name)
        mib = f"{peak.tree:.0f} | {peak.largest:.0f}" if peak else "– | –"
        versus = f"{naive / seconds:.2f}× faster" if naive else "–"
        lines.append(
            f"| {name} | {seconds:.2f} | {min(samples[name]):.2f} | {versus} "
            f"| {seconds / floor:.2f}× | {seconds / reused_floor:.2f}× | {mib} |"
        )
    return lines


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
@click.option(
    "--small/--no-small",
    default=True,
    show_default=True,
    help=f"Also time the {SMALL_COUNT:,} small files, and start-up on {START_FILES} of them.",
)
@click.option(
    "--compare",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also time this checkout (a folder with edgegrad/ and edgegrad_cli/).",
)
def main(
    corpus: Path | None,
    rounds: int,
    working_size: int,
    memory: bool,
    small: bool,
    compare: tuple[Path, ...],
) -> None:
    """Time edgegrad blur-score against the naive recipe, the decode floors, the physical limit."""
    started = time.perf_counter()
    if corpus is None:
        corpus = CACHE / "default"
        click.echo(describe(make_corpus(corpus)), err=True)
    corpus = corpus.resolve()
    files = sorted(p.resolve() for p in corpus.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if not files:
        raise click.ClickException(f"no JPEG files in {corpus}")
    cores = os.cpu_count() or 1
    click.echo(f"reference pass over {len(files)} files (untimed)…", err=True)
    ref = reference(files)
    corpora: list[Corpus] = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name).resolve()
        if scratch.is_relative_to(corpus):
            raise click.ClickException(f"the temporary folder {scratch} is inside the corpus")
        found = checkouts(compare, scratch)
        start_folder = scratch / "start-up"
        start_folder.mkdir()
        tiny = np.random.default_rng(0).integers(0, 256, (48, 64), dtype=np.uint8)
        cv2.imwrite(str(start_folder / "tiny.jpg"), tiny)
        mixed_runs = edgegrad_runs(corpus, scratch, found, working_size, start_folder, None)
        corpora.append(
            Corpus(
                f"mixed corpus {corpus.name}",
                files,
                [
                    *baseline_pipelines(files, scratch, ref, working_size, naive=True),
                    *mixed_runs.values(),
                ],
                mixed_runs,
            )
        )
        if small:
            sources = [p for p in files if ref.shape[p][0] * ref.shape[p][1] < LARGE_PIXELS]
            small_folder, small_files = small_corpus(sources or files)
            click.echo(f"reference pass over {len(small_files)} small files (untimed)…", err=True)
            small_ref = reference(small_files)
            sixteen = copies(small_files[:START_FILES], scratch / f"{START_FILES}-files")
            small_runs = edgegrad_runs(
                small_folder, scratch, found, working_size, start_folder, sixteen
            )
            corpora.append(
                Corpus(
                    f"{len(small_files):,} small files ({SMALL_SIZE[0]}×{SMALL_SIZE[1]})",
                    small_files,
                    [
                        *baseline_pipelines(
                            small_files, scratch, small_ref, working_size, naive=False
                        ),
                        *small_runs.values(),
                    ],
                    small_runs,
                )
            )
        samples: dict[str, dict[str, list[float]]] = {}
        costs: dict[str, dict[str, dict[str, float]]] = {}
        peaks: dict[str, dict[str, Memory]] = {}
        for item in corpora:
            click.echo(f"{item.name}: profiling each checkout (untimed)…", err=True)
            listing = write_listing(
                scratch / "profile.json",
                item.files,
                dict.fromkeys(item.files, cv2.IMREAD_GRAYSCALE),
                ref if item.files is files else small_ref,
            )
            costs[item.name] = {c.label: profile(c, listing, working_size) for c in found}
            click.echo(
                f"{item.name}: {rounds} rounds of {len(item.pipelines)} pipelines…", err=True
            )
            samples[item.name] = time_rounds(item.pipelines, rounds, item.files)
            if memory:
                click.echo(f"{item.name}: peak memory, one untimed run each…", err=True)
                peaks[item.name] = {p.name: measure_memory(p) for p in item.pipelines}
        exact = scores(mixed_runs[THIS, "exact"].output or scratch, files)
        scale: dict[int, Memory] = {}
        sources = scale_sources(files, ref)
        if memory:
            for count in SCALE_COUNTS:
                folder, scale_copies = scale_folder(sources, count)
                output = scratch / f"scale-{count}.jsonl"
                scale[count] = measure_memory(
                    Pipeline(
                        f"{count} files",
                        found[0].command(
                            "blur-score", str(folder), "--format", "jsonl", "-o", str(output)
                        ),
                        output,
                    )
                )
                scores(output, scale_copies)

    lines = [
        "",
        *machine_report(corpus, files, ref),
        f"- rounds: {rounds}, round-robin; working size {working_size:,} pixels; "
        f"reduced floor decodes at 1/{{1,2,4,8}} per file; page cache warm",
        "- checkouts: " + ", ".join(f"{c.label} {c.path or '(this one)'}" for c in found),
    ]
    medians: dict[str, dict[str, float]] = {}
    for item in corpora:
        median = {name: statistics.median(values) for name, values in samples[item.name].items()}
        medians[item.name] = median
        lines += timing_table(item, samples[item.name], peaks.get(item.name, {}))
        lines += breakdown(item, median, costs[item.name], cores)
    mixed = medians[corpora[0].name]
    limit = costs[corpora[0].name][THIS]["decode"] / cores + mixed[BARE]
    ours = mixed[mixed_runs[THIS, "exact"].name]
    working = mixed[mixed_runs[THIS, "--working-size"].name]
    gray_diff = relative_difference(exact, ref.gray)
    lines += [
        "",
        "targets (issue 16):",
        f"- exact ≤ {FLOOR_TARGET}× decode floor: {ours / mixed[FLOOR]:.2f}× "
        f"{verdict(ours / mixed[FLOOR] <= FLOOR_TARGET)}",
        f"- exact ≤ {LIMIT_TARGET}× physical limit: {ours / limit:.2f}× "
        f"{verdict(ours / limit <= LIMIT_TARGET)}",
        f"- working size ≤ exact, mixed corpus: {working / ours:.2f}× {verdict(working <= ours)}",
        f"- exact ≥ {NAIVE_TARGET}× faster than naive: {mixed[NAIVE] / ours:.2f}× "
        f"{verdict(mixed[NAIVE] / ours >= NAIVE_TARGET)}",
        f"- exact scores = Laplacian var of gray imread (rtol 1e-9): max rel. diff "
        f"{gray_diff:.2e} {verdict(gray_diff <= 1e-9)}",
        f"- (info) exact scores vs naive colour recipe: max rel. diff "
        f"{relative_difference(exact, ref.color):.2e}",
    ]
    if small:
        few = medians[corpora[1].name]
        small_exact = few[small_runs[THIS, "exact"].name]
        small_working = few[small_runs[THIS, "--working-size"].name]
        lines.append(
            f"- working size ≤ exact, small files: {small_working / small_exact:.2f}× "
            f"{verdict(small_working <= small_exact)}"
        )
        for checkout in found:
            sixteen_s = few[small_runs[checkout.label, f"{START_FILES} files"].name]
            help_s = few[small_runs[checkout.label, "--help"].name]
            lines.append(
                f"- {checkout.label} blur-score on {START_FILES} small files ≤ {START_TARGET}× "
                f"its --help: {sixteen_s:.3f} s vs {help_s:.3f} s = {sixteen_s / help_s:.2f}× "
                f"{verdict(sixteen_s / help_s <= START_TARGET)}"
            )
    if scale:
        small_scale, large_scale = scale[SCALE_COUNTS[0]], scale[SCALE_COUNTS[1]]
        lines += [
            f"- tree peak, {SCALE_COUNTS[1]} files ≤ {TREE_TARGET_MIB:.0f} MiB: "
            f"{large_scale.tree:.0f} MiB (largest process {large_scale.largest:.0f}; "
            f"{large_scale.seconds:.1f} s with polling) "
            f"{verdict(large_scale.tree <= TREE_TARGET_MIB)}",
            f"- tree peak, {SCALE_COUNTS[1]} vs {SCALE_COUNTS[0]} files ≤ {SCALE_SLACK}×: "
            f"{large_scale.tree:.0f} vs {small_scale.tree:.0f} MiB ({SCALE_COUNTS[0]} files: "
            f"largest process {small_scale.largest:.0f}, {small_scale.seconds:.1f} s) "
            f"{verdict(large_scale.tree <= SCALE_SLACK * small_scale.tree)}",
            f"  (real copies cycling through {len(sources)} of the corpus's files: all under "
            f"{LARGE_PIXELS / 1e6:.0f} MP and every tenth larger one)",
        ]
    lines.append(f"\ntotal {time.perf_counter() - started:.0f} s")
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
