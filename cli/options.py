"""Options shared by several commands, defined once (as pip-tools does)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from edgegrad.io import iter_images

from .report import Report

F = TypeVar("F", bound=Callable[..., Any])


def _compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


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
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Worker processes (default: one per CPU; 1 runs in-process).",
    ),
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


#: Names edgegrad gives its outputs: ``photo.sobel-a45.png``, ``photo.focus-map.png``.
OUTPUT_NAME = re.compile(
    r"\.(sobel|scharr|laplacian|gaussian|focus-map)(-[\w.+-]*)?\.(png|npy|tiff?)$",
    re.IGNORECASE,
)


def walk_inputs(paths: Sequence[Path], walk: dict[str, Any], report: Report) -> list[Path]:
    """Find the input images, leaving out edgegrad's own outputs found in folders.

    Without that, a rerun over a folder that holds earlier outputs next to the
    photos would filter or score the outputs too. Files named explicitly are
    always kept.
    """
    named = {p for p in paths if not p.is_dir()}
    found = []
    for path in iter_images(paths, on_skip=report.skip, **walk):
        if path not in named and OUTPUT_NAME.search(path.name):
            report.ignored += 1
        else:
            found.append(path)
    return found
