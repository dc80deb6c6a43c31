"""Finding image files in folders: deterministic, loop-proof, each file once."""

from __future__ import annotations

import errno
import fnmatch
import functools
import importlib.util
import os
import stat
from collections.abc import Callable, Hashable, Iterable, Iterator
from pathlib import Path
from typing import Final

import numpy as np

from edgegrad._validate import check_bool
from edgegrad.errors import ImageReadError
from edgegrad.io._fs import StrPath, os_reason
from edgegrad.io._remote import URL, Entry, Location, as_location, list_folder, url_is_folder

__all__ = ["image_extensions", "iter_images"]

_TOO_LONG = "its path is longer than the system allows (PATH_MAX); move it higher up"
_BASE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
    | {".pgm", ".ppm", ".pbm", ".pnm", ".jp2"}
    # Videos, whose frames are read by edgegrad.io.iter_frames.
    | {".mp4", ".mov", ".mkv", ".webm", ".avi", ".ts", ".m4v"}
)


@functools.cache
def image_extensions() -> frozenset[str]:
    """Lower-case extensions (with the dot) that :func:`iter_images` picks up in folders.

    ``.jpg .jpeg .png .tif .tiff .bmp .webp .pgm .ppm .pbm .pnm .jp2``, the
    videos ``.mp4 .mov .mkv .webm .avi .ts .m4v``, plus ``.heic .heif`` when
    the optional ``pillow_heif`` package is installed. Whether a file is a
    video is then told by its content (:func:`edgegrad.io.is_video`).
    """
    if importlib.util.find_spec("pillow_heif") is not None:
        return _BASE_EXTENSIONS | {".heic", ".heif"}
    return _BASE_EXTENSIONS


def iter_images(
    paths: StrPath | URL | Iterable[StrPath | URL],
    *,
    recursive: bool = True,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    follow_symlinks: bool = False,
    on_skip: Callable[[Location, str], None] | None = None,
    on_error: Callable[[Location, str], None] | None = None,
    on_other: Callable[[Location, str], None] | None = None,
) -> Iterator[Location]:
    """Yield the image files named by, or found under, ``paths``.

    Parameters
    ----------
    paths : str, os.PathLike, URL or iterable of them
        Files and folders, mixed. URLs (:class:`edgegrad.io.URL`, or a ``str``
        that is one) name files and folders of a store, listed through
        fsspec with the same rules (see Notes).
    recursive : bool, optional
        Walk sub-folders (default ``True``); ``False`` lists only the files
        directly inside each named folder.
    include : iterable of str, optional
        :mod:`fnmatch` globs; when given, a file is kept only if one matches its
        path relative to the walked folder (``/``-separated) or its name. Like
        extensions, globs ignore case (``*.jpg`` matches ``IMG_1.JPG``).
    exclude : iterable of str, optional
        Globs matched the same way; a matching file is dropped, and a matching
        sub-folder is not entered.
    follow_symlinks : bool, optional
        Enter symbolic links to folders (default ``False``). A folder is never
        entered twice, so links to ``.`` or ``..`` cannot loop.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for an entry found in a folder that
        looks like an image (image extension, passes the globs) but is left
        out on purpose: a non-regular file, a duplicate of a file already
        yielded; and for a folder that is not entered: a link not followed, or
        one already visited.
    on_error : callable, optional
        Called as ``on_error(path, reason)`` for what cannot be read: a path
        named in ``paths`` that is not a regular file or folder (a pipe,
        socket or device), a folder that cannot be listed, an entry whose
        status cannot be read (no permission, a dangling link, a link loop, a
        path too long for the system). Default: ``on_skip``.
    on_other : callable, optional
        Called as ``on_other(path, reason)`` for every other entry of a walked
        folder that is passed over: a hidden entry, one that matches
        ``exclude``, an image that matches no ``include`` pattern, a file
        without an image extension. With the two above, every entry is
        accounted for. Default: nothing is called.

    Returns
    -------
    iterator of pathlib.Path or URL
        Paths as found (not resolved), each file once.

    Raises
    ------
    ImageReadError
        At call time, if a path named in ``paths`` does not exist (or is a
        dangling link or a link loop): a typo should not look like an empty
        folder.

    Notes
    -----
    * A named file is yielded whatever its extension, when it is a regular
      file (after following links) and passes ``include``/``exclude`` (matched
      on its name and the path as given); a named pipe, socket or device goes
      to ``on_error``.
    * Found in folders: regular files whose extension, in any case, is in
      :func:`image_extensions`. Symbolic links to files are yielded (they are
      regular files once resolved). Hidden entries (names starting with
      ``.``, such as ``.git``, macOS ``._`` files and the temporary files of
      :func:`write_image`) are passed over.
    * Order is deterministic: depth-first, entries sorted by name in each folder.
    * Files are de-duplicated by ``(st_dev, st_ino)``, so hard links, links and
      overlapping folders give each file once, under the first path met. The
      walk keeps 8 bytes a file for it (:class:`Seen`), however many it finds.
    * A URL ending in ``/`` is a folder; any other ``http(s)://`` URL is a
      file (HTTP cannot tell), and other stores are asked. A folder is listed
      with fsspec's ``ls``, one level at a time, depth first and sorted by
      name, with the same hidden-name, extension, ``include``/``exclude`` and
      ``recursive`` rules as a local folder (an HTTP folder is its index
      page's links below it). A URL named as a file is yielded without being
      looked up: a missing one fails when it is read, naming the URL. URLs are
      de-duplicated by their text.
    """
    recursive = check_bool(recursive, "recursive")
    follow_symlinks = check_bool(follow_symlinks, "follow_symlinks")
    callbacks = {"on_skip": on_skip, "on_error": on_error, "on_other": on_other}
    for name, callback in callbacks.items():
        if callback is not None and not callable(callback):
            raise TypeError(f"{name} must be callable or None; got {type(callback).__name__}")
    named = [paths] if isinstance(paths, (str, os.PathLike, URL)) else list(paths)
    roots: list[tuple[Location, os.stat_result | None]] = []
    for item in named:
        root = as_location(item)
        if isinstance(root, URL):
            roots.append((root, None))
            continue
        try:
            roots.append((root, root.stat()))
        except OSError as error:
            reason = "no such file or folder" if isinstance(error, FileNotFoundError) else None
            if reason and root.is_symlink():
                reason = "is a dangling symbolic link"
            raise ImageReadError(root, reason or os_reason(error)) from None
    walk = _Walk(
        recursive=recursive,
        include=(include,) if isinstance(include, str) else tuple(include),
        exclude=(exclude,) if isinstance(exclude, str) else tuple(exclude),
        follow_symlinks=follow_symlinks,
        on_skip=on_skip or (lambda path, reason: None),
        on_error=on_error or on_skip or (lambda path, reason: None),
        on_other=on_other or (lambda path, reason: None),
    )
    return walk.run(roots)


class Seen:
    """The keys met so far (names, or files' device and inode), 8 bytes a key.

    For telling repeats among millions of inputs. Each key is kept as its
    64-bit :func:`hash` (for a name, SipHash, keyed afresh in each process),
    never as itself: a sorted NumPy array holds the older ones
    and a set the latest :data:`RECENT` (a fixed few megabytes), merged into
    the array whenever the set is full (for a moment, the old array and the
    merged one are both held). Ten million names take 80 MB, where a
    set of the names themselves takes about 1.5 GB. Two different names share
    a hash with probability 2**-64 a pair: about 3e-6 over ten million names.
    Such a pair would make the later key count as a repeat.

    Examples
    --------
    >>> seen = Seen()
    >>> seen.add("a.png"), seen.add("b.png"), seen.add("a.png")
    (True, True, False)
    """

    #: Hashes held in the set before they are merged into the sorted array.
    RECENT: Final = 1 << 16

    def __init__(self) -> None:
        self._older = np.empty(0, dtype=np.int64)
        self._recent: set[int] = set()

    def add(self, item: Hashable) -> bool:
        """Note ``item``; return whether it is new (it was not noted before)."""
        key = hash(item)
        if key in self._recent:
            return False
        older = self._older
        at = int(np.searchsorted(older, key))
        if at < len(older) and older[at] == key:
            return False
        self._recent.add(key)
        if len(self._recent) >= self.RECENT:
            recent = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
            recent.sort()
            merged = np.concatenate([older, recent])
            # Two sorted runs: the stable sort (timsort) merges them in linear time, in place.
            merged.sort(kind="stable")
            self._older = merged
            self._recent = set()
        return True


class _Walk:
    """State of one :func:`iter_images` run: the filters and what was seen."""

    def __init__(
        self,
        *,
        recursive: bool,
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        follow_symlinks: bool,
        on_skip: Callable[[Location, str], None],
        on_error: Callable[[Location, str], None],
        on_other: Callable[[Location, str], None],
    ) -> None:
        self.recursive = recursive
        self.include = include
        self.exclude = exclude
        self.follow_symlinks = follow_symlinks
        self.skip = on_skip
        self.error = on_error
        self.other = on_other
        self.extensions = image_extensions()
        self.seen_files = Seen()
        self.seen_folders = Seen()
        self.seen_urls = Seen()

    def run(self, roots: list[tuple[Location, os.stat_result | None]]) -> Iterator[Location]:
        for root, info in roots:
            if isinstance(root, URL) or info is None:
                yield from self._remote(root)
            elif stat.S_ISDIR(info.st_mode):
                yield from self._folder(root, info)
            elif self._selected(os.fspath(root), root.name):
                if not stat.S_ISREG(info.st_mode):
                    # Named on purpose, so it is an error, not a skip: a check
                    # of a pipe or device must not pass with nothing scored.
                    self.error(root, f"is {_kind(info.st_mode)}, not a regular file")
                elif self._first_time(root, info):
                    yield root

    def _folder(self, root: Path, info: os.stat_result) -> Iterator[Path]:
        if not self._enter(root, info):
            return
        stack = [iter(self._list(root))]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            if entry.name.startswith("."):
                self.other(path, "hidden (its name begins with a dot)")
                continue
            if self._matches(self.exclude, relative, entry.name):
                self.other(path, "matches an exclude pattern")
                continue
            image_like = path.suffix.lower() in self.extensions
            candidate = image_like and self._selected(relative, entry.name)
            try:
                target = os.stat(entry.path)
            except OSError as error:
                if error.errno == errno.ENAMETOOLONG:
                    # Its path is longer than the system takes (PATH_MAX): what
                    # is there cannot be read by name, and must not vanish.
                    self.error(path, f"cannot be reached: {_TOO_LONG}")
                elif candidate:
                    dangling = isinstance(error, FileNotFoundError) and entry.is_symlink()
                    reason = "is a dangling symbolic link" if dangling else os_reason(error)
                    self.error(path, reason)
                elif _is_folder(entry):
                    self.error(path, f"cannot enter folder: {os_reason(error)}")
                continue
            if stat.S_ISDIR(target.st_mode):
                if not self.recursive:
                    continue
                if entry.is_symlink() and not self.follow_symlinks:
                    self.skip(path, "symbolic link to a folder (not followed)")
                elif self._enter(path, target):
                    stack.append(iter(self._list(path)))
            elif candidate:
                if not stat.S_ISREG(target.st_mode):
                    self.skip(path, "not a regular file")
                elif self._first_time(path, target):
                    yield path
            elif image_like:
                self.other(path, "matches no include pattern")
            else:
                self.other(path, f"not an image by its extension ({path.suffix or 'none'})")

    def _remote(self, root: Location) -> Iterator[URL]:
        """The files a URL names: itself, or those found in the folder it names."""
        assert isinstance(root, URL)
        if not url_is_folder(root):
            if self._selected(str(root), root.name) and self._first_url(root, "file"):
                yield root
            return
        if not self._first_url(root, "folder"):
            return
        stack = [(iter(self._listing(root)), "")]
        while stack:
            entries, prefix = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            relative = prefix + entry.name
            if entry.name.startswith("."):
                self.other(entry.url, "hidden (its name begins with a dot)")
            elif self._matches(self.exclude, relative, entry.name):
                self.other(entry.url, "matches an exclude pattern")
            elif entry.folder:
                if self.recursive and self._first_url(entry.url, "folder"):
                    stack.append((iter(self._listing(entry.url)), relative + "/"))
            elif entry.url.suffix.lower() not in self.extensions:
                self.other(
                    entry.url, f"not an image by its extension ({entry.url.suffix or 'none'})"
                )
            elif not self._selected(relative, entry.name):
                self.other(entry.url, "matches no include pattern")
            elif self._first_url(entry.url, "file"):
                yield entry.url

    def _listing(self, folder: URL) -> list[Entry]:
        try:
            return list_folder(folder)
        except ImageReadError as error:
            self.error(folder, f"cannot list folder: {error.reason}")
            return []

    def _first_url(self, url: URL, kind: str) -> bool:
        """Note a URL as seen; if it was already, skip it (a file, or a folder listed twice)."""
        key = f"{kind} {url.text.rstrip('/')}"
        if not self.seen_urls.add(key):
            self.skip(url, f"same {kind} as one already listed")
            return False
        return True

    def _enter(self, folder: Path, info: os.stat_result) -> bool:
        why = "folder already visited (symbolic link loop or repeated folder)"
        return self._first_visit(self.seen_folders, folder, info, why)

    def _list(self, folder: Path) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as entries:
                return sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            reason = _TOO_LONG if error.errno == errno.ENAMETOOLONG else os_reason(error)
            self.error(folder, f"cannot list folder: {reason}")
            return []

    def _first_time(self, path: Path, info: os.stat_result) -> bool:
        return self._first_visit(self.seen_files, path, info, "same file as one already listed")

    def _first_visit(self, seen: Seen, path: Path, info: os.stat_result, why: str) -> bool:
        """Note the file or folder as seen; if it was already, skip it for ``why``."""
        if not seen.add((info.st_dev, info.st_ino)):
            self.skip(path, why)
            return False
        return True

    def _selected(self, relative: str, name: str) -> bool:
        if self._matches(self.exclude, relative, name):
            return False
        return not self.include or self._matches(self.include, relative, name)

    @staticmethod
    def _matches(patterns: tuple[str, ...], relative: str, name: str) -> bool:
        relative, name = relative.lower(), name.lower()
        return any(
            fnmatch.fnmatchcase(relative, p.lower()) or fnmatch.fnmatchcase(name, p.lower())
            for p in patterns
        )


def _kind(mode: int) -> str:
    """What a file that is not a regular file or folder is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """Whether a directory entry is a folder itself (not a link), without raising."""
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
