"""``blur-score`` on a 2-worker Dask LocalCluster against the local process pool.

Run from the repository root, with the ``dask`` extra installed::

    python benchmarks/bench_cluster.py                  # default corpus, 5 rounds, 100k inputs
    python benchmarks/bench_cluster.py --rounds 3 --memory-inputs 0

Without ``--corpus`` it uses the default corpus of ``make_corpus.py`` (50 × 12
MP and 150 × 2 MP photo-like JPEGs, cached in ``benchmarks/.corpus/default``).
It measures, in one run:

* **throughput**: the corpus scored through :func:`edgegrad.batch.run_batch`
  on the local process pool (2 workers, made by each call as the CLI does,
  with ``pool_plan``'s chunk size) and on a running 2-worker
  ``LocalCluster`` (:func:`edgegrad.cluster.connect`, one thread per worker,
  with :meth:`~edgegrad.cluster.DaskExecutor.chunksize`), in alternating
  rounds, the order swapped each round; the ratio of the medians is the
  cluster's share of the pool's throughput (the issue's target: ≥ 0.80). The
  scores of both are checked equal. The same pair also runs as whole commands
  (``edgegrad blur-score CORPUS --format jsonl -o FILE --jobs 2``, with and
  without ``--scheduler local``), which adds the cluster's start-up;
* **per-task overhead**: a no-op job (``str``) over 2,000 one-input
  tasks on the cluster and on the pool, wall time per task with both
  workers busy;
* **chunk sizes**: the corpus on the cluster at 1, 2, 4, 8, 16 and 32 inputs
  per task, and the share of a task's time the overhead takes at each
  (``overhead / (overhead + chunk × worker time per image)``);
* **client memory**: the peak resident memory (VmHWM) of the ``edgegrad``
  process alone, not its workers, for ``--memory-inputs`` tiny PNGs (100,000
  by default, real files cached in ``benchmarks/.corpus/tiny-N``) given by
  ``--files-from``, on the cluster and on the pool (the issue's target:
  under 300 MiB on the cluster);
* **lazy inputs**: the library alone, :func:`edgegrad.batch.iter_batch` on the
  cluster over a generator of ``--lazy-inputs`` paths (1,000,000 by default)
  with a no-op job, in a fresh process: its peak resident memory after a
  tenth of the records and after all of them. Equal peaks mean that what the
  client holds does not grow with the number of inputs (the command line
  itself keeps its list of inputs, which does).
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import click
import cv2
import numpy as np
from bench_blur_score import (
    CACHE,
    cpu_model,
    edgegrad_command,
    own_peak,
    status_kib,
    verdict,
)
from make_corpus import describe, make_corpus

from edgegrad.batch import Record, iter_batch, run_batch
from edgegrad.cluster import connect
from edgegrad.jobs import FileScore, score_file
from edgegrad_cli.report import pool_plan

WORKERS = 2
NOOP_TASKS = 2000
CHUNKS = (1, 2, 4, 8, 16, 32)
RATIO_TARGET = 0.80
CLIENT_TARGET_MIB = 300.0
OVERHEAD_TARGET = 0.05


def timed(run: Callable[[], list[Record[FileScore]]]) -> tuple[float, list[Record[FileScore]]]:
    start = time.perf_counter()
    records = run()
    return time.perf_counter() - start, records


def checked_scores(records: list[Record[FileScore]], files: list[Path]) -> list[float]:
    """The scores, in input order; fail unless every file has an error-free record."""
    if [r.path for r in records] != files or not all(r.ok and r.result for r in records):
        failed = [r.error for r in records if not r.ok][:3]
        raise click.ClickException(f"{len(records)} records for {len(files)} files: {failed}")
    return [r.result.score for r in records if r.result is not None]


def noop_seconds_per_task(run: Callable[[list[str]], object], tasks: int) -> float:
    inputs = [f"{index}.png" for index in range(tasks)]
    start = time.perf_counter()
    run(inputs)
    return (time.perf_counter() - start) / tasks


def tiny_folder(count: int) -> tuple[Path, Path]:
    """A cached folder of ``count`` distinct 16×16 PNGs (real files), and a list of them."""
    folder = CACHE / f"tiny-{count}"
    listing = CACHE / f"tiny-{count}.txt"
    if not listing.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        names = []
        for index in range(count):
            ok, data = cv2.imencode(".png", rng.integers(0, 256, (16, 16), dtype=np.uint8))
            assert ok
            path = folder / f"{index:06d}.png"
            path.write_bytes(data.tobytes())
            names.append(str(path))
        partial = listing.with_suffix(".part")
        partial.write_text("\n".join(names) + "\n")
        partial.rename(listing)
    return folder, listing


def client_peak_mib(command: list[str], expected: int, output: Path) -> tuple[float, float]:
    """Peak VmHWM (MiB) of ``command``'s own process, and its wall time; checks the records."""
    output.unlink(missing_ok=True)
    peak, seconds = own_peak(command)
    lines = output.read_bytes().count(b"\n")
    if lines != expected:
        raise click.ClickException(f"{output}: {lines} records for {expected} inputs")
    return peak, seconds


def lazy_child(count: int) -> None:
    """Print the VmHWM (KiB) after a tenth and after all of ``count`` lazy inputs (a child)."""
    inputs = (f"{index}.png" for index in range(count))
    marks = {}
    with connect("local", workers=WORKERS) as cluster:
        batch = iter_batch(
            str,
            inputs,
            workers=cluster.threads,
            executor=cluster,
            chunksize=cluster.chunksize(count),
        )
        for done, _ in enumerate(batch, start=1):
            if done in (count // 10, count):
                marks[done] = status_kib(os.getpid())[1]
    print(json.dumps(marks))


def lazy_peaks(count: int) -> tuple[float, float, float]:
    """Peak MiB after a tenth and after all of ``count`` lazy inputs, and the seconds taken."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--lazy-child", str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise click.ClickException(f"the lazy-input run failed: {done.stderr[-2000:]}")
    marks = {int(key): value for key, value in json.loads(done.stdout).items()}
    return marks[count // 10] / 1024, marks[count] / 1024, time.perf_counter() - start


def cli_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"{command} exited {done.returncode}: {done.stderr[-2000:]}")
    return time.perf_counter() - start


@click.command()
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of JPEGs [default: make_corpus.py's default corpus, cached].",
)
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--memory-inputs",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Tiny PNGs for the client-memory check (0 leaves it out).",
)
@click.option(
    "--lazy-inputs",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Generated paths for the library's lazy-input check (0 leaves it out).",
)
@click.option("--lazy-child", "child", type=int, hidden=True)
def main(
    corpus: Path | None, rounds: int, memory_inputs: int, lazy_inputs: int, child: int | None
) -> None:
    """Throughput, per-task overhead, chunk sizes and client memory of the Dask path."""
    if child is not None:
        lazy_child(child)
        return
    started = time.perf_counter()
    if corpus is None:
        corpus = CACHE / "default"
        click.echo(describe(make_corpus(corpus)), err=True)
    corpus = corpus.resolve()
    files = sorted(p for p in corpus.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if not files:
        raise click.ClickException(f"no JPEG files in {corpus}")
    job = functools.partial(score_file, method="lapv")
    _, pool_chunk = pool_plan(WORKERS, len(files))
    pool_times: list[float] = []
    cluster_times: list[float] = []
    sweep: dict[int, list[float]] = {chunk: [] for chunk in CHUNKS}
    with connect("local", workers=WORKERS) as cluster:
        chunk = cluster.chunksize(len(files))

        def on_cluster(size: int = chunk) -> list[Record[FileScore]]:
            return run_batch(job, files, workers=cluster.threads, executor=cluster, chunksize=size)

        def on_pool() -> list[Record[FileScore]]:
            return run_batch(job, files, workers=WORKERS, chunksize=pool_chunk)

        # Warm-up, untimed: the workers import edgegrad, the page cache fills.
        reference = checked_scores(on_pool(), files)
        if checked_scores(on_cluster(), files) != reference:
            raise click.ClickException("the cluster's scores differ from the pool's")
        click.echo(f"timing {rounds} rounds…", err=True)
        for index in range(rounds):
            order = [("pool", on_pool), ("cluster", on_cluster)]
            for name, run in order if index % 2 == 0 else order[::-1]:
                seconds, records = timed(run)
                if checked_scores(records, files) != reference:
                    raise click.ClickException(f"{name}: scores differ from the first pool run")
                (pool_times if name == "pool" else cluster_times).append(seconds)
            for size in CHUNKS:
                seconds, records = timed(functools.partial(on_cluster, size))
                checked_scores(records, files)
                sweep[size].append(seconds)
            click.echo(f"round {index + 1}/{rounds} done", err=True)
        noop_cluster = statistics.median(
            noop_seconds_per_task(
                lambda inputs: run_batch(
                    str, inputs, workers=cluster.threads, executor=cluster, chunksize=1
                ),
                NOOP_TASKS,
            )
            for _ in range(3)
        )
        threads = cluster.threads
    noop_pool = statistics.median(
        noop_seconds_per_task(
            lambda inputs: run_batch(str, inputs, workers=WORKERS, chunksize=1), NOOP_TASKS
        )
        for _ in range(3)
    )
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        out = scratch / "out.jsonl"
        base = [*edgegrad_command(), "blur-score", str(corpus), "--format", "jsonl", "-o", str(out)]
        pool_cli = [*base, "--overwrite", "--jobs", str(WORKERS)]
        cluster_cli = [*pool_cli, "--scheduler", "local"]
        cli_pool, cli_cluster = [], []
        for _ in range(max(3, rounds // 2)):
            cli_pool.append(cli_seconds(pool_cli))
            cli_cluster.append(cli_seconds(cluster_cli))
        memory: dict[str, tuple[float, float]] = {}
        if memory_inputs:
            click.echo(f"client memory for {memory_inputs:,} tiny inputs…", err=True)
            _, listing = tiny_folder(memory_inputs)
            tiny = [*edgegrad_command(), "blur-score", "--files-from", str(listing)]
            tiny += ["--format", "jsonl", "-o", str(out), "--overwrite", "--jobs", str(WORKERS)]
            memory["cluster"] = client_peak_mib([*tiny, "--scheduler", "local"], memory_inputs, out)
            memory["pool"] = client_peak_mib(tiny, memory_inputs, out)
    lazy = None
    if lazy_inputs >= 10:
        click.echo(f"library client memory for {lazy_inputs:,} lazy inputs…", err=True)
        lazy = lazy_peaks(lazy_inputs)

    pool_s, cluster_s = statistics.median(pool_times), statistics.median(cluster_times)
    ratio = pool_s / cluster_s
    per_image = cluster_s * threads / len(files)
    lines = [
        "",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}, "
        f"OpenCV {cv2.__version__}, distributed {version('distributed')}",
        f"- corpus: {corpus}: {len(files)} JPEGs; {rounds} alternating rounds, medians",
        "",
        "| run | chunk | median s | min s | images/s | vs pool |",
        "|---|---:|---:|---:|---:|---:|",
        f"| local process pool, {WORKERS} workers | {pool_chunk} | {pool_s:.2f} | "
        f"{min(pool_times):.2f} | {len(files) / pool_s:.1f} | 1.00 |",
        f"| LocalCluster, {threads} workers × 1 thread | {chunk} | {cluster_s:.2f} | "
        f"{min(cluster_times):.2f} | {len(files) / cluster_s:.1f} | {ratio:.2f} |",
    ]
    for size, values in sweep.items():
        seconds = statistics.median(values)
        lines.append(
            f"| LocalCluster, chunk sweep | {size} | {seconds:.2f} | {min(values):.2f} | "
            f"{len(files) / seconds:.1f} | {pool_s / seconds:.2f} |"
        )

    def overhead(size: int) -> float:
        return noop_cluster / (noop_cluster + size * per_image)

    share = {size: overhead(size) for size in (*CHUNKS, chunk)}
    smallest = next((s for s in range(1, 1000) if overhead(s) < OVERHEAD_TARGET), None)
    cli_ratio = statistics.median(cli_pool) / statistics.median(cli_cluster)
    lines += [
        "",
        f"- per-task overhead, no-op job, {NOOP_TASKS} one-input tasks, both workers busy: "
        f"cluster {noop_cluster * 1e3:.2f} ms/task, pool {noop_pool * 1e3:.2f} ms/task",
        f"- worker time per image (cluster run × {threads} workers / {len(files)} images): "
        f"{per_image * 1e3:.1f} ms",
        "- overhead share of a task at chunk "
        + ", ".join(f"{size}: {share[size]:.1%}" for size in CHUNKS)
        + f"; at the chosen {chunk}: {share[chunk]:.1%}; smallest chunk under "
        f"{OVERHEAD_TARGET:.0%}: {smallest}",
        f"- whole commands (start-up included), median of {len(cli_pool)}: pool "
        f"{statistics.median(cli_pool):.2f} s, --scheduler local "
        f"{statistics.median(cli_cluster):.2f} s, ratio {cli_ratio:.2f}",
    ]
    for name, (mib, seconds) in memory.items():
        lines.append(
            f"- client peak RSS, {memory_inputs:,} inputs from --files-from, {name}: "
            f"{mib:.0f} MiB ({seconds:.0f} s)"
        )
    if lazy is not None:
        lines.append(
            f"- library client peak RSS, iter_batch over {lazy_inputs:,} generated paths on the "
            f"cluster: {lazy[0]:.0f} MiB after {lazy_inputs // 10:,} records, {lazy[1]:.0f} MiB "
            f"after all ({lazy[2]:.0f} s)"
        )
    lines += [
        "",
        "targets:",
        f"- cluster throughput ≥ {RATIO_TARGET:.2f} × pool: {ratio:.2f} "
        f"{verdict(ratio >= RATIO_TARGET)}",
        f"- overhead share at the chosen chunk < {OVERHEAD_TARGET:.0%}: {share[chunk]:.1%} "
        f"{verdict(share[chunk] < OVERHEAD_TARGET)}",
    ]
    if "cluster" in memory:
        mib = memory["cluster"][0]
        lines.append(
            f"- client peak < {CLIENT_TARGET_MIB:.0f} MiB for {memory_inputs:,} inputs: "
            f"{mib:.0f} MiB {verdict(mib < CLIENT_TARGET_MIB)}"
        )
    lines.append(f"\ntotal {time.perf_counter() - started:.0f} s")
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
