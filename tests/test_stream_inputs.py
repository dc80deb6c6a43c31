"""``blur-score`` reads its inputs lazily when it streams, so memory does not grow with them."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import CliRun

from edgegrad.io import Seen
from edgegrad_cli.main import main
from edgegrad_cli.report import Progress


class Pipe(io.RawIOBase):
    """A list on a pipe: it cannot be sought or read twice.

    When its end is first reached, it notes how many lines ``log`` holds then.
    """

    def __init__(self, data: bytes, log: Path) -> None:
        super().__init__()
        self.data = io.BytesIO(data)
        self.log = log
        self.lines_at_end: int | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.data.readinto(buffer)
        if count == 0 and self.lines_at_end is None:
            text = self.log.read_bytes() if self.log.exists() else b""
            self.lines_at_end = text.count(b"\n")
        return count


def run_with_stdin(args: list[object], stdin: Any) -> Result:
    runner = CliRunner()
    return runner.invoke(main, [str(arg) for arg in args], input=stdin)


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    """Four textures blurred by 0-3 pixels: four different scores."""
    folder = tmp_path / "images"
    folder.mkdir()
    texture = np.random.default_rng(5).integers(0, 256, (48, 64), dtype=np.uint8)
    paths = []
    for sigma in range(4):
        path = folder / f"s{sigma}.png"
        cv2.imwrite(str(path), cv2.GaussianBlur(texture, (0, 0), sigma) if sigma else texture)
        paths.append(path)
    return paths


def many_names(images: list[Path], count: int) -> list[Path]:
    """``count`` hard links to ``images`` in turn, each under its own name."""
    folder = images[0].parent / "links"
    folder.mkdir()
    links = []
    for i in range(count):
        link = folder / f"{i:05d}.png"
        os.link(images[i % len(images)], link)
        links.append(link)
    return links


def test_a_listed_run_writes_records_before_its_list_is_read_to_the_end(
    images: list[Path], tmp_path: Path
) -> None:
    links = many_names(images, 60)
    log = tmp_path / "out.jsonl"
    pipe = Pipe(b"".join(f"{link}\n".encode() for link in links), log)
    result = run_with_stdin(
        ["blur-score", "--files-from", "-", "-o", log, "--jobs", "1"], io.BufferedReader(pipe)
    )
    assert result.exit_code == 0, result.output
    # The list ended only after most records were out: it was read as they were written.
    assert pipe.lines_at_end is not None
    assert pipe.lines_at_end >= 30
    records = parse_jsonl(log.read_text())
    assert [r["path"] for r in records] == [str(link) for link in links]
    # Hard links score as the file they name.
    by_file = {str(p): r["score"] for p, r in zip(images, records[:4], strict=True)}
    assert [r["score"] for r in records] == [by_file[str(images[i % 4])] for i in range(60)]


def test_stdin_and_a_list_file_give_the_same_bytes(
    cli: CliRun, images: list[Path], tmp_path: Path
) -> None:
    links = many_names(images, 40)
    listing = tmp_path / "list.txt"
    # Repeated lines are skipped once each, the first one counting.
    lines = [*links, links[3], links[0], *images]
    listing.write_text("".join(f"{line}\n" for line in lines))
    from_file = cli("blur-score", "--files-from", listing, "--format", "jsonl", "--jobs", "2")
    assert from_file.exit_code == 0, from_file.stderr
    piped = tmp_path / "piped.jsonl"
    pipe = Pipe(listing.read_bytes(), piped)
    result = run_with_stdin(
        ["blur-score", "--files-from", "-", "-o", piped, "--jobs", "2"], io.BufferedReader(pipe)
    )
    assert result.exit_code == 0, result.output
    assert piped.read_text() == from_file.stdout
    paths = [r["path"] for r in parse_jsonl(from_file.stdout)]
    assert paths == [str(p) for p in [*links, *images]]
    assert "44 scored, 0 failed, 2 skipped" in from_file.stderr


@pytest.mark.parametrize("listed", [False, True])
def test_a_folder_of_earlier_outputs_alone_is_no_error_with_or_without_a_list(
    cli: CliRun, images: list[Path], tmp_path: Path, listed: bool
) -> None:
    # The earlier output is passed over and said so; that is not "no images found".
    folder = tmp_path / "done"
    folder.mkdir()
    (folder / "photo.sobel.png").write_bytes(images[0].read_bytes())
    listing = tmp_path / "empty.txt"
    listing.write_text("")
    extra = ["--files-from", listing] if listed else []
    result = cli("blur-score", folder, *extra, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "0 scored, 0 failed, 0 skipped, 1 earlier outputs ignored" in result.stderr


def test_resume_over_a_pipe_finishes_the_log_to_the_same_bytes(
    cli: CliRun, images: list[Path], tmp_path: Path
) -> None:
    links = many_names(images, 30)
    text = "".join(f"{link}\n" for link in links).encode()
    whole = tmp_path / "whole.jsonl"
    done = run_with_stdin(["blur-score", "--files-from", "-", "-o", whole], text)
    assert done.exit_code == 0
    log = tmp_path / "log.jsonl"
    # A stopped run: its first 11 records, the last one cut short.
    kept = whole.read_bytes().splitlines(keepends=True)[:11]
    log.write_bytes(b"".join(kept)[:-9])
    pipe = Pipe(text, log)
    resumed = run_with_stdin(
        ["blur-score", "--files-from", "-", "-o", log, "--resume"], io.BufferedReader(pipe)
    )
    assert resumed.exit_code == 0, resumed.output
    assert log.read_bytes() == whole.read_bytes()
    assert "20 scored, 0 failed, 0 skipped, 10 already recorded" in resumed.output


def test_a_list_on_a_pipe_cannot_feed_the_output_to_itself(
    images: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "out.jsonl"
    first = run_with_stdin(["blur-score", "--files-from", "-", "-o", log], f"{images[0]}\n")
    assert first.exit_code == 0
    alias = tmp_path / "alias.png"
    os.link(log, alias)
    listed = f"{images[1]}\n{alias}\n".encode()
    result = run_with_stdin(
        ["blur-score", "--files-from", "-", "-o", log, "--resume"],
        io.BufferedReader(Pipe(listed, log)),
    )
    assert result.exit_code == 1
    assert f"{alias} is this run's output {log}; refusing to read it" in result.output


def test_a_walk_is_refused_as_the_output_before_it_is_replaced(
    cli: CliRun, images: list[Path]
) -> None:
    target = images[0].parent / "links" / "x.png"
    target.parent.mkdir()
    os.link(images[2], target)
    before = images[2].read_bytes()
    result = cli("blur-score", images[0].parent, "--format", "jsonl", "-o", target, "--overwrite")
    assert result.exit_code == 1
    assert "is an input of this run" in result.stderr
    assert images[2].read_bytes() == before


@pytest.fixture
def mixed(images: list[Path], tmp_path: Path) -> list[Path]:
    """Images and two short clips, interleaved, as a user would name them."""
    pytest.importorskip("av")
    clips = []
    texture = np.random.default_rng(9).integers(0, 256, (48, 128, 3), dtype=np.uint8)
    for n, frames in ((0, 7), (1, 5)):
        path = tmp_path / f"clip{n}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
        for i in range(frames):
            writer.write(np.ascontiguousarray(texture[:, i * 4 + n : i * 4 + n + 64]))
        writer.release()
        clips.append(path)
    return [images[0], clips[0], images[1], images[2], clips[1], images[3]]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_videos_are_interleaved_in_input_order_as_in_a_whole_run(
    cli: CliRun, mixed: list[Path], tmp_path: Path, jobs: str
) -> None:
    # The JSON document is written once the run is over, from every record held.
    whole = cli("blur-score", *mixed, "--format", "json", "--sort", "name", "--jobs", jobs)
    assert whole.exit_code == 0, whole.stderr
    streamed = cli("blur-score", *mixed, "--format", "jsonl", "--jobs", jobs)
    assert streamed.exit_code == 0, streamed.stderr
    records = parse_jsonl(streamed.stdout)
    assert records == json.loads(whole.stdout)
    runs = [(r["path"], r["frame"]) for r in records]
    expected = [
        (str(mixed[0]), None),
        *((str(mixed[1]), i) for i in range(7)),
        (str(mixed[2]), None),
        (str(mixed[3]), None),
        *((str(mixed[4]), i) for i in range(5)),
        (str(mixed[5]), None),
    ]
    assert runs == expected
    log = tmp_path / "log.jsonl"
    assert cli("blur-score", *mixed, "-o", log, "--jobs", jobs).exit_code == 0
    assert log.read_text() == streamed.stdout


def test_seen_tells_repeats_across_its_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Seen, "RECENT", 8)
    rng = random.Random(4)
    names = [f"img/{rng.randrange(300)}.png" for _ in range(2000)]
    seen = Seen()
    expected, met = [], set()
    for name in names:
        expected.append(name not in met)
        met.add(name)
    assert [seen.add(name) for name in names] == expected
    assert sum(expected) == len(met)
    assert len(met) > 250


def test_an_uncounted_run_shows_its_count_without_a_bar() -> None:
    times = iter([0.0, 1.0, 2.0])
    bar = Progress(None, "scoring", drawn=False, clock=lambda: next(times))
    bar.update(4)
    assert bar.line(2.0) == "scoring  4  elapsed 00:00:02  4.0 img/s"


def test_the_bar_counts_a_list_file_first_and_a_pipe_as_it_goes(
    cli: CliRun, images: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("edgegrad_cli.report.stderr_is_terminal", lambda: True)
    links = many_names(images, 30)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{line}\n" for line in [*links, links[0], links[1]]))
    log = tmp_path / "log.jsonl"
    log.write_text(cli("blur-score", *links[:5], "--format", "jsonl").stdout)
    counted = cli("blur-score", "--files-from", listing, "-o", log, "--resume")
    assert counted.exit_code == 0, counted.stderr
    # 30 names, 2 lines repeated, 4 recorded (the fifth link is the first's file,
    # which a walk does once): 26 to score, known from the start.
    assert "4 already recorded" in counted.stderr
    assert "1/26" in counted.stderr
    assert "26/26" in counted.stderr
    piped = tmp_path / "piped.jsonl"
    stream = io.BufferedReader(Pipe(listing.read_bytes(), piped))
    result = run_with_stdin(["blur-score", "--files-from", "-", "-o", piped], stream)
    assert result.exit_code == 0, result.output
    last = result.output.split("\r\x1b[K")[-1]
    assert last.startswith("scoring  30  elapsed ")
