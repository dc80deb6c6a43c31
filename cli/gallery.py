"""``blur-score --report``: the wiring between a run's records and :mod:`edgegrad.report`.

The workers send each image's thumbnail (and focus map) with its record;
:meth:`Gallery.take` writes them to the report's folder at once and hands the
record on without them, so the parent never holds more than the record in
hand. :meth:`Gallery.add` notes each judged row (a few numbers and the path),
and :meth:`Gallery.write` writes the page at the end.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import shlex
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import click
from click.core import ParameterSource

from edgegrad.batch import Record
from edgegrad.errors import EdgegradError
from edgegrad.jobs import FileScore
from edgegrad.metrics import METHODS
from edgegrad.report import (
    MAP_TILE,
    THUMBNAIL_SIZE,
    HtmlReport,
    ReportFailure,
    ReportImage,
    ReportRun,
)

from .records import Row
from .report import Report


class Gallery:
    """The HTML report of one ``blur-score`` run.

    Raises
    ------
    click.BadParameter
        When the page's name is not ``.html``/``.htm``, or the page or its
        folder exists without ``--overwrite``.
    """

    def __init__(self, page: Path, *, method: str, overwrite: bool, maps: bool) -> None:
        try:
            self.writer = HtmlReport(page, method=method, overwrite=overwrite, maps=maps)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--report'") from None
        except EdgegradError as error:
            hint = "; pass --overwrite to replace it" if "exists" in str(error) else ""
            raise click.BadParameter(f"{error}{hint}", param_hint="'--report'") from None
        self.method = method
        self.started = datetime.now().astimezone()
        self._clock = time.monotonic()
        self._numbers: collections.deque[tuple[int | None, bool]] = collections.deque()
        self.images: list[ReportImage] = []
        self.failures: list[ReportFailure] = []
        self.thumbnail_size = THUMBNAIL_SIZE
        self.map_tile = MAP_TILE if maps else None

    @property
    def assets(self) -> Path:
        """The folder of the report's pictures, which a folder walk must pass over."""
        return self.writer.assets

    def take(self, record: Record[FileScore]) -> Record[FileScore]:
        """Write the record's pictures to the report's folder; return the record without them."""
        result = record.result
        if result is None:
            self._numbers.append((None, False))
            return record
        number = self.writer.add_pictures(result.thumbnail, result.focus_map)
        self._numbers.append((number, result.focus_map is not None))
        bare = dataclasses.replace(result, thumbnail=None, focus_map=None)
        return dataclasses.replace(record, result=bare)

    def add(self, row: Row) -> None:
        """Note one judged row; rows come in the order their records were taken."""
        number, mapped = self._numbers.popleft()
        if row.score is None or row.width is None or row.height is None:
            self.failures.append(ReportFailure(row.path, row.error or "unknown error"))
            return
        self.images.append(
            ReportImage(
                row.path,
                row.score,
                row.width,
                row.height,
                bool(row.blurry),
                row.warning,
                number,
                mapped,
                len(self.images) + len(self.failures),
            )
        )

    def write(
        self,
        ctx: click.Context,
        report: Report,
        *,
        cut: float | None,
        cut_label: str,
        protected: Iterable[Path],
    ) -> None:
        """Write the page; ``cut`` is the sharpness key of the blurry cut (``blurry_cut``)."""
        measure = METHODS[self.method]
        run = ReportRun(
            command=command_line(ctx),
            method=self.method,
            started=self.started,
            seconds=time.monotonic() - self._clock,
            skipped=report.skipped + report.ignored,
            cut=None if cut is None else measure.sharpness(cut),
            cut_label=cut_label,
        )
        page = self.writer.write(run, self.images, self.failures, protected=protected)
        failures = len(self.failures)
        report.say(
            f"wrote {page} ({len(self.images)} images, {failures} "
            f"failure{'' if failures == 1 else 's'}; pictures in {self.assets}/)"
        )


def command_line(ctx: click.Context) -> str:
    """The command line of ``ctx``'s command as it was parsed: what was given, in words.

    Options and arguments given on the command line are written back in the
    command's order, each under its longest name (``-m`` as ``--method``),
    after ``edgegrad`` and the command's name (however the program was
    started); defaults and environment variables are left out.
    """
    words: list[str] = []
    for param in ctx.command.params:
        name = param.name
        if name is None or name not in ctx.params:
            continue
        if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[name]
        if isinstance(param, click.Argument):
            values = value if isinstance(value, tuple | list) else (value,)
            words += [_word(v) for v in values]
            continue
        if not isinstance(param, click.Option):
            continue
        flag = max(param.opts, key=len)
        if param.is_flag:
            if value:
                words.append(flag)
            elif param.secondary_opts:
                words.append(max(param.secondary_opts, key=len))
        elif param.multiple:
            for item in value:
                words += [flag, _word(item)]
        else:
            words += [flag, _word(value)]
    names: list[str] = []
    node: click.Context | None = ctx
    while node is not None and node.parent is not None:
        names.insert(0, node.info_name or "")
        node = node.parent
    return " ".join(["edgegrad", *names, shlex.join(words)]).rstrip()


def _word(value: object) -> str:
    """One value as it would be typed: ``100`` for 100.0, ``x,y,w,h`` for a region."""
    if isinstance(value, tuple):
        return ",".join(_word(v) for v in value)
    if isinstance(value, float) and math.isfinite(value):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)
