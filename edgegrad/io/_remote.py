"""Files named by URLs: reading, listing and writing them through fsspec.

fsspec's :func:`fsspec.core.url_to_fs` is the one seam between edgegrad and
remote storage: it turns a URL into a file system and a path on it, and every
difference between stores (S3, Google Cloud Storage, Azure, HTTP, local
``file://``) stays behind it. Readers get bytes from it, never a local path.

* :class:`URL` names a file or folder by its URL. It is a small, picklable
  value, so a job on a worker (a pool process or a cluster's worker) gets the
  URL and reads the bytes itself; nothing passes through the client.
* Credentials come from where each back-end looks for them (environment
  variables such as ``AWS_ACCESS_KEY_ID`` or ``AWS_ENDPOINT_URL``, config files
  such as ``~/.aws/credentials``, fsspec's own ``FSSPEC_<PROTOCOL>_<KEY>``
  variables), never from the command line. A URL that carries some anyway
  (``https://user:password@host/...``, a pre-signed query) is shown without
  them: :meth:`URL.__str__` and every message strip the user information and
  the values of signature and token query parameters.
* Each scheme needs its back-end, an optional extra: :func:`remote_support`
  names the ``pip install`` command for one that is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, TypeAlias
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from edgegrad._validate import check_path
from edgegrad.errors import ImageReadError, ImageWriteError, OutputExistsError
from edgegrad.io._fs import StrPath, open_quietly, os_reason

__all__ = [
    "REMOTE_SCHEMES",
    "URL",
    "Location",
    "as_location",
    "is_url",
    "remote_support",
]

#: URL schemes read through fsspec: each with the extra that installs its
#: back-end and the modules that back-end needs.
REMOTE_SCHEMES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "s3": ("s3", ("fsspec", "s3fs")),
    "s3a": ("s3", ("fsspec", "s3fs")),
    "gs": ("gcs", ("fsspec", "gcsfs")),
    "gcs": ("gcs", ("fsspec", "gcsfs")),
    "az": ("azure", ("fsspec", "adlfs")),
    "abfs": ("azure", ("fsspec", "adlfs")),
    "abfss": ("azure", ("fsspec", "adlfs")),
    "http": ("remote", ("fsspec", "aiohttp")),
    "https": ("remote", ("fsspec", "aiohttp")),
    "file": ("remote", ("fsspec",)),
}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# Query parameters that carry a secret: pre-signed S3 and GCS URLs, Azure SAS tokens.
_SECRET_PARAMETERS: Final = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "awsaccesskeyid",
        "signature",
        "sig",
        "token",
        "access_token",
        "api_key",
        "apikey",
        "key",
        "password",
    }
)
_HIDDEN: Final = "***"
# Bytes asked for at a time from an object whose size the store does not say.
_BLOCK: Final = 4 * 1024 * 1024


def is_url(text: str) -> bool:
    """Whether ``text`` is a URL of a scheme edgegrad reads (``s3://``, ``https://``, ...)."""
    found = _SCHEME.match(text)
    return found is not None and found.group(1).lower() in REMOTE_SCHEMES


@dataclass(frozen=True)
class URL:
    """A file or folder named by a URL, read and listed through fsspec.

    ``str(url)`` is the URL without credentials, as records and messages
    show it; the URL as given (``text``) is used only to reach the store.

    Parameters
    ----------
    text : str
        ``s3://bucket/key``, ``gs://``, ``az://``, ``http(s)://`` or ``file://``.

    Raises
    ------
    ValueError
        If ``text`` is not a URL of one of :data:`REMOTE_SCHEMES`.

    Examples
    --------
    >>> url = URL("https://user:secret@example.org/photos/a.jpg")
    >>> str(url), url.name, url.suffix
    ('https://example.org/photos/a.jpg', 'a.jpg', '.jpg')
    """

    text: str = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not is_url(self.text):
            known = ", ".join(f"{scheme}://" for scheme in REMOTE_SCHEMES)
            raise ValueError(f"url must begin with one of {known}; got {self.text!r}")

    @property
    def scheme(self) -> str:
        """The scheme, lower-case: ``"s3"``, ``"https"``, ..."""
        return self.text.split("://", 1)[0].lower()

    @property
    def web(self) -> bool:
        """Whether this is an ``http://`` or ``https://`` URL (percent-encoded, no listing API)."""
        return self.scheme in ("http", "https")

    @property
    def name(self) -> str:
        """The last part of the path, percent-decoded for HTTP: ``a.jpg``."""
        path = urlsplit(self.text).path if self.web else self.text.split("://", 1)[1]
        last = path.rstrip("/").rsplit("/", 1)[-1]
        return unquote(last) if self.web else last

    @property
    def suffix(self) -> str:
        """The extension of :attr:`name`, with its dot, as :attr:`pathlib.Path.suffix`."""
        return Path(self.name).suffix if self.name not in ("", ".", "..") else ""

    def local(self) -> Path | None:
        """The local path of a ``file://`` URL, else None.

        Examples
        --------
        >>> URL("file:///tmp/a%20b.jpg").local()
        PosixPath('/tmp/a b.jpg')
        """
        if self.scheme != "file":
            return None
        # Imported here: urllib.request brings http.client and ssl, slow to import.
        from urllib.request import url2pathname

        return Path(url2pathname(urlsplit(self.text).path))

    def child(self, relative: str) -> URL:
        """The URL of ``relative`` (``/``-separated, as the store spells it) below this one."""
        return URL(f"{self.text.rstrip('/')}/{relative}")

    def __str__(self) -> str:
        return redact(self.text)

    def __repr__(self) -> str:
        return f"URL({str(self)!r})"


#: An input or output: a local path or a URL.
Location: TypeAlias = Path | URL


def as_location(value: StrPath | URL, name: str = "path") -> Location:
    """A :class:`URL` for a URL (or a ``str`` that is one), else the value as a Path.

    Raises
    ------
    TypeError
        If ``value`` is neither a URL, a ``str`` nor an ``os.PathLike``.
    """
    if isinstance(value, URL):
        return value
    if isinstance(value, str) and is_url(value):
        return URL(value)
    return check_path(value, name)


def redact(text: str) -> str:
    """``text`` (a URL) without user information and without the values of secret parameters.

    Examples
    --------
    >>> redact("https://me:pw@host/a.jpg?X-Amz-Signature=abc&v=2")
    'https://host/a.jpg?X-Amz-Signature=%2A%2A%2A&v=2'
    """
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in _SECRET_PARAMETERS for key, _ in pairs):
            query = urlencode(
                [(k, _HIDDEN if k.lower() in _SECRET_PARAMETERS else v) for k, v in pairs]
            )
    if netloc == parts.netloc and query == parts.query:
        return text
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def remote_support(scheme: str) -> str | None:
    """``None`` if URLs of ``scheme`` can be read here, else what to install, in words.

    Examples
    --------
    >>> remote_support("ftp").split(";")[0]
    'edgegrad does not read ftp:// URLs'
    """
    scheme = scheme.lower()
    if scheme not in REMOTE_SCHEMES:
        known = ", ".join(f"{name}://" for name in REMOTE_SCHEMES)
        return f"edgegrad does not read {scheme}:// URLs; it reads {known}"
    extra, modules = REMOTE_SCHEMES[scheme]
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if not missing:
        return None
    return f'{scheme}:// URLs need {" and ".join(missing)}: pip install "edgegrad[{extra}]"'


def _filesystem(url: URL) -> tuple[Any, str]:
    """fsspec's file system for ``url`` and the path on it; ImportError if a back-end is missing."""
    problem = remote_support(url.scheme)
    if problem is not None:
        raise ImportError(problem)
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url.text)
    return fs, str(path)


def _reason(error: BaseException, url: URL) -> str:
    """An exception from a store in words, without the credentials of ``url``."""
    text = str(error) or type(error).__name__
    text = text.replace(url.text, str(url))
    userinfo = urlsplit(url.text).netloc.rpartition("@")[0]
    if userinfo:
        text = text.replace(userinfo + "@", "")
    if isinstance(error, PermissionError):
        return f"permission denied ({text})"
    return text if isinstance(error, OSError) else f"{type(error).__name__}: {text}"


def _fail(url: URL, error: Exception) -> ImageReadError:
    if isinstance(error, ImportError):
        return ImageReadError(str(url), str(error))
    if isinstance(error, FileNotFoundError):
        return ImageReadError(str(url), "no such file (not found)")
    return ImageReadError(str(url), _reason(error, url))


def read_url(
    url: URL,
    *,
    whole: int,
    head: int,
    judge: Callable[[bytes, int], None],
) -> bytes:
    """The bytes of the file at ``url``, read with the defences of a local read.

    The size the store reports is known before anything is read. A file up to
    ``whole`` bytes is read at once, exactly that many bytes. A larger one, or
    one whose size the store does not tell (an HTTP server without
    ``Content-Length``), is read ``head`` bytes first, and ``judge(head,
    size)`` must accept its size, or the size read so far, before each further
    block: a hostile file is refused as soon as it outgrows what its header
    can explain.

    Raises
    ------
    ImageReadError
        If it cannot be found or read, is a folder or empty, or ``judge``
        refuses it; the message names the URL (without credentials).
    """
    try:
        fs, path = _filesystem(url)
        info = fs.info(path)
        if info.get("type") == "directory":
            raise ImageReadError(str(url), "is a folder, not a file")
        size = info.get("size")
        # HTTP is read as one stream: servers need not honour range requests.
        options = {"block_size": 0} if url.web else {}
        with fs.open(path, "rb", **options) as file:
            if size is not None and size <= whole:
                data = _read_up_to(file, size)
            else:
                data = _read_up_to(file, head)
                judge(data, len(data) if size is None else size)
                if size is not None:
                    data += _read_up_to(file, size - len(data))
                else:
                    data = _read_on(file, data, whole, judge)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(str(url), "not enough memory to read it") from None
    except Exception as error:
        # The back-ends raise their own exceptions (aiohttp's, botocore's, ...).
        raise _fail(url, error) from None
    if not data:
        raise ImageReadError(str(url), "file is empty (0 bytes)")
    return bytes(data)


def _read_up_to(file: BinaryIO, size: int) -> bytes:
    """``size`` bytes, or fewer at the end: a stream may return less than asked per read."""
    parts = []
    left = size
    while left > 0 and (block := file.read(left)):
        parts.append(bytes(block))
        left -= len(block)
    return b"".join(parts)


def _read_on(file: BinaryIO, head: bytes, whole: int, judge: Callable[[bytes, int], None]) -> bytes:
    """The rest of a stream of unknown length, judged by its size so far past ``whole`` bytes."""
    parts = [head]
    total = len(head)
    while block := file.read(_BLOCK):
        parts.append(block)
        total += len(block)
        if total > whole:
            judge(head, total)
    return b"".join(bytes(part) for part in parts)


def url_is_folder(url: URL) -> bool:
    """Whether a URL named as an input is a folder to walk.

    A URL ending in ``/`` is one. HTTP has no way to tell otherwise, so any
    other ``http(s)://`` URL is a file; other stores are asked. A URL that
    cannot be reached counts as a file, whose read then fails, named.
    """
    if url.text.endswith("/"):
        return True
    if url.web:
        return False
    try:
        fs, path = _filesystem(url)
        return bool(fs.isdir(path))
    except Exception:
        return False


@dataclass(frozen=True)
class Entry:
    """One entry of a listed folder: its URL, name (as matched by globs) and kind."""

    url: URL
    name: str
    folder: bool


def list_folder(url: URL) -> list[Entry]:
    """The entries directly inside the folder ``url``, sorted by name.

    Only entries strictly below it are kept (an HTTP index page may link
    anywhere). Names are percent-decoded for HTTP.

    Raises
    ------
    ImageReadError
        If the folder cannot be listed, naming it.
    """
    try:
        fs, path = _filesystem(url)
        found = fs.ls(path, detail=True)
    except Exception as error:
        raise _fail(url, error) from None
    base = path if url.web else path.rstrip("/")
    if not base.endswith("/"):
        base += "/"
    entries = {}
    for item in found:
        name = str(item["name"])
        if not name.startswith(base) or not name[len(base) :].strip("/"):
            continue
        relative = name[len(base) :].rstrip("/")
        if "/" in relative:
            continue
        folder = item.get("type") == "directory"
        shown = unquote(relative) if url.web else relative
        child = url.child(relative + ("/" if folder and url.web else ""))
        entries[shown] = Entry(child, shown, folder)
    return [entries[name] for name in sorted(entries)]


def _output_filesystem(url: URL) -> tuple[Any, str]:
    if url.web:
        raise ImageWriteError(
            str(url), "cannot write to http(s):// URLs; give a file or a store URL"
        )
    try:
        return _filesystem(url)
    except ImportError as error:
        raise ImageWriteError(str(url), str(error)) from None


def url_exists(url: URL) -> bool:
    """Whether something exists at ``url`` (for refusing to overwrite an output)."""
    fs, path = _output_filesystem(url)
    try:
        return bool(fs.exists(path))
    except Exception as error:
        raise ImageWriteError(str(url), _reason(error, url)) from None


@contextlib.contextmanager
def url_output(url: URL, *, overwrite: bool) -> Iterator[BinaryIO]:
    """A binary file whose content is put at ``url`` in one upload when the block ends.

    The content is written to a temporary local file first; on a clean exit
    it is uploaded with a single ``put``. Object stores (S3, GCS, Azure) make
    an object visible only once its upload is complete, so a reader sees the
    whole output or none, never half of it. On an exception nothing is
    uploaded and the temporary file is removed.

    Raises
    ------
    OutputExistsError
        If something exists at ``url`` and ``overwrite`` is false.
    ImageWriteError
        If the store refuses the upload, or cannot be written to.
    """
    fs, path = _output_filesystem(url)
    if not overwrite and url_exists(url):
        raise OutputExistsError(str(url), "already exists (pass overwrite=True to replace it)")
    handle, name = tempfile.mkstemp(prefix=".edgegrad-upload-", suffix=Path(url.name).suffix)
    try:
        with open_quietly(handle) as file:
            yield file
            try:
                file.close()
            except OSError as error:
                reason = f"cannot stage the upload: {os_reason(error)}"
                raise ImageWriteError(str(url), reason) from None
        try:
            fs.put_file(name, path)
        except Exception as error:
            raise ImageWriteError(str(url), _reason(error, url)) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
