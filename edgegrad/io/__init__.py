"""Reading and writing image files, and finding them in folders.

This is the only package of edgegrad that touches storage. Its public names
are all here; the modules behind them are private:

* ``_formats``: sniffing the format from the content, header probes, EXIF;
* ``_decode``: decoding to the array of a read mode;
* ``_read``: :func:`read_image` and :func:`read_image_checked`;
* ``_fs``: temporary names, atomic writes, links, OS errors in words;
* ``_write``: :func:`write_image`, :func:`write_text`, :func:`write_bytes`;
* ``_transfer``: :func:`transfer` (move, copy, link);
* ``_walk``: :func:`iter_images` (local folders, and URLs' through fsspec), and
  :class:`Seen`, the compact set of keys it tells repeats by;
* ``_remote``: :class:`URL` and reading, listing and uploading through fsspec
  (the ``remote``, ``s3``, ``gcs`` and ``azure`` extras; its module docstring
  says where credentials come from);
* ``_video``: :func:`open_video`, :func:`iter_frames`, :func:`is_video` (video
  frames through PyAV, the ``video`` extra; its module docstring holds the
  decoding rules) and :class:`FrameFolder` (chosen frames written as PNG);
* ``_record_log``: logs that grow by whole lines, for resumable batches.

Reading rules, written down once
--------------------------------
* **Content, not extension.** The format is sniffed from the first bytes, so a
  PNG named ``.jpg`` reads fine and a text file named ``.jpg`` is refused as
  text. Files are read as bytes and decoded with :func:`cv2.imdecode`, which
  works with any path on any platform (``cv2.imread`` fails on non-ASCII paths
  on Windows and returns ``None`` silently on every problem).
* **Header first.** Width and height are parsed from the header (PNG IHDR,
  JPEG SOFn, BMP, GIF, WebP VP8/VP8L/VP8X, TIFF/BigTIFF IFD0, PNM/PAM/PFM,
  JPEG 2000 ``ihdr``/SIZ, AVIF/HEIF ``ispe``, Radiance HDR, Sun raster) and
  checked against ``max_pixels`` before anything is decoded, so a decompression
  bomb is refused in milliseconds. A format without a parser is refused.
* **Integrity.** PNG chunk lengths and CRCs are verified up to ``IEND``. JPEG
  markers are walked to the end-of-image marker, the entropy-coded data must
  hold no stray marker and its restart markers must come in sequence, and
  libjpeg's own "Corrupt JPEG data" warnings (which it only prints) are caught.
  Other formats rely on their decoder. A problem is an :class:`ImageReadError`
  unless ``allow_partial=True`` (see :func:`read_image_checked`).
* **dtype.** The sample type of the file is kept in every mode: 8-bit files
  give ``uint8``, 16-bit files ``uint16``, float TIFF/PFM/HDR ``float32`` (or
  ``float64``). Nothing is rescaled. Other sample types (signed integers,
  half floats) are refused. Float images holding NaN or infinity are refused.
* **Channels.** ``"gray"`` gives ``(H, W)``, ``"color"`` gives ``(H, W, 3)``
  in BGR order, ``"unchanged"`` gives what the file holds: ``(H, W)``,
  ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA. Gray is BT.601 luma: libjpeg's own
  gray decode for JPEG (identical to ``cv2.imread(path, IMREAD_GRAYSCALE)``),
  ``cv2.cvtColor(..., COLOR_BGR2GRAY)`` for other formats. CMYK JPEGs are
  converted to BGR by the decoder in every mode.
* **Alpha.** In ``"gray"`` and ``"color"`` an alpha channel is composited onto
  a neutral mid-grey background (128 for uint8, 32768 for uint16, 0.5 for
  float, where alpha is taken as 0..1), so content hidden under ``alpha=0``
  shows as flat grey, never as the colours stored beneath. ``"unchanged"``
  returns BGRA as stored.
* **EXIF orientation** is applied in every mode, ``"unchanged"`` included:
  the Orientation tag (0x0112) of JPEG APP1, PNG ``eXIf`` and WebP ``EXIF`` is
  parsed here and applied with flips and transposes; TIFF orientation is applied
  by the TIFF decoder itself; HEIF transformations by libheif. AVIF, JPEG 2000
  and the other formats are returned as stored.
"""

from __future__ import annotations

from edgegrad.io._read import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_ENV,
    READ_MODES,
    LoadedImage,
    ReadMode,
    read_image,
    read_image_checked,
)
from edgegrad.io._record_log import RecordLog, open_record_log, read_record_log
from edgegrad.io._remote import (
    REMOTE_SCHEMES,
    URL,
    Location,
    as_location,
    is_url,
    remote_support,
    url_exists,
)
from edgegrad.io._transfer import TRANSFER_ACTIONS, TransferAction, transfer
from edgegrad.io._video import (
    FRAME_NAME,
    FRAMES_TABLE,
    VIDEO_INSTALL,
    VIDEO_MODES,
    FrameFolder,
    VideoFrame,
    VideoInfo,
    VideoMode,
    VideoReader,
    is_video,
    iter_frames,
    open_video,
    video_support,
)
from edgegrad.io._walk import Seen, image_extensions, iter_images
from edgegrad.io._write import (
    open_output,
    writable_extensions,
    write_bytes,
    write_image,
    write_text,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FRAMES_TABLE",
    "FRAME_NAME",
    "MAX_PIXELS_ENV",
    "READ_MODES",
    "REMOTE_SCHEMES",
    "TRANSFER_ACTIONS",
    "URL",
    "VIDEO_INSTALL",
    "VIDEO_MODES",
    "FrameFolder",
    "LoadedImage",
    "Location",
    "ReadMode",
    "RecordLog",
    "Seen",
    "TransferAction",
    "VideoFrame",
    "VideoInfo",
    "VideoMode",
    "VideoReader",
    "as_location",
    "image_extensions",
    "is_url",
    "is_video",
    "iter_frames",
    "iter_images",
    "open_output",
    "open_record_log",
    "open_video",
    "read_image",
    "read_image_checked",
    "read_record_log",
    "remote_support",
    "transfer",
    "url_exists",
    "video_support",
    "writable_extensions",
    "write_bytes",
    "write_image",
    "write_text",
]
