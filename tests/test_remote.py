"""Inputs and outputs at URLs, through fsspec, against real servers on 127.0.0.1.

Two servers are started by the tests themselves: Python's ``http.server`` in a
thread (port 0) serving a copy of the sample images, a text file named
``.png`` and nothing at some names (404); and moto's S3-compatible server
(``ThreadedMotoServer``, port 0) holding the same files under a prefix.
Credentials are fake and reach the runs through the environment
(``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``), never the command line. Runs
are subprocesses, so their worker processes see that environment; 16 inputs
or more run on the process pool, whose workers read the bytes themselves.

Every score read through a URL must equal, bit for bit, the score of the
same file read locally.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edgegrad.errors import ImageReadError
from edgegrad.io import URL, iter_images, read_image_checked

pytestmark = pytest.mark.server

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
EDGEGRAD = [sys.executable, "-m", "edgegrad"]
BUCKET = "shots"


def _tree(root: Path) -> Path:
    """The served tree: photos at the top, a sub-folder, a fake PNG, a hidden file, a text file."""
    for name in ("astronaut.jpg", "brick.png", "camera.png"):
        shutil.copy(SAMPLES / name, root / name)
    (root / "deep").mkdir()
    shutil.copy(SAMPLES / "coffee.png", root / "deep" / "coffee.png")
    shutil.copy(SAMPLES / "rocket.jpg", root / "deep" / "Rocket Shot.JPG")
    (root / "deep" / "fake.png").write_text("not an image at all\n")
    (root / ".hidden.png").write_bytes((SAMPLES / "brick.png").read_bytes())
    (root / "notes.txt").write_text("no image\n")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("served"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """No access log on stderr; a reader that stops early is not an error."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            return


@pytest.fixture(scope="module")
def web(tree: Path) -> Iterator[str]:
    """The base URL (ending in /) of an HTTP server on 127.0.0.1 serving ``tree``."""
    pytest.importorskip("aiohttp", reason="http:// inputs need aiohttp (edgegrad[remote])")
    handler = functools.partial(_Quiet, directory=str(tree))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    except OSError as error:
        pytest.skip(f"cannot start an HTTP server on 127.0.0.1: {error}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3(tree: Path) -> Iterator[dict[str, str]]:
    """The environment of runs that reach a moto S3 server on 127.0.0.1 holding ``tree``.

    ``tree`` is uploaded under ``s3://shots/photos/``.
    """
    pytest.importorskip("s3fs", reason="s3:// inputs need s3fs (edgegrad[s3])")
    moto = pytest.importorskip("moto.server", reason="the S3 tests need moto[server]")
    before = {name: os.environ.get(name) for name in [*FAKE_CREDENTIALS, "AWS_ENDPOINT_URL"]}
    os.environ.update(FAKE_CREDENTIALS)
    try:
        server = moto.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
    except Exception as error:
        pytest.skip(f"cannot start moto's S3 server on 127.0.0.1: {error}")
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint})
    fs.mkdir(BUCKET)
    fs.put(f"{tree}/", f"{BUCKET}/photos/", recursive=True)
    yield {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    server.stop()
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def run(*args: object, env: dict[str, str] | None = None, stdin: str | None = None) -> Any:
    """``edgegrad ARGS`` in a subprocess, with ``env`` added to this one's environment."""
    return subprocess.run(
        [*EDGEGRAD, *(str(arg) for arg in args)],
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
    )


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def local_scores(tree: Path, names: list[str]) -> list[float]:
    """Scores of the files read locally, in the given order."""
    result = run("blur-score", *(tree / name for name in names), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return [record["score"] for record in records(result.stdout)]


#: What a recursive walk of the tree finds, in the walk's order (depth first, by name).
WALKED = ["astronaut.jpg", "brick.png", "camera.png", "deep/Rocket Shot.JPG", "deep/coffee.png"]
WALKED_WITH_FAKE = [*WALKED[:4], "deep/coffee.png", "deep/fake.png"]


def test_http_folder_is_walked_like_the_local_folder_and_scores_are_identical(
    web: str, tree: Path
) -> None:
    local = run("blur-score", f"{tree}/", "--format", "jsonl")
    remote = run("blur-score", web, "--format", "jsonl")
    assert local.returncode == remote.returncode == 3, remote.stderr
    got, want = records(remote.stdout), records(local.stdout)
    # Same files in the same order, the same scores to the bit, the same failure.
    relative = [r["path"].removeprefix(web).replace("%20", " ") for r in got]
    assert relative == WALKED_WITH_FAKE
    assert [r["path"].removeprefix(f"{tree}/") for r in want] == WALKED_WITH_FAKE
    for a, b in zip(got, want, strict=True):
        assert (a["score"], a["width"], a["height"]) == (b["score"], b["width"], b["height"])
    assert (
        got[-1]["error"] == f"{web}deep/fake.png: not a recognised image format (looks like text)"
    )
    assert "1 failed" in remote.stderr


def test_a_404_and_a_non_image_are_failure_records_and_the_batch_goes_on(web: str) -> None:
    result = run(
        "blur-score",
        f"{web}missing.png",
        f"{web}camera.png",
        f"{web}notes.txt",
        "--format",
        "jsonl",
    )
    assert result.returncode == 3
    got = records(result.stdout)
    assert [r["path"] for r in got] == [f"{web}missing.png", f"{web}camera.png", f"{web}notes.txt"]
    assert got[0]["error"] == f"{web}missing.png: no such file (not found)"
    assert got[1]["error"] is None
    assert got[1]["score"] > 0
    assert got[2]["error"].startswith(f"{web}notes.txt: not a recognised image format")
    assert f"error: {web}missing.png: no such file (not found)" in result.stderr
    assert "1 scored, 2 failed" in result.stderr


def test_credentials_in_a_url_are_never_shown(web: str) -> None:
    secret = web.replace("http://", "http://alice:hunter2@")
    signed = f"{web}missing.png?X-Amz-Signature=deadbeef&v=1"
    result = run("blur-score", f"{secret}missing.png", signed, "--format", "jsonl")
    assert result.returncode == 3
    assert "hunter2" not in result.stdout + result.stderr
    assert "alice" not in result.stdout + result.stderr
    assert "deadbeef" not in result.stdout + result.stderr
    got = records(result.stdout)
    assert got[0]["path"] == f"{web}missing.png"
    assert got[1]["path"] == f"{web}missing.png?X-Amz-Signature=%2A%2A%2A&v=1"


def test_library_reads_a_url_with_the_same_pixels_and_names_it_in_errors(
    web: str, tree: Path
) -> None:
    remote = read_image_checked(f"{web}deep/coffee.png", mode="color")
    local = read_image_checked(tree / "deep" / "coffee.png", mode="color")
    assert remote.path == URL(f"{web}deep/coffee.png")
    assert (remote.array == local.array).all()
    assert remote.array.dtype == local.array.dtype
    with pytest.raises(ImageReadError, match=r"/missing\.png: no such file \(not found\)$"):
        read_image_checked(f"{web}missing.png")


def test_a_url_larger_than_its_header_explains_is_refused_before_it_is_read(
    web: str, tree: Path
) -> None:
    # 65 MiB of zeros after a 4x4 PNG's header: more than 4x4 pixels and 64 MiB of
    # metadata can take, so only the first megabyte is read before it is refused.
    big = tree / "padded.png"
    ok, encoded = cv2.imencode(".png", np.zeros((4, 4), np.uint8))
    assert ok
    with big.open("wb") as file:
        file.write(encoded.tobytes()[:33])  # signature and IHDR
        file.truncate(65 * 1024 * 1024)
    try:
        with pytest.raises(ImageReadError, match=r"more than the 4x4 PNG its header declares"):
            read_image_checked(f"{web}padded.png")
    finally:
        big.unlink()


def test_s3_prefix_is_walked_recursively_with_include_and_exclude(
    s3: dict[str, str], tree: Path
) -> None:
    prefix = f"s3://{BUCKET}/photos"
    everything = run("blur-score", prefix, "--format", "jsonl", env=s3)
    assert everything.returncode == 3, everything.stderr
    got = records(everything.stdout)
    assert [r["path"] for r in got] == [f"{prefix}/{name}" for name in WALKED_WITH_FAKE]
    scored = [r["score"] for r in got[:-1]]
    assert scored == local_scores(tree, WALKED)
    # --include and --exclude match names and relative paths, ignoring case, as locally.
    some = run(
        "blur-score", f"{prefix}/", "--include", "*.jpg", "--exclude", "deep/*", "--format",
        "jsonl", env=s3,
    )  # fmt: skip
    assert some.returncode == 0, some.stderr
    assert [r["path"] for r in records(some.stdout)] == [f"{prefix}/astronaut.jpg"]
    flat = run("blur-score", prefix, "--no-recursive", "--format", "jsonl", env=s3)
    assert [r["path"] for r in records(flat.stdout)] == [f"{prefix}/{n}" for n in WALKED[:3]]


def test_iter_images_lists_a_prefix_with_every_entry_accounted_for(
    s3: dict[str, str],
) -> None:
    passed: list[tuple[str, str]] = []
    found = list(
        iter_images(
            f"s3://{BUCKET}/photos/",
            exclude=["*.JPG"],
            on_other=lambda path, reason: passed.append((str(path), reason)),
        )
    )
    assert [str(url) for url in found] == [
        f"s3://{BUCKET}/photos/{name}"
        for name in ("brick.png", "camera.png", "deep/coffee.png", "deep/fake.png")
    ]
    assert sorted(passed) == [
        (f"s3://{BUCKET}/photos/.hidden.png", "hidden (its name begins with a dot)"),
        (f"s3://{BUCKET}/photos/astronaut.jpg", "matches an exclude pattern"),
        (f"s3://{BUCKET}/photos/deep/Rocket Shot.JPG", "matches an exclude pattern"),
        (f"s3://{BUCKET}/photos/notes.txt", "not an image by its extension (.txt)"),
    ]


def test_a_missing_s3_object_is_a_failure_record(s3: dict[str, str]) -> None:
    result = run("blur-score", f"s3://{BUCKET}/photos/nope.png", "--format", "jsonl", env=s3)
    assert result.returncode == 3
    (record,) = records(result.stdout)
    assert record["error"] == f"s3://{BUCKET}/photos/nope.png: no such file (not found)"


def test_output_to_s3_is_uploaded_whole(s3: dict[str, str], tree: Path, tmp_path: Path) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3["AWS_ENDPOINT_URL"]})
    target = f"s3://{BUCKET}/runs/scores.jsonl"
    result = run("blur-score", f"{tree}/", "-o", target, env=s3)
    assert result.returncode == 3, result.stderr
    uploaded = fs.cat_file(target).decode()
    local = run("blur-score", f"{tree}/", "--format", "jsonl")
    assert uploaded == local.stdout
    # It exists now: refused without --overwrite (a usage error, before any work).
    again = run("blur-score", f"{tree}/", "-o", target, env=s3)
    assert again.returncode == 2
    assert "exists; pass --overwrite" in again.stderr
    table = f"s3://{BUCKET}/runs/scores.json"
    whole = run("blur-score", f"{tree}/", "--sort", "score", "-o", table, env=s3)
    assert whole.returncode == 3
    assert len(json.loads(fs.cat_file(table))) == len(WALKED_WITH_FAKE)
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet needs pyarrow (edgegrad[parquet])")
    parquet = f"s3://{BUCKET}/runs/scores.parquet"
    assert run("blur-score", f"{tree}/", "-o", parquet, env=s3).returncode == 3
    with fs.open(parquet, "rb") as file:
        assert pq.read_table(file).to_pylist() == records(local.stdout)
    refused = run("blur-score", f"{tree}/", "-o", target, "--resume", env=s3)
    assert refused.returncode == 2
    assert "a store cannot append to an object" in refused.stderr


def test_files_from_a_file_and_from_stdin_mixing_paths_and_urls(
    web: str, s3: dict[str, str], tree: Path, tmp_path: Path
) -> None:
    # 18 entries (so the process pool runs them), a blank line, a repeated one.
    entries = []
    for name in WALKED:
        entries += [str(tree / name), f"{web}{name.replace(' ', '%20')}"]
        entries += [f"s3://{BUCKET}/photos/{name}"]
    entries += [f"{web}gone.png", str(tree / "gone.png"), f"s3://{BUCKET}/gone.png"]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([*entries[:5], "", entries[0], *entries[5:]]) + "\n")
    from_file = run("blur-score", "--files-from", listing, "--format", "jsonl", env=s3)
    from_stdin = run(
        "blur-score", "--files-from", "-", "--format", "jsonl", env=s3, stdin=listing.read_text()
    )
    for result in (from_file, from_stdin):
        assert result.returncode == 3, result.stderr
        got = records(result.stdout)
        assert [r["path"] for r in got] == entries
        scores = [r["score"] for r in got[:-3]]
        assert scores == [s for s in local_scores(tree, WALKED) for _ in range(3)]
        assert [r["error"] for r in got[-3:]] == [
            f"{web}gone.png: no such file (not found)",
            f"{tree / 'gone.png'}: no such file",
            f"s3://{BUCKET}/gone.png: no such file (not found)",
        ]
        assert "15 scored, 3 failed, 1 skipped" in result.stderr


def test_files_from_reads_names_as_bytes_and_strips_only_the_newline(tmp_path: Path) -> None:
    odd = tmp_path / os.fsdecode(b"caf\xe9 .png")  # Latin-1 bytes, and a trailing space
    shutil.copy(SAMPLES / "brick.png", odd)
    listing = tmp_path / "list.bin"
    listing.write_bytes(os.fsencode(odd) + b"\n   \n")
    result = run("blur-score", "--files-from", listing, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    (record,) = records(result.stdout)
    assert os.fsencode(record["path"]) == os.fsencode(odd)


def test_url_usage_errors(tmp_path: Path) -> None:
    nothing = run("blur-score")
    assert nothing.returncode == 2
    assert "give PATHS to score, or --files-from FILE" in nothing.stderr
    web_output = run("blur-score", SAMPLES / "brick.png", "-o", "https://example.org/x.jsonl")
    assert web_output.returncode == 2
    assert "http(s):// URLs cannot be written" in web_output.stderr
    acting = run(
        "blur-score", "http://127.0.0.1:9/a.png", "--threshold", "5", "--move-to", tmp_path
    )
    assert acting.returncode == 2
    assert "act on local files only" in acting.stderr
    filtering = run("sobel", "s3://bucket/photo.png")
    assert filtering.returncode == 2
    assert "is a URL: only blur-score reads URLs" in filtering.stderr
