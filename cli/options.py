"""Options and input walking shared by several commands, defined once (as pip-tools does)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import click

from edgegrad.cluster import DASK_INSTALL, LOCAL, SCHEDULER_VARIABLE
from edgegrad.io import URL, Location, Seen, as_location, is_url, iter_images, remote_support
from edgegrad.jobs import is_output_name
from edgegrad.metrics import METHODS

from .report import Fatal, Report

F = TypeVar("F", bound=Callable[..., Any])


def compose(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """One decorator that applies ``decorators`` in the order written (top first)."""

    def apply(func: F) -> F:
        result: Any = func
        for decorator in reversed(decorators):
            result = decorator(result)
        return cast(F, result)

    return apply


class Finite(click.FloatRange):
    """A float that must be finite, optionally within a range.

    ``click.FloatRange`` lets ``nan`` through (no comparison with NaN is
    false), and a NaN threshold would judge nothing.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The number, or a usage error naming the option if it is NaN or infinite."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"must be a finite number; got {value!r}", param, ctx)
        return number


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["edgegrad.debug"] = True


#: ``--debug`` works before or after the command name (ctx.meta is shared).
debug_option = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="Show tracebacks on errors.",
)

verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="List every file skipped or passed over in a folder, with the reason.",
)

jobs_option = click.option(
    "-j",
    "--jobs",
    "--workers",
    "jobs",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Worker processes [default: one per CPU, in-process below 16 inputs]; "
    "--jobs 1 always runs in-process, for debugging.",
)

#: ``--scheduler ADDRESS``: run the per-file work on a Dask cluster (edgegrad.cluster).
scheduler_option = click.option(
    "--scheduler",
    envvar=SCHEDULER_VARIABLE,
    show_envvar=True,
    metavar="ADDRESS",
    help="Run the per-file work on a Dask cluster: its scheduler's tcp://HOST:PORT, the "
    f"file of dask scheduler --scheduler-file FILE, or {LOCAL!r} to start one here with "
    f"--jobs worker processes. Needs {DASK_INSTALL}.",
)


class LocalPath(click.Path):
    """A local file or folder; a URL is a usage error that says which command reads URLs."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The path, as ``click.Path`` checks it, or a usage error for a URL."""
        if isinstance(value, str) and is_url(value):
            self.fail(
                f"{value!r} is a URL: only blur-score reads URLs; this command needs local "
                "files (copy them first, e.g. with fsspec or the store's own tool)",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


paths_argument = click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=LocalPath(exists=True, file_okay=True, dir_okay=True, path_type=Path),
)


@dataclass(frozen=True)
class Walk:
    """How to look for inputs in folders, as :func:`edgegrad.io.iter_images` takes it."""

    recursive: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False


def _as_walk(command: F) -> F:
    """Hand the four walk options to ``command`` as one ``walk: Walk`` argument."""

    @functools.wraps(command)
    def walking(
        *args: Any,
        recursive: bool,
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        follow_symlinks: bool,
        **options: Any,
    ) -> Any:
        return command(*args, walk=Walk(recursive, include, exclude, follow_symlinks), **options)

    return cast(F, walking)


#: ``--recursive/--no-recursive``, ``--include``, ``--exclude`` and
#: ``--follow-symlinks``, which reach the command as ``walk: Walk``.
walk_options = compose(
    click.option(
        "--recursive/--no-recursive",
        default=True,
        show_default=True,
        help="Walk folders recursively.",
    ),
    click.option(
        "--include",
        multiple=True,
        metavar="GLOB",
        help="Only process files matching GLOB (repeatable).",
    ),
    click.option(
        "--exclude",
        multiple=True,
        metavar="GLOB",
        help="Skip files matching GLOB (repeatable).",
    ),
    click.option(
        "--follow-symlinks",
        is_flag=True,
        help="Follow symlinked folders (loops are detected and skipped).",
    ),
    _as_walk,
)

max_pixels_option = click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=None,
    envvar="EDGEGRAD_MAX_PIXELS",
    show_envvar=True,
    help="Refuse images whose header declares more pixels than this [default: 250000000].",
)

overwrite_option = click.option(
    "--overwrite",
    is_flag=True,
    help="Replace existing outputs (inputs are never overwritten).",
)


#: What every command over files and folders takes: overwriting, the pixel
#: limit, how to walk folders, workers, verbosity and tracebacks.
batch_options = compose(
    overwrite_option,
    max_pixels_option,
    walk_options,
    jobs_option,
    verbose_option,
    debug_option,
)


class LocationType(click.Path):
    """A local path, checked as ``click.Path`` checks it, or a URL.

    URLs (``s3://``, ``gs://``, ``az://``, ``http(s)://``, ``file://``) become
    :class:`edgegrad.io.URL`; a scheme whose fsspec back-end is missing is a
    usage error naming the ``pip install`` command. With ``output``, a
    ``file://`` URL becomes its local path and ``http(s)://`` is refused.
    """

    name = "path_or_url"

    def __init__(self, *, output: bool = False, **options: Any) -> None:
        super().__init__(path_type=Path, **options)
        self.output = output

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """A :class:`URL` for a URL, else what ``click.Path`` makes of the value."""
        if isinstance(value, URL | Path):
            return value
        if isinstance(value, str) and is_url(value):
            url = URL(value)
            problem = remote_support(url.scheme)
            if problem is not None:
                verb = "write" if self.output else "read"
                self.fail(f"cannot {verb} {url}: {problem}", param, ctx)
            if self.output and url.web:
                self.fail(f"cannot write to {url}: http(s):// URLs cannot be written", param, ctx)
            # An output at a file:// URL is a local file, written as any other.
            return (url.local() if self.output else None) or url
        return super().convert(value, param, ctx)


#: The inputs of ``blur-score``: files, folders and URLs, mixed; none with ``--files-from``.
inputs_argument = click.argument(
    "paths",
    nargs=-1,
    required=False,
    type=LocationType(exists=True, file_okay=True, dir_okay=True),
)

#: ``--files-from FILE``: one more input per line (``-`` reads standard input).
files_from_option = click.option(
    "--files-from",
    type=click.File("rb"),
    metavar="FILE",
    help="Also score each file or URL listed in FILE, one a line (- for standard input), "
    "after PATHS. Lines are UTF-8 (bytes that are not become surrogate escapes, as "
    "os.fsdecode does); only the newline is stripped, and blank lines are skipped. Listed "
    "entries are files, taken as they are: folders are not walked and --include/--exclude "
    "do not apply to them.",
)


def listed_inputs(stream: IO[bytes], report: Report, *, seen: Seen) -> Iterator[Location]:
    """The inputs ``--files-from`` lists, one a line, read lazily.

    Each line is decoded as UTF-8 with ``surrogateescape`` (as
    :func:`os.fsdecode` on POSIX), so any file name comes back as its bytes;
    the trailing ``\n`` is all that is stripped. Lines that are empty or only
    whitespace are skipped. An entry whose text is in ``seen`` (it was named,
    found or listed before) is counted as skipped, so each input is done
    once; ``seen`` is updated.

    Raises
    ------
    click.UsageError
        For a URL whose back-end is not installed (once, at its first URL).
    """
    checked: set[str] = set()
    for raw in stream:
        line = raw.removesuffix(b"\n").decode("utf-8", "surrogateescape")
        if not line.strip():
            continue
        location = as_location(line)
        if isinstance(location, URL) and location.scheme not in checked:
            problem = remote_support(location.scheme)
            if problem is not None:
                raise click.UsageError(f"--files-from lists {location}: {problem}")
            checked.add(location.scheme)
        if not seen.add(str(location)):
            report.skip(location, "listed more than once")
            continue
        yield location


def walk_inputs(
    paths: Sequence[Path], walk: Walk, report: Report, *, away_from: Sequence[Path] = ()
) -> list[Path]:
    """Find the input images under local ``paths``: :func:`iter_walk`, collected into a list.

    Raises
    ------
    Fatal
        When the paths hold nothing to look at.
    """
    # A local path walks to local files only.
    return cast(list[Path], list(iter_walk(paths, walk, report, away_from=away_from)))


def iter_walk(
    paths: Sequence[Location],
    walk: Walk,
    report: Report,
    *,
    away_from: Sequence[Path] = (),
) -> Iterator[Location]:
    """The input images named by ``paths``, found lazily, in the order given and walked.

    Files found in folders are left out when they are edgegrad's own earlier
    outputs (by name) or lie in one of ``away_from`` (the run's output or
    action folders) below a walked folder, so a rerun never takes its outputs
    for inputs. An ``away_from`` folder that is a walked folder or holds one
    (``-o .``) fences nothing, since everything is below it. Files named
    explicitly are always kept. Folders that cannot be listed and files that
    cannot be read count as failures.

    Raises
    ------
    Fatal
        Once the walk is over, when the paths held nothing to look at.
    """
    local = [p for p in paths if isinstance(p, Path)]
    named = {p for p in local if not p.is_dir()}
    walked = [p.resolve() for p in local if p.is_dir()]
    fences = [
        fence
        for fence in (f.resolve() for f in away_from)
        if not any(root.is_relative_to(fence) for root in walked)
    ]
    found = False
    for path in iter_images(
        paths,
        recursive=walk.recursive,
        include=walk.include,
        exclude=walk.exclude,
        follow_symlinks=walk.follow_symlinks,
        on_skip=report.skip,
        on_error=report.failure,
        on_other=report.pass_over,
    ):
        if isinstance(path, URL):  # found in a store, or named: nothing of a run is there
            found = True
            yield path
            continue
        fence = next((f for f in fences if path.resolve().is_relative_to(f)), None)
        if path in named:
            found = True
            yield path
        elif is_output_name(path.name):
            report.ignored += 1
            report.pass_over(
                path, "its name is that of an earlier edgegrad output (name it to process it)"
            )
        elif fence is not None:
            report.ignored += 1
            report.pass_over(path, f"lies in this run's output folder {fence}")
        else:
            found = True
            yield path
    require_found(found, report, "the given paths")


def require_found(found: bool, report: Report, where: str) -> None:
    """Refuse a run that found no inputs and passed over, skipped or failed none either.

    Raises
    ------
    Fatal
        Then: there was nothing to look at in ``where``.
    """
    if not found and not (report.skipped or report.ignored or report.failed):
        raise Fatal(f"no images found in {where}")


Region = tuple[int, int, int, int]


def _parse_roi(ctx: click.Context, param: click.Parameter, value: str | None) -> Region | None:
    if value is None:
        return None
    try:
        parts = tuple(int(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or parts[2] <= 0 or parts[3] <= 0 or min(parts[:2]) < 0:
        raise click.BadParameter(f"expected x,y,w,h in pixels with w, h > 0; got {value!r}")
    x, y, w, h = parts
    return x, y, w, h


def _method_help() -> str:
    """``--method``'s help, from the registry: each name with its direction."""
    groups: dict[str, list[str]] = {}
    for measure in METHODS.values():
        groups.setdefault(measure.direction, []).append(measure.name)
    return "; ".join(f"{', '.join(names)}: {direction}" for direction, names in groups.items())


method_option = click.option(
    "-m",
    "--method",
    type=click.Choice(list(METHODS)),
    default="lapv",
    show_default=True,
    help=_method_help() + ".",
)


#: ``--roi X,Y,W,H`` or ``--center FRACTION``: the region a command scores.
region_options = compose(
    click.option("--roi", callback=_parse_roi, metavar="X,Y,W,H", help="Score only this region."),
    click.option(
        "--center",
        type=Finite(0, 1, min_open=True),
        metavar="FRACTION",
        help="Score only a centred region of this fraction of width and height.",
    ),
)
