"""``blur-score -o scores.parquet``: typed columns, row groups, atomic, and --resume refused."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import CliRun

from edgegrad_cli.records import FIELDS, Row

pa = pytest.importorskip("pyarrow", reason="Parquet output needs pyarrow (edgegrad[parquet])")
pq = pytest.importorskip("pyarrow.parquet")

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
TYPES = {
    "path": pa.string(),
    "score": pa.float64(),
    "method": pa.string(),
    "width": pa.int64(),
    "height": pa.int64(),
    "blurry": pa.bool_(),
    "warning": pa.string(),
    "error": pa.string(),
    "frame": pa.int64(),
    "time": pa.float64(),
}


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Four photos and one text file named .png, in a folder of their own."""
    folder = tmp_path / "shots"
    folder.mkdir()
    for name in ("astronaut.jpg", "brick.png", "camera.png", "coffee.png"):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "broken.png").write_text("not an image\n")
    return folder


def jsonl(cli: CliRun, *args: object) -> list[dict[str, Any]]:
    result = cli("blur-score", *args, "--format", "jsonl")
    assert result.exit_code == 3, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_schema_is_typed_in_the_order_of_the_records(
    cli: CliRun, shots: Path, tmp_path: Path
) -> None:
    target = tmp_path / "scores.parquet"
    result = cli("blur-score", shots, "-o", target)
    assert result.exit_code == 3, result.output
    schema = pq.read_schema(target)
    assert schema.names == list(FIELDS)
    assert {name: schema.field(name).type for name in schema.names} == TYPES


@pytest.mark.parametrize("extra", [(), ("--threshold", "500"), ("--sort", "score")])
def test_rows_equal_the_jsonl_records_of_the_same_run(
    cli: CliRun, shots: Path, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    target = tmp_path / "scores.parquet"
    result = cli("blur-score", shots, *extra, "-o", target)
    assert result.exit_code == 3, result.output
    rows = pq.read_table(target).to_pylist()
    assert rows == jsonl(cli, shots, *extra)
    assert len(rows) == 5


def test_nulls_where_a_record_has_no_value(cli: CliRun, shots: Path, tmp_path: Path) -> None:
    target = tmp_path / "scores.parquet"
    assert cli("blur-score", shots, "--threshold", "500", "-o", target).exit_code == 3
    table = pq.read_table(target)
    by_name = {Path(row["path"]).name: row for row in table.to_pylist()}
    failed = by_name["broken.png"]
    assert failed["score"] is None
    assert failed["width"] is None
    assert failed["blurry"] is None
    assert failed["error"].endswith("broken.png: not a recognised image format (looks like text)")
    sharp, soft = by_name["camera.png"], by_name["brick.png"]  # LAPV 1133 and 178
    assert (sharp["blurry"], soft["blurry"]) == (False, True)
    # Stills have no frame and time; only the failure has an error.
    assert table.column("frame").null_count == table.column("time").null_count == 5
    assert table.column("error").null_count == 4
    without = tmp_path / "plain.parquet"
    assert cli("blur-score", shots, "-o", without).exit_code == 3
    assert pq.read_table(without).column("blurry").null_count == 5


def test_records_are_written_in_row_groups(tmp_path: Path) -> None:
    from edgegrad_cli.parquet import ParquetRows

    rows = [Row(f"{i}.png", float(i), "lapv", 2, 3, None, None, None) for i in range(5)]
    with (tmp_path / "t.parquet").open("wb") as file:
        writer = ParquetRows(file, rows_per_group=2)
        for row in rows:
            writer.add(row)
        writer.close()
    parquet = pq.ParquetFile(tmp_path / "t.parquet")
    assert parquet.metadata.num_row_groups == 3
    assert [parquet.metadata.row_group(i).num_rows for i in range(3)] == [2, 2, 1]
    assert parquet.read().column("score").to_pylist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_an_undecodable_name_is_written_as_escaped_text(cli: CliRun, tmp_path: Path) -> None:
    odd = tmp_path / os.fsdecode(b"caf\xe9.png")
    shutil.copy(SAMPLES / "brick.png", odd)
    target = tmp_path / "scores.parquet"
    assert cli("blur-score", odd, "-o", target).exit_code == 0
    (row,) = pq.read_table(target).to_pylist()
    assert row["path"] == str(tmp_path) + "/caf\\udce9.png"


def _many(tmp_path: Path, count: int) -> Path:
    """A --files-from list of ``count`` hard links to one photo."""
    folder = tmp_path / "many"
    folder.mkdir()
    first = folder / "0.jpg"
    shutil.copy(SAMPLES / "astronaut.jpg", first)
    for i in range(1, count):
        os.link(first, folder / f"{i}.jpg")
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{folder / f'{i}.jpg'}\n" for i in range(count)))
    return listing


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".scores."))


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_run_leaves_no_file_at_the_final_name(
    tmp_path: Path, stop: signal.Signals
) -> None:
    listing = _many(tmp_path, 3000)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "scores.parquet"
    command = [sys.executable, "-m", "edgegrad", "blur-score", "--files-from", str(listing)]
    process = subprocess.Popen(
        [*command, "-o", str(target), "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not _temporaries(out) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert _temporaries(out), "the run never started writing"
    time.sleep(0.5)  # records are being added
    os.killpg(process.pid, stop)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == (130 if stop == signal.SIGTERM else -signal.SIGKILL), stderr
    assert not target.exists()
    # SIGTERM unwinds and removes the temporary file; after SIGKILL the next run does.
    assert bool(_temporaries(out)) == (stop == signal.SIGKILL)
    short = tmp_path / "short.txt"
    short.write_text("".join(listing.read_text().splitlines(keepends=True)[:20]))
    rerun = subprocess.run(
        [*command[:-1], str(short), "-o", str(target)], capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert pq.read_table(target).num_rows == 20
    assert _temporaries(out) == []


def test_resume_is_refused_with_the_reason(cli: CliRun, shots: Path, tmp_path: Path) -> None:
    result = cli("blur-score", shots, "-o", tmp_path / "scores.parquet", "--resume")
    assert result.exit_code == 2
    assert "--resume cannot continue a Parquet file" in result.stderr
    assert "-o scores.jsonl --resume" in result.stderr


def test_parquet_needs_a_file(cli: CliRun, shots: Path) -> None:
    result = cli("blur-score", shots, "--format", "parquet")
    assert result.exit_code == 2
    assert "Parquet is binary: give -o FILE.parquet" in result.stderr


def test_without_pyarrow_the_message_names_the_extra(
    cli: CliRun, shots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def hidden(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "pyarrow" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", hidden)
    result = cli("blur-score", shots, "-o", tmp_path / "scores.parquet")
    assert result.exit_code == 2
    assert 'Parquet output needs pyarrow: pip install "edgegrad[parquet]"' in result.stderr
    assert not (tmp_path / "scores.parquet").exists()
