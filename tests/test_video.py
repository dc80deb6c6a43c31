"""Videos: told by content, decoded with PyAV, scored frame by frame, sharp frames written.

Every clip is made here: with OpenCV's VideoWriter (MJPEG AVI, MPEG-4 part 2 in
MP4 and MPEG-TS, FFV1 in Matroska), and re-stamped with PyAV where OpenCV
cannot write what a test needs (variable frame rate).
"""

from __future__ import annotations

import csv
import importlib
import itertools
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import CliRun

import edgegrad.io._video
from edgegrad.errors import (
    FileReadError,
    ImageReadError,
    ImageTooLargeError,
    OutputExistsError,
    PartialImageWarning,
)
from edgegrad.io import (
    FRAMES_TABLE,
    image_extensions,
    is_video,
    iter_frames,
    iter_images,
    open_video,
    read_image,
)
from edgegrad.io._formats import sniff_video
from edgegrad.jobs import FrameRule, extract_frames, score_frames
from edgegrad.select import sharpest_spaced

av = pytest.importorskip("av")

FPS = 25
WINDOWS = 16  # one-second windows, each with one sharp frame
SIZE = (160, 120)  # width, height


def sharp_frames() -> list[int]:
    """One frame a window, at a different place in each window."""
    return [w * FPS + (7 * w + 3) % FPS for w in range(WINDOWS)]


def texture(seed: int = 0, size: tuple[int, int] = SIZE) -> np.ndarray[Any, np.dtype[np.uint8]]:
    width, height = size
    noise = np.random.default_rng(seed).integers(0, 256, (height, width * 2, 3), dtype=np.uint8)
    return np.asarray(cv2.GaussianBlur(noise, (0, 0), 0.8), np.uint8)


def picture(i: int, sharp: set[int], base: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Frame ``i``: the texture panned; blurred (by 2 to 4 pixels) unless it is sharp."""
    width = SIZE[0]
    frame = np.ascontiguousarray(base[:, i % width : i % width + width])
    return frame if i in sharp else cv2.GaussianBlur(frame, (0, 0), 2.0 + i % 3)


def write_clip(
    path: Path, fourcc: str, frames: int, draw: Callable[[int], np.ndarray[Any, Any]]
) -> Path:
    first = draw(0)
    size = (first.shape[1], first.shape[0])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    for i in range(frames):
        writer.write(first if i == 0 else draw(i))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The 16-window clip in four containers, and a copy without a telling name."""
    folder = tmp_path_factory.mktemp("clips")
    sharp, base = set(sharp_frames()), texture()
    frames = WINDOWS * FPS

    def draw(i: int) -> np.ndarray[Any, Any]:
        return picture(i, sharp, base)

    made = {
        "avi": write_clip(folder / "clip.avi", "MJPG", frames, draw),
        "mp4": write_clip(folder / "clip.mp4", "mp4v", frames, draw),
        "mkv": write_clip(folder / "clip.mkv", "FFV1", frames, draw),
        "ts": write_clip(folder / "clip.ts", "mp4v", frames, draw),
    }
    hidden = folder / "clip-avi.bin"
    hidden.write_bytes(made["avi"].read_bytes())
    made["bin"] = hidden
    return made


def truncated(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


# --- telling videos by content ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "container"),
    [("avi", "avi"), ("mp4", "mp4"), ("mkv", "matroska"), ("ts", "mpegts"), ("bin", "avi")],
)
def test_videos_are_told_by_content(clips: dict[str, Path], kind: str, container: str) -> None:
    head = clips[kind].read_bytes()[:1024]
    assert sniff_video(head) == container
    assert is_video(clips[kind])
    with open_video(clips[kind]) as video:
        assert video.info.format == container


def test_images_and_text_are_not_videos(tmp_path: Path, samples_dir: Path) -> None:
    for sample in ("camera.png", "astronaut.jpg"):
        assert not is_video(samples_dir / sample)
    gif = tmp_path / "g.gif"
    # A GIF starts with 0x47, the MPEG-TS sync byte; make it repeat where packets start.
    data = bytearray(b"GIF89a" + bytes(1200))
    for start in range(0, 1200, 188):
        data[start] = 0x47
    gif.write_bytes(bytes(data))
    text = tmp_path / "notes.ts"
    text.write_text("export const x = 1;\n" * 50)
    assert not is_video(gif)
    assert not is_video(text)
    assert not is_video(tmp_path / "none.mp4")
    assert not is_video(tmp_path)


def test_reading_a_video_as_an_image_says_it_is_a_video(clips: dict[str, Path]) -> None:
    with pytest.raises(ImageReadError, match=r"is a video \(AVI\), not an image"):
        read_image(clips["bin"])


def test_folders_pick_up_video_extensions(tmp_path: Path) -> None:
    assert {".mp4", ".mov", ".mkv", ".webm", ".avi", ".ts", ".m4v"} <= image_extensions()
    for name in ("a.MP4", "b.mov", "c.jpg", "d.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in iter_images(tmp_path)] == ["a.MP4", "b.mov", "c.jpg"]


# --- decoding ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["avi", "mp4", "mkv", "ts"])
def test_every_frame_in_order_with_its_time(clips: dict[str, Path], kind: str) -> None:
    found = [(i, t, a.shape, a.dtype) for i, t, a in iter_frames(clips[kind])]
    assert [i for i, *_ in found] == list(range(WINDOWS * FPS))
    assert [t for _, t, *_ in found] == pytest.approx([i / FPS for i in range(WINDOWS * FPS)])
    assert {shape for *_, shape, _ in found} == {(SIZE[1], SIZE[0])}
    assert {dtype for *_, dtype in found} == {np.dtype(np.uint8)}


def test_the_gray_image_is_the_luma_plane_as_coded(tmp_path: Path) -> None:
    # FFV1 in YUV is lossless: the gray image must be the coded luma exactly, in
    # its limited range (16 black, 235 white), with no conversion. A width of 90
    # makes the plane's rows longer than the frame (line_size).
    rng = np.random.default_rng(4)
    lumas = [rng.integers(16, 236, (24, 90), dtype=np.uint8) for _ in range(3)]
    clip = tmp_path / "luma.mkv"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("ffv1", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 90, 24, "yuv420p"
        for luma in lumas:
            planes = np.concatenate([luma, np.full((12, 90), 128, np.uint8)])
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with open_video(clip) as video:
        for frame, luma in zip(video.frames(), lumas, strict=True):
            gray = frame.gray()
            assert frame.luma.base is not None  # a view of the decoder's plane
            assert gray.shape == (24, 90)
            assert not gray.flags.writeable
            assert np.array_equal(gray, luma)
            # Colour expands the range: gray chroma, so each channel is (Y - 16) * 255 / 219.
            colour = frame.color()
            expanded = np.clip((luma.astype(float) - 16) * 255 / 219, 0, 255)
            assert np.abs(colour.astype(float) - expanded[..., None]).max() <= 2


@pytest.mark.parametrize(("suffix", "fourcc"), [(".avi", "MJPG"), (".mp4", "mp4v")])
def test_colour_is_what_was_written(tmp_path: Path, suffix: str, fourcc: str) -> None:
    # MJPEG is full-range YUV, MPEG-4 limited-range: both come back as written.
    colours = [(255, 0, 0), (0, 200, 0), (30, 60, 220), (128, 128, 128), (0, 0, 0)]

    def draw(i: int) -> np.ndarray[Any, Any]:
        return np.full((64, 64, 3), colours[i % len(colours)], np.uint8)

    clip = write_clip(tmp_path / f"colours{suffix}", fourcc, len(colours), draw)
    found = [a for _, _, a in iter_frames(clip, mode="color")]
    for image, bgr in zip(found, colours, strict=True):
        assert np.abs(image[16:48, 16:48].astype(int) - bgr).max() <= 8


def test_rgb_video_is_made_gray_by_ffmpeg(tmp_path: Path) -> None:
    # OpenCV writes FFV1 as BGRA: there is no luma plane to take.
    clip = write_clip(
        tmp_path / "rgb.mkv", "FFV1", 2, lambda i: np.full((16, 32, 3), 100 * i, np.uint8)
    )
    with open_video(clip) as video:
        grays = [f.gray() for f in video.frames()]
    assert [int(g.mean()) for g in grays] == [0, 100]


def test_deep_video_gives_16_bit_luma_at_full_scale(tmp_path: Path) -> None:
    clip = tmp_path / "deep.mkv"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("ffv1", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 16, "yuv420p10le"
        for value in (0, 32768, 65535):
            plane = np.full((16, 64), value, np.uint16)
            frame = av.VideoFrame.from_ndarray(plane, format="gray16le")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    found = [a for _, _, a in iter_frames(clip)]
    assert [a.dtype for a in found] == [np.uint16] * 3
    # swscale codes black and white as the limited-range luma 64 and 940; bit
    # replication takes a 10-bit code c to (c << 6) | (c >> 4), so 1023 would be 65535.
    values = [int(a.min()) for a in found]
    codes = [value >> 6 for value in values]
    assert values == [(c << 6) | (c >> 4) for c in codes]
    assert codes[0] == 64
    # 940, give or take swscale's rounding (941 in FFmpeg 8, 943 in 7).
    assert 935 <= codes[2] <= 945
    assert codes[0] < codes[1] < codes[2]
    assert all(int(a.max()) == int(a.min()) for a in found)


def test_variable_frame_rate_times_come_from_the_timestamps(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    # OpenCV writes constant rates only: re-stamp its MJPEG frames in Matroska.
    stamps_ms = [0, 40, 80, 200, 210, 220, 1000, 1033, 1500, 3000]
    clip = tmp_path / "vfr.mkv"
    with av.open(str(clips["avi"])) as source, av.open(str(clip), "w") as out:
        stream = out.add_stream("mjpeg", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuvj420p"
        stream.time_base = Fraction(1, 1000)
        packets = source.demux(source.streams.video[0])
        for stamp, packet in zip(stamps_ms, packets, strict=False):
            packet.stream = stream
            packet.pts = packet.dts = stamp
            packet.time_base = Fraction(1, 1000)
            out.mux(packet)
    found = [(i, t) for i, t, _ in iter_frames(clip)]
    assert found == [(i, s / 1000) for i, s in enumerate(stamps_ms)]
    # --fps takes the first frame at or after each 1/F s.
    assert [i for i, _, _ in iter_frames(clip, fps=2)] == [0, 6, 8, 9]


def test_step_and_fps_sample_frames(clips: dict[str, Path]) -> None:
    assert [i for i, _, _ in iter_frames(clips["avi"], step=100)] == [0, 100, 200, 300]
    # The first frame at or after each half second: 0, 0.52, 1.0, 1.52, ...
    times = [t for _, t, _ in iter_frames(clips["avi"], fps=2)]
    assert times == pytest.approx([math.ceil(k * FPS / 2) / FPS for k in range(2 * WINDOWS)])
    with pytest.raises(ValueError, match="give one of them"):
        list(iter_frames(clips["avi"], step=2, fps=2))
    with pytest.raises(ValueError, match="mode"):
        list(iter_frames(clips["avi"], mode="unchanged"))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["avi", "mp4", "mkv"])
def test_reading_resumes_after_a_recorded_frame(clips: dict[str, Path], kind: str) -> None:
    with open_video(clips[kind]) as video:
        every = [(f.index, f.time, f.gray().copy()) for f in video.frames()]
    index, when, _ = every[237]
    with open_video(clips[kind]) as video:
        rest = [(f.index, f.time, f.gray().copy()) for f in video.frames(after=(index, when))]
    assert [(i, t) for i, t, _ in rest] == [(i, t) for i, t, _ in every[238:]]
    assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(rest, every[238:], strict=True))
    # A time no frame has (the log came from elsewhere): counted from the start.
    with open_video(clips[kind]) as video:
        again = [f.index for f in video.frames(after=(390, 15.61))]
    assert again == list(range(391, 400))


def test_a_rotated_clip_is_shown_turned(tmp_path: Path) -> None:
    clip = tmp_path / "portrait.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        if not hasattr(stream, "set_display_rotation"):
            pytest.skip("this PyAV cannot write a display rotation")
        stream.set_display_rotation(90)
        image = np.zeros((32, 64, 3), np.uint8)
        image[:, :8] = 255  # a white stripe on the left
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with open_video(clip) as video:
        frame = next(iter(video.frames()))
        assert (frame.width, frame.height) == (32, 64)
        gray, colour = frame.gray(), frame.color()
    assert gray.shape == (64, 32)
    assert colour.shape == (64, 32, 3)
    # Turned a quarter counter-clockwise, as players show it: the stripe is at the bottom.
    assert gray[-4:].mean() > 200
    assert gray[:40].mean() < 60


# --- damage and refusals -----------------------------------------------------------------


@pytest.mark.parametrize(("kind", "fraction"), [("avi", 0.6), ("mkv", 0.6), ("ts", 0.6)])
def test_a_truncated_video_is_an_error_after_the_frames_before_the_cut(
    clips: dict[str, Path], tmp_path: Path, kind: str, fraction: float
) -> None:
    clip = truncated(clips[kind], tmp_path / f"cut.{kind}", fraction)
    found: list[int] = []
    with pytest.raises(FileReadError, match=r"damaged or truncated video after frame \d+") as error:
        found.extend(i for i, _, _ in iter_frames(clip))
    assert str(clip) in str(error.value)
    assert 0.45 * WINDOWS * FPS < len(found) < (fraction + 0.05) * WINDOWS * FPS
    assert found == list(range(len(found)))
    # With allow_partial the reading goes on to the cut, and says so once.
    with pytest.warns(PartialImageWarning, match=str(clip.name)):
        partial = [i for i, _, _ in iter_frames(clip, allow_partial=True)]
    assert len(found) <= len(partial) < WINDOWS * FPS


def test_an_mp4_cut_short_cannot_be_opened(clips: dict[str, Path], tmp_path: Path) -> None:
    clip = truncated(clips["mp4"], tmp_path / "cut.mp4", 0.9)
    with pytest.raises(FileReadError, match=r"cannot be opened as a video.*loses the index"):
        open_video(clip)


def test_corrupt_data_mid_stream_stops_the_reading(clips: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(clips["mp4"].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(2).bytes(3000)
    clip = tmp_path / "corrupt.mp4"
    clip.write_bytes(bytes(data))
    found: list[int] = []
    with pytest.raises(FileReadError, match="damaged or truncated video after frame"):
        found.extend(i for i, _, _ in iter_frames(clip))
    assert 100 < len(found) < 300


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.mp4", None, "no such file"),
        ("", None, "is a directory"),
        ("empty.mp4", b"", "file is empty"),
        ("photo.mp4", b"\x89PNG\r\n\x1a\n" + bytes(64), "not a recognised video container"),
    ],
)
def test_what_is_not_a_readable_video_is_named(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(FileReadError, match=message):
        open_video(path)


def test_frames_larger_than_max_pixels_are_refused(clips: dict[str, Path]) -> None:
    with pytest.raises(ImageTooLargeError, match="160x120 = 19,200 pixels a frame, above"):
        open_video(clips["avi"], max_pixels=19_199)


def test_a_file_named_like_an_ffmpeg_url_is_a_file(clips: dict[str, Path], tmp_path: Path) -> None:
    clip = tmp_path / "concat:clip.avi"
    clip.write_bytes(clips["avi"].read_bytes())
    assert sum(1 for _ in iter_frames(clip, step=50)) == 8


def test_without_pyav_the_message_says_what_to_install(
    clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.import_module

    def no_av(name: str, *args: Any) -> Any:
        if name == "av":
            raise ImportError("No module named 'av'")
        return real(name, *args)

    monkeypatch.setattr(edgegrad.io._video.importlib, "import_module", no_av)
    with pytest.raises(FileReadError, match=r'needs PyAV.*pip install "edgegrad\[video\]"'):
        open_video(clips["avi"])


# --- scoring and choosing frames (the library) ---------------------------------------


def test_score_frames_finds_the_sharp_frames(clips: dict[str, Path]) -> None:
    scores = list(score_frames(clips["mp4"]))
    assert [s.frame for s in scores] == list(range(WINDOWS * FPS))
    ranked = sorted(scores, key=lambda s: -s.score)
    assert {s.frame for s in ranked[:WINDOWS]} == set(sharp_frames())
    assert ranked[WINDOWS - 1].score > 3 * ranked[WINDOWS].score
    with pytest.raises(ValueError, match="method"):
        score_frames(clips["mp4"], method="sharpness")


@pytest.mark.parametrize("rule", [FrameRule(every=1.0), FrameRule(count=WINDOWS)])
@pytest.mark.parametrize("kind", ["mp4", "mkv"])
def test_each_window_gives_its_sharp_frame(
    clips: dict[str, Path], tmp_path: Path, rule: FrameRule, kind: str
) -> None:
    done = extract_frames(clips[kind], tmp_path / "out", rule=rule)
    # The target is 15 of 16 windows; the generated clip gives all 16.
    assert [c.frame for c in done.chosen] == sharp_frames()
    assert done.windows == WINDOWS
    assert done.decoded == WINDOWS * FPS
    assert done.error is None


def test_best_picks_only_sharp_frames_and_respects_the_gap(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    done = extract_frames(clips["mp4"], tmp_path / "out", rule=FrameRule(best=8, min_gap=1.0))
    picked = [c.frame for c in done.chosen]
    assert len(picked) == 8
    assert set(picked) <= set(sharp_frames())
    times = [c.time for c in done.chosen]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    scores = [s.score for s in score_frames(clips["mp4"])]
    expected = sharpest_spaced([i / FPS for i in range(len(scores))], scores, 8, 1.0)
    assert picked == expected


def test_threshold_leaves_out_blurry_windows_and_counts_them(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    # Half-second windows: every other window holds no sharp frame.
    done = extract_frames(
        clips["mp4"], tmp_path / "out", rule=FrameRule(every=0.5), threshold=100.0
    )
    assert done.windows == 2 * WINDOWS
    assert done.blurry == WINDOWS
    assert [c.frame for c in done.chosen] == sharp_frames()


def test_frames_are_decoded_once_and_coloured_only_when_written(
    clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Path] = []
    coloured: list[int] = []
    real_open, real_color = edgegrad.jobs.open_video, edgegrad.io._video.VideoFrame.color

    def counting_open(path: Path, **options: Any) -> Any:
        opened.append(path)
        return real_open(path, **options)

    def counting_color(self: Any) -> Any:
        coloured.append(self.index)
        return real_color(self)

    monkeypatch.setattr(edgegrad.jobs, "open_video", counting_open)
    monkeypatch.setattr(edgegrad.io._video.VideoFrame, "color", counting_color)
    done = extract_frames(clips["avi"], tmp_path / "out", rule=FrameRule(best=5, min_gap=0.5))
    assert opened == [clips["avi"]]
    assert sorted(coloured) == [c.frame for c in done.chosen]


def test_held_frames_beyond_the_budget_are_written_early_and_removed_if_dropped(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    roomy = extract_frames(clips["avi"], tmp_path / "roomy", rule=FrameRule(best=6, min_gap=2))
    tight = extract_frames(clips["avi"], out, rule=FrameRule(best=6, min_gap=2), hold_bytes=1)
    assert tight.chosen == roomy.chosen
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([c.file for c in tight.chosen] + [FRAMES_TABLE])


def test_written_frames_and_their_table(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = extract_frames(clips["mkv"], out, rule=FrameRule(every=4.0))
    with (out / FRAMES_TABLE).open(newline="", encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    assert list(rows[0]) == ["frame", "time", "score", "file"]
    assert [int(r["frame"]) for r in rows] == [c.frame for c in done.chosen]
    assert [float(r["time"]) for r in rows] == [c.frame / FPS for c in done.chosen]
    for row in rows:
        assert row["file"] == f"frame_{int(row['frame']):06d}.png"
        written = cv2.imread(str(out / row["file"]), cv2.IMREAD_UNCHANGED)
        expected = picture(int(row["frame"]), set(sharp_frames()), texture())
        assert written.shape == (SIZE[1], SIZE[0], 3)
        # FFV1 is lossless; what is left is 4:2:0 chroma and YUV rounding.
        assert np.abs(written.astype(int) - expected).mean() < 6


def test_an_earlier_runs_frames_are_kept_unless_overwrite(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = extract_frames(clips["avi"], out, rule=FrameRule(best=4, min_gap=3))
    with pytest.raises(OutputExistsError, match="from an earlier run"):
        extract_frames(clips["avi"], out, rule=FrameRule(best=2, min_gap=3))
    again = extract_frames(clips["avi"], out, rule=FrameRule(best=2, min_gap=3), overwrite=True)
    assert again.removed == 2
    assert {c.file for c in again.chosen} <= {c.file for c in first.chosen}
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [c.file for c in again.chosen] + [FRAMES_TABLE]
    )


def test_a_truncated_clip_still_gives_the_frames_before_the_cut(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    clip = truncated(clips["avi"], tmp_path / "cut.avi", 0.5)
    done = extract_frames(clip, tmp_path / "out", rule=FrameRule(every=1.0))
    assert done.error is not None
    assert "truncated" in done.error
    assert [c.frame for c in done.chosen] == sharp_frames()[: len(done.chosen)]
    assert 6 <= len(done.chosen) <= 8


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one of every, count, best"),
        ({"every": 1.0, "best": 2}, "exactly one"),
        ({"every": 1.0, "min_gap": 1.0}, "only with best"),
        ({"best": 2, "min_gap": -1.0}, "at least 0"),
        ({"count": 0}, "count"),
    ],
)
def test_a_rule_is_one_of_three(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FrameRule(**options)


# --- the command line -------------------------------------------------------------------


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_blur_score_gives_one_record_per_frame(cli: CliRun, clips: dict[str, Path]) -> None:
    result = cli("blur-score", clips["mp4"], "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    records = jsonl(result.stdout)
    assert [r["frame"] for r in records] == list(range(WINDOWS * FPS))
    assert [r["time"] for r in records] == pytest.approx([i / FPS for i in range(WINDOWS * FPS)])
    assert {(r["path"], r["width"], r["height"]) for r in records} == {(str(clips["mp4"]), *SIZE)}
    assert f"{WINDOWS * FPS} scored, 0 failed" in result.stderr


def test_blur_score_samples_ranks_and_judges_frames(cli: CliRun, clips: dict[str, Path]) -> None:
    csv_out = cli("blur-score", clips["avi"], "--frame-step", "50", "--format", "csv")
    assert csv_out.exit_code == 0, csv_out.stderr
    lines = csv_out.stdout.splitlines()
    assert lines[0] == "path,score,method,width,height,blurry,warning,error,frame,time"
    assert [line.split(",")[-2] for line in lines[1:]] == [str(i) for i in range(0, 400, 50)]
    best = cli("blur-score", clips["avi"], "--fps", "5", "--best", "3", "--format", "json")
    assert best.exit_code == 0, best.stderr
    picked = json.loads(best.stdout)
    assert len(picked) == 3
    assert all(r["frame"] in sharp_frames() and r["frame"] % 5 == 0 for r in picked)
    judged = cli("blur-score", clips["avi"], "--threshold", "100", "--format", "jsonl")
    flagged = [r["frame"] for r in jsonl(judged.stdout) if not r["blurry"]]
    assert flagged == sharp_frames()
    assert f"{WINDOWS * FPS - WINDOWS} blurry" in judged.stderr
    tripped = cli("blur-score", clips["avi"], "--fail-under", "100", "--fps", "1")
    assert tripped.exit_code == 4
    usage = cli("blur-score", clips["avi"], "--fps", "2", "--frame-step", "3")
    assert usage.exit_code == 2
    assert "give --fps or --frame-step, not both" in usage.stderr


def test_a_folder_mixing_photos_and_videos(
    cli: CliRun, clips: dict[str, Path], tmp_path: Path, samples_dir: Path
) -> None:
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    for name in ("camera.png", "rocket.jpg"):
        (folder / name).write_bytes((samples_dir / name).read_bytes())
    (folder / "sub" / "b.avi").write_bytes(clips["avi"].read_bytes())
    (folder / "a.mkv").write_bytes(clips["mkv"].read_bytes())
    result = cli("blur-score", folder, "--frame-step", "100", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    records = jsonl(result.stdout)
    seen = [(Path(r["path"]).relative_to(folder).as_posix(), r["frame"]) for r in records]
    assert seen == [
        *[("a.mkv", i) for i in range(0, 400, 100)],
        ("camera.png", None),
        ("rocket.jpg", None),
        *[("sub/b.avi", i) for i in range(0, 400, 100)],
    ]
    assert all(r["time"] is None for r in records if r["frame"] is None)
    table = cli("blur-score", folder, "--frame-step", "200")
    assert table.exit_code == 0
    header = table.stdout.splitlines()[0].split()
    assert header == ["#", "score", "size", "frame", "time", "path", "note"]


def test_a_truncated_video_fails_with_its_frames_kept(
    cli: CliRun, clips: dict[str, Path], tmp_path: Path
) -> None:
    clip = truncated(clips["mkv"], tmp_path / "cut.mkv", 0.5)
    result = cli("blur-score", clip, "--format", "jsonl")
    assert result.exit_code == 3
    records = jsonl(result.stdout)
    assert records[-1]["error"].startswith(f"{clip}: damaged or truncated video after frame")
    assert records[-1]["frame"] is None
    assert records[-1]["score"] is None
    assert [r["frame"] for r in records[:-1]] == list(range(len(records) - 1))
    assert len(records) > 150
    assert f"error: {clip}: damaged or truncated" in result.stderr


def test_blur_score_without_pyav_names_the_extra(
    cli: CliRun, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch, samples_dir: Path
) -> None:
    real = importlib.import_module
    monkeypatch.setattr(
        edgegrad.io._video.importlib,
        "import_module",
        lambda name, *a: (_ for _ in ()).throw(ImportError(name)) if name == "av" else real(name),
    )
    result = cli("blur-score", clips["avi"], samples_dir / "camera.png")
    assert result.exit_code == 3
    assert 'reading video needs PyAV, which is not installed: pip install "edgegrad[video]"' in (
        result.stderr
    )


def test_resume_continues_a_clip_after_its_last_recorded_frame(
    cli: CliRun, clips: dict[str, Path], tmp_path: Path, samples_dir: Path
) -> None:
    inputs = [clips["mp4"], samples_dir / "camera.png", clips["avi"]]
    whole = tmp_path / "whole.jsonl"
    assert cli("blur-score", *inputs, "-o", whole).exit_code == 0
    lines = whole.read_text("utf-8").splitlines(True)
    log = tmp_path / "log.jsonl"
    # A run stopped inside the first clip, in the middle of writing a line.
    log.write_text("".join(lines[:123]) + lines[123][:40], "utf-8")
    resumed = cli("blur-score", *inputs, "-o", log, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert log.read_text("utf-8") == whole.read_text("utf-8")
    assert "123 already recorded" in resumed.stderr
    # Run again: nothing is left to do, and nothing is added.
    again = cli("blur-score", *inputs, "-o", log, "--resume")
    assert again.exit_code == 0
    assert log.read_text("utf-8") == whole.read_text("utf-8")
    assert "0 scored" in again.stderr


def test_resume_refuses_a_csv_log_without_frame_columns(
    cli: CliRun, clips: dict[str, Path], tmp_path: Path
) -> None:
    log = tmp_path / "old.csv"
    log.write_text("path,score,method,width,height,blurry,warning,error\na.png,1,lapv,2,2,,,\n")
    result = cli("blur-score", clips["avi"], "-o", log, "--resume")
    assert result.exit_code == 2
    assert "whose records had no frame and time columns" in result.stderr


@pytest.mark.skipif(os.name != "posix", reason="kills a process group")
def test_a_killed_run_loses_only_the_frames_in_flight(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    long_clip = tmp_path / "long.avi"
    sharp, base = set(sharp_frames()), texture()
    write_clip(long_clip, "MJPG", 1000, lambda i: picture(i, sharp, base))
    log, whole = tmp_path / "log.jsonl", tmp_path / "whole.jsonl"
    command = [sys.executable, "-m", "edgegrad", "blur-score", str(long_clip)]
    process = subprocess.Popen([*command, "-o", str(log)], start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not log.exists() or log.stat().st_size < 4000):
        time.sleep(0.02)
    os.killpg(process.pid, 9)
    process.wait(timeout=30)
    kept = log.read_text("utf-8").count("\n")
    assert 0 < kept < 1000
    subprocess.run([*command, "-o", str(log), "--resume"], check=True, capture_output=True)
    subprocess.run([*command, "-o", str(whole)], check=True, capture_output=True)
    assert log.read_text("utf-8") == whole.read_text("utf-8")


def test_frames_writes_the_sharp_frame_of_each_window(
    cli: CliRun, clips: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "frames"
    result = cli("frames", clips["mp4"], "--every", "1", "-o", out)
    assert result.exit_code == 0, result.stderr
    folder = out / "clip"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"frame_{i:06d}.png" for i in sharp_frames()] + [FRAMES_TABLE])
    assert f"16 frames to {folder}/ (the sharpest of each of 16 windows of 1 s" in result.stderr
    again = cli("frames", clips["mp4"], "--every", "1", "-o", out)
    assert again.exit_code == 3
    assert "holds frames of an earlier run" in again.stderr
    assert "--overwrite" in again.stderr
    replaced = cli(
        "frames", clips["mp4"], "--best", "3", "--min-gap", "2", "-o", out, "--overwrite"
    )
    assert replaced.exit_code == 0, replaced.stderr
    assert len(list(folder.glob("frame_*.png"))) == 3
    assert "removed 13 frames of the earlier run" in replaced.stderr


def test_frames_count_threshold_and_failures(
    cli: CliRun, clips: dict[str, Path], tmp_path: Path, samples_dir: Path
) -> None:
    cut = truncated(clips["avi"], tmp_path / "cut.avi", 0.5)
    out = tmp_path / "out"
    result = cli(
        "frames", clips["mkv"], cut, samples_dir / "camera.png",
        "--count", "32", "--threshold", "100", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 3
    assert f"{clips['mkv']}: 16 windows left out, their sharpest frame scoring below 100" in (
        result.stderr
    )
    assert f"error: {cut}: damaged or truncated video" in result.stderr
    assert "camera.png: is not a video" in result.stderr
    assert len(list((out / "cut").glob("frame_*.png"))) >= 6
    assert (out / "cut" / FRAMES_TABLE).is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --every SECONDS, --count N, --best N"),
        (["--every", "1", "--count", "3"], "got --every, --count"),
        (["--every", "1", "--min-gap", "1"], "--min-gap goes with --best N"),
    ],
)
def test_frames_usage(
    cli: CliRun, clips: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli("frames", clips["avi"], "-o", tmp_path / "out", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_frames_of_two_videos_of_one_name_do_not_mix(
    cli: CliRun, clips: dict[str, Path], tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "take.avi").write_bytes(clips["avi"].read_bytes())
    (b / "take.avi").write_bytes(clips["avi"].read_bytes())
    named = cli("frames", a / "take.avi", b / "take.avi", "--every", "8", "-o", tmp_path / "o1")
    assert named.exit_code == 3
    assert "rename one of them" in named.stderr
    walked = cli("frames", tmp_path, "--every", "8", "-o", tmp_path / "o2")
    assert walked.exit_code == 0, walked.stderr
    assert (tmp_path / "o2" / "a" / "take" / FRAMES_TABLE).is_file()
    assert (tmp_path / "o2" / "b" / "take" / FRAMES_TABLE).is_file()
