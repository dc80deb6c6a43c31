"""Options and input walking shared by several commands, defined once (as pip-tools does)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from edgegrad.io import iter_images

from .report import EXIT_FATAL, Report

F = TypeVar("F", bound=Callable[..., Any])
WALK_KEYS = ("recursive", "include", "exclude", "follow_symlinks")


def _compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


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

paths_argument = click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=True, dir_okay=True, path_type=Path),
)

walk_options = _compose(
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
    click.option(
        "-j",
        "--jobs",
        "--workers",
        "workers",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        help="Worker processes [default: one per CPU, in-process below 16 inputs]; "
        "--jobs 1 always runs in-process, for debugging.",
    ),
    click.option("-v", "--verbose", is_flag=True, help="List every skipped file."),
    debug_option,
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

#: Names edgegrad gives its outputs: ``photo.sobel-a45-k5.png``, ``photo.focus-map.png``.
OUTPUT_NAME = re.compile(
    r"(\.(sobel|scharr|laplacian|gaussian)"
    r"(-(a-?[0-9.e+-]+|k[0-9]+|s[0-9.e+-]+|n|color|abs|signed|normalize|raw))*"
    r"\.(png|npy|tif|tiff)|\.focus-map\.png)$",
    re.IGNORECASE,
)


def mirrored(source: Path, folders: Sequence[Path], destination: Path) -> Path:
    """The folder under ``destination`` where ``source`` keeps its place.

    A file found below one of the walked ``folders`` keeps its path relative to
    it (``photos/a/x.jpg`` -> ``DEST/a``); a file named directly goes to
    ``destination`` itself.
    """
    root = next((f for f in folders if source.is_relative_to(f)), source.parent)
    return destination / source.parent.relative_to(root)


def walk_inputs(
    paths: Sequence[Path],
    kw: dict[str, Any],
    report: Report,
    *,
    away_from: Sequence[Path] = (),
) -> list[Path]:
    """Find the input images named by ``paths`` with the walk options in ``kw``.

    Files found in folders are left out when they are edgegrad's own earlier
    outputs (by name) or lie in one of ``away_from`` (the run's output or
    action folders) below a walked folder, so a rerun never takes its outputs
    for inputs. An ``away_from`` folder that is a walked folder or holds one
    (``-o .``) fences nothing, since everything is below it. Files named
    explicitly are always kept. Folders that cannot be listed and files that
    cannot be read count as failures. Exits with code 1 when the paths hold
    nothing to look at.
    """
    named = {p for p in paths if not p.is_dir()}
    walked = [p.resolve() for p in paths if p.is_dir()]
    fences = [
        fence
        for fence in (f.resolve() for f in away_from)
        if not any(root.is_relative_to(fence) for root in walked)
    ]
    found = []
    walk = {key: kw[key] for key in WALK_KEYS}
    for path in iter_images(paths, on_skip=report.skip, on_error=report.failure, **walk):
        if path in named:
            found.append(path)
        elif OUTPUT_NAME.search(path.name) or any(
            path.resolve().is_relative_to(fence) for fence in fences
        ):
            report.ignored += 1
        else:
            found.append(path)
    if not found and not report.skipped and not report.ignored and not report.failed:
        click.echo("error: no images found in the given paths", err=True)
        raise SystemExit(EXIT_FATAL)
    return found
