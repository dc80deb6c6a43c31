"""Reading videos frame by frame: told by content, decoded by PyAV with its own FFmpeg.

Decoding rules, written down once
---------------------------------
* **Content, not extension.** A file is a video when its first bytes are those
  of an MP4/MOV, Matroska/WebM, AVI or MPEG-TS container
  (:func:`edgegrad.io._formats.sniff_video`). The first video stream is
  decoded; a stream that only holds a cover picture is passed over.
* **PyAV.** Decoding goes through PyAV (``pip install "edgegrad[video]"``),
  whose wheels bring their own FFmpeg, so no ``ffmpeg`` program is needed.
  The file is opened here and handed to FFmpeg as a file object, so a name
  such as ``pipe:1`` or ``concat:a|b`` is a file name, never an FFmpeg
  protocol. The decoder runs its own threads (``thread_type = "AUTO"``: frame
  and slice threads, one per core) while the caller works on earlier frames.
* **Luma without conversion.** A YUV frame's first plane *is* its gray image:
  :meth:`VideoFrame.gray` is a read-only view of that plane, rows of
  ``line_size`` bytes cut to the frame's width, with no colour conversion and
  no copy. 8-bit video gives uint8; 9- to 16-bit video gives uint16 scaled to
  the full 16-bit range by bit replication (so a 10-bit 1023 is 65535, and
  scores are on the same 8-bit-equivalent scale). The luma keeps the range it
  was coded in: in limited-range ("TV") video black is 16 and white 235, so
  LAPV scores there are about (219/255)² = 0.74 times those of the same
  picture expanded to full range. Other pixel formats (RGB, palette, packed
  YUV) are converted to gray by FFmpeg's swscale.
* **Colour as a player shows it.** :meth:`VideoFrame.color` converts to BGR
  (8-bit, or 16-bit for deeper video), full range, with the matrix the stream
  declares; an untagged stream gets BT.601 below 720 lines and BT.709 from
  720 up, as players guess. The display rotation a phone records is applied
  to :meth:`~VideoFrame.color` and :meth:`~VideoFrame.gray` (not to
  :attr:`~VideoFrame.luma`, the plane as stored).
* **Time** is ``(pts - start) × time_base`` in seconds, from the stream's own
  timestamps (so variable frame rates come out right), counted from the
  stream's start; a frame without a timestamp gets the previous frame's time
  plus one frame at the average rate. ``index`` counts every decoded frame
  from 0, in presentation order, whatever is sampled.
* **Integrity.** A demuxer or decoder error, a packet the demuxer flags as
  corrupt, an error FFmpeg logs while decoding (for example "File ended
  prematurely", or damaged macroblocks it had to conceal), or fewer frames than
  the container declares, is damage. Damage ends the reading with a
  :class:`~edgegrad.errors.FileReadError` naming the file, after every frame
  decoded before it was yielded; with ``allow_partial=True`` the reading goes
  on and every frame from the one before the damage on carries a warning. A
  truncated MP4/MOV whose index was to be written at its end cannot be opened
  at all. An MPEG-TS holds no length, so a cut one is only found by the
  damage at the cut.
* **Memory** stays flat: frames are decoded one after another and released
  when the caller lets go of them.

FFmpeg's log messages reach this module through PyAV's bridge to
:mod:`logging` (the ``libav`` logger, at ``ERROR``) while a video is open;
PyAV's own level is put back when the last one closes. Two videos open in one
process at once both see each other's messages.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import math
import os
import queue
import re
import stat
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal, TypeAlias, get_args

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad._validate import (
    check_bool,
    check_choice,
    check_int,
    check_path,
    check_real,
)
from edgegrad.errors import (
    FileReadError,
    ImageTooLargeError,
    ImageWriteError,
    PartialImageWarning,
)
from edgegrad.io._formats import VIDEO_HEAD, sniff_video
from edgegrad.io._fs import BINARY, StrPath, os_reason
from edgegrad.io._read import MAX_PIXELS_ENV, _resolve_max_pixels
from edgegrad.io._write import write_image, write_text

if TYPE_CHECKING:
    import av
    import av.container
    import av.video.frame
    import av.video.stream

__all__ = [
    "FRAMES_TABLE",
    "FRAME_NAME",
    "VIDEO_INSTALL",
    "VIDEO_MODES",
    "FrameFolder",
    "VideoFrame",
    "VideoInfo",
    "VideoMode",
    "VideoReader",
    "is_video",
    "iter_frames",
    "open_video",
    "video_support",
]

VideoMode: TypeAlias = Literal["gray", "color"]
VIDEO_MODES: tuple[VideoMode, ...] = get_args(VideoMode)
#: What a user without the optional dependency is told to run.
VIDEO_INSTALL: Final = 'pip install "edgegrad[video]"'

# PyAV's buffer between FFmpeg and the Python file object: large reads, few calls.
_IO_BUFFER = 1 << 20
# AV_DISPOSITION_ATTACHED_PIC: a stream that holds a cover picture, not video.
_ATTACHED_PICTURE = 0x0400
# AVColorSpace values and the swscale matrix each means (libavutil/pixfmt.h).
_MATRICES: Final = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M"}
_BT2020: Final = frozenset({9, 10})
# AVColorRange: 2 is full ("JPEG"/"PC") range.
_FULL_RANGE = 2
# Frames decoded ahead of the caller, on a thread of their own (see _read_ahead).
_READ_AHEAD = 4
# Two timestamps this close (seconds) name the same frame.
_SAME_TIME = 1e-6
# cv2.rotate codes that turn a stored picture counter-clockwise by 90, 180, 270 degrees.
_ROTATIONS: Final = {
    90: cv2.ROTATE_90_COUNTERCLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_CLOCKWISE,
}


def _pyav(path: Path) -> ModuleType:
    """The ``av`` module, or a FileReadError that says how to install it."""
    try:
        return importlib.import_module("av")
    except ImportError:
        raise FileReadError(
            path, f"reading video needs PyAV, which is not installed: {VIDEO_INSTALL}"
        ) from None


def video_support() -> bool:
    """Whether PyAV, which reads videos, is installed (the ``video`` extra)."""
    return importlib.util.find_spec("av") is not None


def is_video(path: StrPath) -> bool:
    """Whether ``path`` is a regular file whose content starts like a video container.

    Only the first kilobyte is read. A file that cannot be opened is not a
    video here (reading it as an image then reports why).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     clip = pathlib.Path(folder) / "clip.bin"
    ...     _ = clip.write_bytes(b"\\x1aE\\xdf\\xa3" + bytes(100))  # an EBML (Matroska) header
    ...     is_video(clip), is_video(pathlib.Path(folder) / "missing.mp4")
    (True, False)
    """
    try:
        fd = os.open(check_path(path), os.O_RDONLY | BINARY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        return sniff_video(os.read(fd, VIDEO_HEAD)) is not None
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says about its video stream, before decoding.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    format : str
        The container sniffed from the content: ``"mp4"`` (MP4/MOV),
        ``"matroska"`` (Matroska/WebM), ``"avi"`` or ``"mpegts"``.
    codec : str
        FFmpeg's name of the stream's codec, for example ``"h264"``.
    width, height : int
        Frame size as coded. A phone's display rotation is known per frame
        (:attr:`VideoFrame.width` and :attr:`VideoFrame.height` are as shown).
    frames : int or None
        The number of frames the container declares, or None if it does not.
    duration : float or None
        Seconds, from the stream (else the container), or None if unknown.
    rate : float or None
        Average frames per second, or None if unknown.
    """

    path: Path
    format: str
    codec: str
    width: int
    height: int
    frames: int | None
    duration: float | None
    rate: float | None


class VideoFrame:
    """One decoded frame: where it is, its luma, and its colour on demand.

    Made by :meth:`VideoReader.frames`. The frame's pixels stay in the
    decoder's buffer while the object lives; holding many frames holds their
    memory (about 3 MB for a 1080p frame).

    Attributes
    ----------
    index : int
        0-based position among every decoded frame of the stream.
    time : float
        Seconds from the start of the stream, from its timestamps.
    width, height : int
        Size as shown, after the display rotation.
    warning : str or None
        With ``allow_partial=True``: the damage found so far in the stream,
        which may concern this frame (see the module's rules). Else None.
    """

    __slots__ = ("_frame", "_rotation", "height", "index", "time", "warning", "width")

    def __init__(
        self,
        frame: av.video.frame.VideoFrame,
        index: int,
        time: float,
        rotation: int,
        warning: str | None,
    ) -> None:
        self._frame = frame
        self._rotation = rotation
        self.index = index
        self.time = time
        self.warning = warning
        turned = rotation in (90, 270)
        self.width = frame.height if turned else frame.width
        self.height = frame.width if turned else frame.height

    def __repr__(self) -> str:
        return f"VideoFrame(index={self.index}, time={self.time!r}, {self.width}x{self.height})"

    @property
    def nbytes(self) -> int:
        """Bytes of decoded pixels this frame holds (all planes, padding included)."""
        return sum(plane.buffer_size for plane in self._frame.planes)

    @property
    def luma(self) -> npt.NDArray[Any]:
        """The gray image as stored (before the display rotation): see :meth:`gray`."""
        frame = self._frame
        direct = _luma_plane(frame)
        if direct is not None:
            return direct
        deep = _depth(frame) > 8
        gray = frame.to_ndarray(format="gray16le" if deep else "gray")
        return np.asarray(gray, np.uint16 if deep else np.uint8)

    def gray(self) -> npt.NDArray[Any]:
        """The frame's gray image, as shown: its luma plane, without colour conversion.

        A read-only view of the decoder's buffer when no rotation applies
        (uint8 for 8-bit video, uint16 for deeper video, scaled to 16 bits).
        """
        return _rotated(self.luma, self._rotation)

    def color(self) -> npt.NDArray[Any]:
        """The frame in BGR, full range, as a player shows it (a new array).

        uint8 for 8-bit video, uint16 (``bgr48``) for deeper video.
        """
        frame = self._frame
        deep = _depth(frame) > 8
        options: dict[str, Any] = {"format": "bgr48le" if deep else "bgr24"}
        if not frame.format.is_rgb:
            options.update(_yuv_options(frame))
        bgr = np.asarray(frame.to_ndarray(**options), np.uint16 if deep else np.uint8)
        return _rotated(bgr, self._rotation)


def _depth(frame: av.video.frame.VideoFrame) -> int:
    return max(component.bits for component in frame.format.components)


def _luma_plane(frame: av.video.frame.VideoFrame) -> npt.NDArray[Any] | None:
    """Plane 0 as the gray image, if it holds the luma alone in native samples; else None."""
    fmt = frame.format
    components = fmt.components
    first = components[0]
    alone = sum(component.plane == 0 for component in components) == 1
    native = fmt.name.endswith("le") or first.bits == 8
    msb_aligned = fmt.name.startswith(("p0", "p2", "p4"))
    if not (first.is_luma and alone and native) or msb_aligned or fmt.has_palette:
        return None
    plane = frame.planes[0]
    buffer: Any = plane  # PyAV's planes expose the buffer protocol
    bits = first.bits
    if bits == 8:
        rows = np.frombuffer(buffer, np.uint8).reshape(-1, plane.line_size)
        view = rows[: frame.height, : frame.width]
        view.flags.writeable = False
        return view
    rows16 = np.frombuffer(buffer, np.uint16).reshape(-1, plane.line_size // 2)
    samples = rows16[: frame.height, : frame.width]
    if bits == 16:
        samples.flags.writeable = False
        return samples
    # Bit replication: 0 stays 0 and the largest code becomes 65535.
    shift = 16 - bits
    return np.asarray((samples << shift) | (samples >> (bits - shift)), np.uint16)


def _yuv_options(frame: av.video.frame.VideoFrame) -> dict[str, Any]:
    """swscale's source matrix and range for a YUV frame, and full-range output."""
    matrix = _MATRICES.get(int(frame.colorspace))
    if matrix is None and int(frame.colorspace) in _BT2020:
        matrix = "BT2020"
    if matrix is None:
        matrix = "ITU709" if min(frame.width, frame.height) >= 720 else "ITU601"
    full = int(frame.color_range) == _FULL_RANGE or frame.format.name.startswith("yuvj")
    return {
        "src_colorspace": matrix,
        "src_color_range": "JPEG" if full else "MPEG",
        "dst_color_range": "JPEG",
    }


def _rotated(image: npt.NDArray[Any], rotation: int) -> npt.NDArray[Any]:
    code = _ROTATIONS.get(rotation)
    return image if code is None else np.asarray(cv2.rotate(image, code), image.dtype)


class _FFmpegLog(logging.Handler):
    """Collects the errors FFmpeg logs, for every open :class:`VideoReader`.

    Installed on the ``libav`` logger while at least one video is open, with
    PyAV's level at ``ERROR``; removed, and PyAV's level put back, when the
    last one closes.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.sinks: list[list[str]] = []
        self.previous_level: int | None = None
        self.previous_skip = True

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().strip()
        for sink in self.sinks:
            sink.append(message)

    def attach(self, av: ModuleType, sink: list[str]) -> None:
        if not self.sinks:
            self.previous_level = av.logging.get_level()
            self.previous_skip = av.logging.get_skip_repeated()
            if self.previous_level is None or self.previous_level < av.logging.ERROR:
                av.logging.set_level(av.logging.ERROR)
            # PyAV holds back a repeated message and sends it with the next
            # one, which may come from the next video: every message, at once.
            av.logging.set_skip_repeated(False)
            logging.getLogger("libav").addHandler(self)
        self.sinks.append(sink)

    def detach(self, av: ModuleType, sink: list[str]) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)
        if not self.sinks:
            logging.getLogger("libav").removeHandler(self)
            av.logging.set_level(self.previous_level)
            av.logging.set_skip_repeated(self.previous_skip)


_LOG = _FFmpegLog()


class _DamageError(Exception):
    """Internal: the stream is damaged here; the message says how."""


class VideoReader:
    """An open video: its :attr:`info`, and its frames one by one.

    Made by :func:`open_video`; use it as a context manager, or call
    :meth:`close`. One call of :meth:`frames` at a time.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_pixels: int | None = None,
        allow_partial: bool = False,
    ) -> None:
        self.path = path
        self._allow_partial = check_bool(allow_partial, "allow_partial")
        self._limit = _resolve_max_pixels(max_pixels)
        self._av = _pyav(path)
        self._logs: list[str] = []
        self._warning: str | None = None
        self._whole = True
        self._file: BinaryIO | None = None
        self._container: av.container.InputContainer | None = None
        kind = self._open_file()
        try:
            self._open_container()
            self.info = self._describe(kind)
        except BaseException:
            self.close()
            raise

    def _open_file(self) -> str:
        """Open the file itself (never an FFmpeg URL); return its container kind."""
        path = self.path
        try:
            fd = os.open(path, os.O_RDONLY | BINARY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            reason = "is a dangling symbolic link" if path.is_symlink() else "no such file"
            raise FileReadError(path, reason) from None
        except OSError as error:
            reason = "is a directory" if path.is_dir() else os_reason(error)
            raise FileReadError(path, reason) from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise FileReadError(path, "is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise FileReadError(path, "is not a regular file")
            if info.st_size == 0:
                raise FileReadError(path, "file is empty (0 bytes)")
            os.set_blocking(fd, True)
            self._file = open(fd, "rb")  # noqa: SIM115 (closed by close())
        except BaseException:
            if self._file is None:
                os.close(fd)
            raise
        try:
            head = self._file.read(VIDEO_HEAD)
            self._file.seek(0)
        except OSError as error:
            self.close()
            raise FileReadError(path, os_reason(error)) from None
        kind = sniff_video(head)
        if kind is None:
            self.close()
            raise FileReadError(
                path,
                "not a recognised video container (MP4/MOV, Matroska/WebM, AVI or MPEG-TS) "
                f"(starts with bytes {head[:8].hex(' ')})",
            )
        return kind

    def _open_container(self) -> None:
        pyav = self._av
        _LOG.attach(pyav, self._logs)
        try:
            self._container = pyav.open(self._file, "r", buffer_size=_IO_BUFFER)
        except pyav.FFmpegError as error:
            raise FileReadError(self.path, _opening_failed(error, self._logs)) from None
        streams = [
            stream
            for stream in self._container.streams.video
            if not int(getattr(stream, "disposition", 0)) & _ATTACHED_PICTURE
        ]
        if not streams:
            raise FileReadError(self.path, "holds no video stream")
        self._stream: av.video.stream.VideoStream = streams[0]
        self._stream.thread_type = "AUTO"

    def _describe(self, kind: str) -> VideoInfo:
        stream = self._stream
        context = stream.codec_context
        width, height = int(context.width or 0), int(context.height or 0)
        self._check_size(width, height)
        time_base = stream.time_base
        duration: float | None = None
        if stream.duration is not None and time_base is not None:
            duration = float(stream.duration * time_base)
        elif self._container is not None and self._container.duration is not None:
            duration = self._container.duration / 1_000_000
        rate = stream.average_rate or stream.guessed_rate
        self._start = stream.start_time if stream.start_time is not None else None
        self._time_base: Fraction = time_base or Fraction(1, 1_000_000)
        self._rate = float(rate) if rate else None
        return VideoInfo(
            path=self.path,
            format=kind,
            codec=context.name,
            width=width,
            height=height,
            frames=int(stream.frames) or None,
            duration=duration,
            rate=self._rate,
        )

    def _check_size(self, width: int, height: int) -> None:
        if width * height > self._limit:
            raise ImageTooLargeError(
                self.path,
                f"its video stream declares {width}x{height} = {width * height:,} pixels a "
                f"frame, above the limit of {self._limit:,} (raise max_pixels, --max-pixels on "
                f"the command line, or {MAX_PIXELS_ENV} to read it)",
            )

    def close(self) -> None:
        """Close the container and the file; closing again does nothing."""
        container, self._container = self._container, None
        try:
            if container is not None:
                self._drain()
                container.close()
        finally:
            _LOG.detach(self._av, self._logs)
            file, self._file = self._file, None
            if file is not None:
                file.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def frames(
        self,
        *,
        step: int = 1,
        fps: float | None = None,
        after: tuple[int, float] | None = None,
    ) -> Iterator[VideoFrame]:
        """Decode the frames in order, yielding those sampled.

        Parameters
        ----------
        step : int, optional
            Yield every ``step``-th frame: those whose index is a multiple of
            it (default 1, every frame).
        fps : float, optional
            Yield at most this many frames a second: the first frame at or
            after each multiple of ``1 / fps`` seconds. Give ``step`` or
            ``fps``, not both.
        after : (int, float), optional
            The index and time of a frame yielded before (by an earlier run):
            start with the frames after it. The video is sought to the key
            frame before that time and decoded from there, and the frame with
            that time is taken to have that index; if it is not found there,
            the video is decoded from its start instead.

        Yields
        ------
        VideoFrame

        Raises
        ------
        FileReadError
            On damage (see the module's rules), after the frames before it,
            unless ``allow_partial`` was given.
        ImageTooLargeError
            If a frame is larger than ``max_pixels``.
        TypeError, ValueError
            For a ``step``, ``fps`` or ``after`` of the wrong type or range.
        """
        step = check_int(step, "step", minimum=1)
        if fps is not None:
            fps = check_real(fps, "fps", positive=True)
            if step != 1:
                raise ValueError("step and fps both sample frames; give one of them, not both")
        if after is not None:
            after = _check_after(after)
        if self._container is None:
            raise ValueError(f"{self.path}: the video is closed")
        sampled = _Sampling(step, fps, after)
        for frame in self._decoded(after):
            if sampled.keep(frame.index, frame.time):
                yield frame

    def _decoded(self, after: tuple[int, float] | None) -> Iterator[VideoFrame]:
        """Every frame after ``after``, one decoded frame held back to take its damage."""
        held: VideoFrame | None = None
        damage: str | None = None
        try:
            for frame in _read_ahead(self._frames_after(after), _READ_AHEAD):
                if held is not None:
                    yield held
                held = frame
        except _DamageError as found:
            damage = str(found)
        if held is not None:
            held.warning = held.warning or self._warning
            yield held
        if damage is not None:
            where = f"after frame {held.index} ({held.time:.3f} s)" if held else "before any frame"
            raise FileReadError(
                self.path,
                f"damaged or truncated video {where}: {damage}; the frames before it were read",
            )

    def _frames_after(self, after: tuple[int, float] | None) -> Iterator[VideoFrame]:
        if after is None:
            yield from self._numbered()
            return
        index, time = after
        self._seek(time)
        found: int | None = None
        for frame in self._numbered():
            if found is None:
                if abs(frame.time - time) <= _SAME_TIME:
                    found = index - frame.index
                    continue
                if frame.time < time:
                    continue
                break  # the seek went past the frame: count from the start instead
            frame.index += found
            yield frame
        if found is not None:
            return
        self._seek(None)
        for frame in self._numbered():
            if frame.index > index:
                yield frame

    def _drain(self) -> None:
        """Let the decoder's threads finish the frames they hold, without the GIL.

        FFmpeg logs through PyAV's callback, which takes the GIL; freeing or
        flushing a codec context holds the GIL while it waits for the
        decoder's threads, so a thread that logs just then would deadlock.
        Drained first, the threads are idle.
        """
        with contextlib.suppress(self._av.FFmpegError):
            self._stream.decode(None)

    def _seek(self, time: float | None) -> None:
        container, stream = self._container, self._stream
        assert container is not None
        self._drain()
        start = self._start or 0
        target = start if time is None else start + math.floor(time / self._time_base)
        container.seek(target, stream=stream, backward=True, any_frame=False)
        self._logs.clear()
        # The declared frame count checks a reading from the start only.
        self._whole = time is None

    def _numbered(self) -> Iterator[VideoFrame]:
        """Decode to the end: each frame with its index and time; damage raised as _DamageError.

        After a seek, indices count from the first frame decoded there.
        """
        pyav, stream, logs = self._av, self._stream, self._logs
        container = self._container
        assert container is not None
        index = 0
        previous: float | None = None
        step = 1 / self._rate if self._rate else 0.0
        try:
            for packet in container.demux(stream):
                if packet.is_corrupt:
                    self._damage("the demuxer marked a packet corrupt")
                try:
                    decoded = stream.decode(packet)
                except pyav.FFmpegError as error:
                    self._damage(_reason(error, logs))
                    continue
                if logs:
                    self._damage(logs[0])
                for frame in decoded:
                    if frame.pts is not None:
                        if self._start is None:
                            self._start = frame.pts
                        time = float((frame.pts - self._start) * self._time_base)
                    else:
                        time = 0.0 if previous is None else previous + step
                    self._check_size(frame.width, frame.height)
                    rotation = round(float(getattr(frame, "rotation", 0) or 0) / 90) % 4 * 90
                    yield VideoFrame(frame, index, time, rotation, self._warning)
                    previous = time
                    index += 1
        except pyav.FFmpegError as error:
            self._damage(_reason(error, logs))
            return
        declared = int(stream.frames or 0)
        if self._whole and declared and index < declared:
            self._damage(f"it ends after {index} of the {declared} frames its header declares")

    def _damage(self, reason: str) -> None:
        """Note damage: raise it, or with ``allow_partial`` keep it as the warning."""
        self._logs.clear()
        if not self._allow_partial:
            raise _DamageError(reason)
        self._warning = self._warning or f"damaged video data, read on (allow_partial): {reason}"


def _read_ahead(frames: Iterator[VideoFrame], depth: int) -> Iterator[VideoFrame]:
    """``frames``, decoded on a thread of their own up to ``depth`` frames ahead.

    The decoder's own threads only work on the packets they were given, so
    while the caller scores a frame, decoding would wait; pulling frames on a
    second Python thread (PyAV decodes without the GIL) keeps them busy, and
    takes a 1080p clip's scoring from about 1.3 to 1.2 times the time of
    decoding it (``benchmarks/README.md``). An exception in decoding reaches
    the caller after the frames decoded before it. Closing the generator
    stops the thread and waits for it, so the container is never used by two
    threads at once.
    """
    if depth < 1:
        yield from frames
        return
    slots: queue.Queue[tuple[VideoFrame | None, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: tuple[VideoFrame | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not put((frame, None)):
                    return
        except BaseException as error:  # handed to the caller, who raises it
            put((None, error))
            return
        put((None, None))

    worker = threading.Thread(target=produce, name="edgegrad-video-decode", daemon=True)
    worker.start()
    try:
        while True:
            frame, error = slots.get()
            if error is not None:
                raise error
            if frame is None:
                return
            yield frame
    finally:
        stop.set()
        worker.join()
        close = getattr(frames, "close", None)
        if close is not None:
            close()


class _Sampling:
    """Which frames :meth:`VideoReader.frames` yields: every ``step``-th, or ``fps`` a second."""

    def __init__(self, step: int, fps: float | None, after: tuple[int, float] | None) -> None:
        self.step = step
        self.fps = fps
        self.last_bin = -1 if after is None or fps is None else self._bin(after[1])

    def _bin(self, time: float) -> int:
        assert self.fps is not None
        return math.floor(time * self.fps + 1e-9)

    def keep(self, index: int, time: float) -> bool:
        if self.fps is None:
            return index % self.step == 0
        slot = self._bin(time)
        if slot <= self.last_bin:
            return False
        self.last_bin = slot
        return True


def _check_after(after: object) -> tuple[int, float]:
    if not (isinstance(after, tuple) and len(after) == 2):
        raise TypeError(f"after must be a tuple (index, time); got {after!r}")
    index = check_int(after[0], "after[0]", minimum=0)
    time = check_real(after[1], "after[1]")
    return index, time


def _reason(error: Exception, logs: list[str]) -> str:
    text = getattr(error, "strerror", None) or str(error)
    detail = logs[0] if logs else None
    return f"{text.lower()} ({detail})" if detail and detail not in text else text.lower()


def _opening_failed(error: Exception, logs: list[str]) -> str:
    reason = _reason(error, logs)
    return (
        f"cannot be opened as a video: {reason} (an MP4/MOV cut short loses the index it "
        "keeps at its end, and cannot be read at all)"
    )


def open_video(
    path: StrPath, *, max_pixels: int | None = None, allow_partial: bool = False
) -> VideoReader:
    """Open a video file for reading its frames.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its container is told by its content.
    max_pixels : int, optional
        Largest accepted ``width * height`` of a frame. Default: the
        environment variable ``EDGEGRAD_MAX_PIXELS``, else 250 000 000.
    allow_partial : bool, optional
        Keep reading past damage, with a warning on the frames from it on
        (default ``False``: damage ends the reading with an error).

    Returns
    -------
    VideoReader
        With :attr:`~VideoReader.info`; iterate :meth:`~VideoReader.frames`.

    Raises
    ------
    FileReadError
        If the file is missing, not a regular file, empty, not a video
        container, holds no video stream, cannot be opened by FFmpeg, or PyAV is
        not installed (the message says ``pip install "edgegrad[video]"``).
    ImageTooLargeError
        If the stream declares frames larger than ``max_pixels``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import cv2, numpy as np
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     name = str(pathlib.Path(folder) / "clip.avi")
    ...     writer = cv2.VideoWriter(name, cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    ...     for value in (0, 100, 200):
    ...         _ = writer.write(np.full((48, 64, 3), value, np.uint8))
    ...     writer.release()
    ...     with open_video(name) as video:
    ...         print(video.info.format, video.info.frames, video.info.width, video.info.height)
    ...         print([(f.index, f.time) for f in video.frames()])
    avi 3 64 48
    [(0, 0.0), (1, 0.04), (2, 0.08)]
    """
    partial = check_bool(allow_partial, "allow_partial")
    return VideoReader(check_path(path), max_pixels=max_pixels, allow_partial=partial)


def iter_frames(
    path: StrPath,
    *,
    step: int = 1,
    fps: float | None = None,
    mode: VideoMode = "gray",
    max_pixels: int | None = None,
    allow_partial: bool = False,
) -> Iterator[tuple[int, float, npt.NDArray[Any]]]:
    """Yield ``(index, time, array)`` for the frames of a video, decoded once, in order.

    Parameters
    ----------
    path : str or os.PathLike
        The video file (MP4/MOV, Matroska/WebM, AVI or MPEG-TS, told by content).
    step : int, optional
        Every ``step``-th frame (default 1, every frame).
    fps : float, optional
        At most this many frames a second (the first at or after each
        multiple of ``1 / fps`` seconds); instead of ``step``.
    mode : {"gray", "color"}, optional
        ``"gray"`` (default): the luma plane as shown, a read-only view without
        colour conversion (uint8, or uint16 for deeper video). ``"color"``: BGR,
        full range, as a player shows it.
    max_pixels, allow_partial
        As for :func:`open_video`. With ``allow_partial``, a
        :class:`~edgegrad.errors.PartialImageWarning` is issued once for a
        damaged video.

    Yields
    ------
    (int, float, numpy.ndarray)
        The frame's 0-based index among all decoded frames, its time in
        seconds from the start of the stream, and its pixels.

    Raises
    ------
    FileReadError, ImageTooLargeError
        As for :func:`open_video`, and on damage (after the frames before it).

    Notes
    -----
    The rules (luma, colour, timestamps, damage) are in this module's
    docstring. A ``"gray"`` array is a view of the decoder's buffer, valid as
    long as it is kept: holding many holds their frames' memory.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import cv2, numpy as np
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     name = str(pathlib.Path(folder) / "clip.avi")
    ...     writer = cv2.VideoWriter(name, cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    ...     for value in range(0, 250, 25):
    ...         _ = writer.write(np.full((48, 64, 3), value, np.uint8))
    ...     writer.release()
    ...     [(i, t, a.shape) for i, t, a in iter_frames(name, fps=4)]
    [(0, 0.0, (48, 64)), (3, 0.3, (48, 64)), (5, 0.5, (48, 64)), (8, 0.8, (48, 64))]
    """
    check_choice(mode, "mode", VIDEO_MODES)
    warned = False
    with open_video(path, max_pixels=max_pixels, allow_partial=allow_partial) as video:
        for frame in video.frames(step=step, fps=fps):
            if frame.warning is not None and not warned:
                warned = True
                warnings.warn(f"{video.path}: {frame.warning}", PartialImageWarning, stacklevel=2)
            yield frame.index, frame.time, frame.gray() if mode == "gray" else frame.color()


#: What the frames a :class:`FrameFolder` writes are called: ``frame_000123.png``.
FRAME_NAME: Final = re.compile(r"frame_[0-9]{6,}\.png\Z")
#: The table a :class:`FrameFolder` writes beside its frames.
FRAMES_TABLE: Final = "frames.csv"


class FrameFolder:
    """The folder that chosen frames of one video are written to, losslessly as PNG.

    Frames are named ``frame_<index>.png`` (the index zero-padded to six
    digits) and written atomically; :data:`FRAMES_TABLE` lists them.
    Nothing that exists is replaced unless ``overwrite``: :meth:`earlier`
    names what an earlier run left, for the caller to refuse before any work.

    Parameters
    ----------
    folder : str or os.PathLike
        Created when the first file is written.
    overwrite : bool, optional
        Replace earlier frames and table; :meth:`tidy` then removes the
        earlier frames this run did not write.
    protected : str, os.PathLike or an iterable of them, optional
        Inputs of the run, never written onto.
    """

    def __init__(
        self,
        folder: StrPath,
        *,
        overwrite: bool = False,
        protected: StrPath | Iterable[StrPath] = (),
    ) -> None:
        self.folder = check_path(folder, "folder")
        self.overwrite = check_bool(overwrite, "overwrite")
        self.protected = protected
        self.written: set[str] = set()

    def name(self, index: int) -> str:
        """The file name of frame ``index``."""
        return f"frame_{index:06d}.png"

    def earlier(self) -> list[Path]:
        """The frames and table already in the folder (an earlier run's), sorted."""
        try:
            with os.scandir(self.folder) as entries:
                names = [
                    entry.name
                    for entry in entries
                    if FRAME_NAME.match(entry.name) or entry.name == FRAMES_TABLE
                ]
        except FileNotFoundError:
            return []
        except OSError as error:
            raise ImageWriteError(self.folder, f"cannot list folder: {os_reason(error)}") from None
        return [self.folder / name for name in sorted(names)]

    def write(self, index: int, image: npt.NDArray[Any]) -> str:
        """Write frame ``index`` (BGR, uint8 or uint16); return its file name."""
        name = self.name(index)
        write_image(self.folder / name, image, overwrite=self.overwrite, protected=self.protected)
        self.written.add(name)
        return name

    def remove(self, index: int) -> None:
        """Remove frame ``index``, written earlier in this run and not chosen after all."""
        name = self.name(index)
        if name in self.written:
            self.written.discard(name)
            with contextlib.suppress(FileNotFoundError):
                (self.folder / name).unlink()

    def write_table(self, text: str) -> Path:
        """Write :data:`FRAMES_TABLE` (CSV text) atomically."""
        return write_text(
            self.folder / FRAMES_TABLE, text, overwrite=self.overwrite, protected=self.protected
        )

    def tidy(self) -> list[Path]:
        """With ``overwrite``: remove earlier frames this run did not write; return them."""
        if not self.overwrite:
            return []
        stale = [
            path
            for path in self.earlier()
            if path.name != FRAMES_TABLE and path.name not in self.written
        ]
        for path in stale:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return stale
