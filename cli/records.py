"""The records of ``blur-score``: one schema, written as a table, CSV, JSONL or JSON.

CSV and JSONL are written one line per record (:func:`header_line`, then
:func:`record_line` for each), so that a run can stream them, and are read back by
:func:`earlier_rows` when ``--resume`` continues a log.

File names are not always text. A name's undecodable bytes arrive as
surrogate escapes (``os.fsdecode``). JSON and JSONL write them as ``\\udcXX``
escapes, so the output is strict UTF-8 and ``os.fsencode(json.loads(...))``
gives back the file's real name. CSV, which has no escapes, writes the bytes
as they are in the name. Cells are written exactly, also those that begin
with ``=``, ``+``, ``-`` or ``@``, which a spreadsheet may take for a formula:
:func:`formula_like` finds them, so that the command can say so.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, TypeAlias, get_args

import click

from edgegrad.io import URL, read_record_log
from edgegrad.metrics import METHODS

Format: TypeAlias = Literal["table", "csv", "jsonl", "json", "parquet"]
FORMATS: tuple[Format, ...] = get_args(Format)
#: Formats written record by record, as the images finish.
STREAMED: tuple[Format, ...] = ("csv", "jsonl")
FIELDS = (
    *("path", "score", "method", "width", "height", "blurry", "warning", "error"),
    *("frame", "time"),
)
#: The header of logs written before records had ``frame`` and ``time``.
IMAGE_ONLY_FIELDS = FIELDS[:8]
#: How every JSONL record begins (``path`` is the first field): a last line cut
#: short is only dropped on ``--resume`` if it begins so.
JSONL_START = '{"path": '


@dataclass
class Row:
    """One output record; ``blurry`` is None when no threshold was set.

    ``frame`` (0-based) and ``time`` (seconds from the stream's start) place a
    video frame's record in its video; both are None for a still image and
    for a video's failure.
    """

    path: str
    score: float | None
    method: str
    width: int | None
    height: int | None
    blurry: bool | None
    warning: str | None
    error: str | None
    frame: int | None = None
    time: float | None = None


def render(rows: list[Row], fmt: Format) -> str:
    """All rows at once in ``fmt``: the table, JSON, or CSV/JSONL as streamed.

    Parquet, which is not text, is written by :mod:`edgegrad_cli.parquet`.
    """
    if fmt == "parquet":
        raise ValueError("Parquet is not text: write it with edgegrad_cli.parquet")
    if fmt == "json":
        return _json([asdict(r) for r in rows], indent=2) + "\n"
    if fmt in STREAMED:
        return header_line(fmt) + "".join(record_line(r, fmt) for r in rows)
    return _table(rows)


def header_line(fmt: Format) -> str:
    """What a CSV or JSONL output starts with: the CSV header line, or nothing."""
    return _csv_line(list(FIELDS)) if fmt == "csv" else ""


def record_line(row: Row, fmt: Format) -> str:
    """One record as one CSV or JSONL line, newline included (streamed or not)."""
    if fmt == "jsonl":
        # The fields are scalars: no need for asdict's deep copy, a record at a time.
        return _json({name: getattr(row, name) for name in FIELDS}) + "\n"
    return _csv_line([_csv_cell(getattr(row, name)) for name in FIELDS])


def strict_utf8(text: str) -> str:
    """``text`` in strict UTF-8: a lone surrogate (a name's undecodable byte) becomes ``\\udcXX``.

    Only lone surrogates cannot be encoded; ``backslashreplace`` writes each
    as the escape of the same code point, which is also its JSON escape.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _json(value: object, indent: int | None = None) -> str:
    """JSON in strict UTF-8: a name's undecodable bytes become ``\\udcXX`` escapes."""
    return strict_utf8(json.dumps(value, indent=indent, ensure_ascii=False))


def _csv_line(cells: list[object]) -> str:
    """One CSV line ending in ``\\n``, every cell that needs it quoted.

    Python's csv module quotes the characters of its line terminator, not a
    lone carriage return, which CSV readers take for the end of the row; a
    row holding one is written with every cell quoted.
    """
    carriage_return = any(isinstance(cell, str) and "\r" in cell for cell in cells)
    buffer = io.StringIO()
    if carriage_return:
        csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(cells)
    else:
        csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


#: What a spreadsheet takes for the start of a formula (OWASP, CSV injection:
#: https://owasp.org/www-community/attacks/CSV_Injection).
FORMULA_STARTS = ("=", "+", "-", "@")


def formula_like(row: Row) -> bool:
    """Whether a text cell of ``row`` begins like a spreadsheet formula.

    Such cells are still written exactly, as machines need them; a
    spreadsheet should import the file with its columns as text.
    """
    return any(
        isinstance(text, str) and text.startswith(FORMULA_STARTS)
        for text in (row.path, row.warning, row.error)
    )


#: What ``-o FILE`` may end in when ``--format`` is not given, and the format each names.
EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".json": "json",
    ".txt": "table",
    ".parquet": "parquet",
}


def format_for(output: Path | URL | None) -> Format:
    """The format named by an output file's extension (the table without ``-o``).

    Raises
    ------
    click.BadParameter
        For an extension that names no format (``.png``, none):
        writing the table there would not be what was asked.
    """
    if output is None:
        return "table"
    suffix = output.suffix.lower()
    if suffix not in EXTENSIONS:
        known = ", ".join(f"{ext} ({fmt})" for ext, fmt in EXTENSIONS.items())
        raise click.BadParameter(
            f"cannot tell the format of {output} from its extension; use {known}, or give --format",
            param_hint="'-o'",
        )
    return EXTENSIONS[suffix]


def _csv_cell(value: object) -> object:
    """Blank for null, ``true``/``false`` for booleans (as in the JSON output)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _table(rows: list[Row]) -> str:
    with_blurry = any(r.blurry is not None for r in rows)
    with_frames = any(r.frame is not None for r in rows)
    header = [
        *("#", "score", "size"),
        *(["blurry"] if with_blurry else []),
        *(["frame", "time"] if with_frames else []),
        *("path", "note"),
    ]
    lines = [header]
    for i, r in enumerate(rows, 1):
        score = "-" if r.score is None else METHODS[r.method].format(r.score)
        size = "-" if r.width is None else f"{r.width}x{r.height}"
        flag = ["yes" if r.blurry else "no" if r.blurry is not None else ""] if with_blurry else []
        place = []
        if with_frames:
            place = ["", ""] if r.frame is None else [str(r.frame), f"{r.time:.3f}"]
        note = (r.error or r.warning or "").removeprefix(f"{r.path}: ")
        lines.append([str(i), score, size, *flag, *place, r.path, note])
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    numeric = {0, 1, 2}
    if with_frames:
        numeric |= {header.index("frame"), header.index("time")}
    out = []
    for line in lines:
        cells = [
            cell.rjust(w) if c in numeric else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out) + "\n"


def earlier_rows(path: Path, fmt: Format) -> Iterator[tuple[int, Row]]:
    """Parse the complete records of a log, each with the number of its (last) line."""
    number = 1
    try:
        if fmt == "jsonl":
            for number, line in enumerate(_complete_lines(path, fmt), 1):
                yield number, _earlier_row(json.loads(line))
            return
        reader = csv.reader(_complete_lines(path, fmt))
        header = next(reader, None)
        if header is not None and tuple(header) == IMAGE_ONLY_FIELDS:
            raise click.UsageError(
                f"cannot resume {path}: it was written by an edgegrad whose records had no "
                "frame and time columns; give another -o FILE (or convert it by adding two "
                "empty columns, frame and time, to every line)"
            )
        if header is not None and tuple(header) != FIELDS:
            raise click.UsageError(
                f"cannot resume {path}: its header is {','.join(header)!r}, not "
                f"{','.join(FIELDS)!r}; it was not written by this blur-score"
            )
        for cells in reader:
            number = reader.line_num
            yield number, _earlier_row(_csv_record(cells))
    except (ValueError, csv.Error) as error:
        raise click.UsageError(
            f"cannot resume {path}: line {number} is not a blur-score record ({error})"
        ) from None


def _complete_lines(path: Path, fmt: Format) -> Iterator[str]:
    """The complete lines of a log; a last line cut short must look like a record's start."""
    start = header_line(fmt) if fmt == "csv" else JSONL_START
    for line in read_record_log(path):
        if line.endswith("\n"):
            yield line
            if fmt == "csv":
                start = ""  # after the header, a row begins with its path
        elif not (line.startswith(start) or start.startswith(line)):
            raise click.UsageError(
                f"cannot resume {path}: its last line is neither a blur-score record "
                "nor the start of one"
            )


def _csv_record(cells: list[str]) -> dict[str, object]:
    """The values of one CSV row, by field: the inverse of :func:`_csv_cell`."""
    if len(cells) != len(FIELDS):
        raise ValueError(f"{len(cells)} fields, not {len(FIELDS)}")
    values: dict[str, object] = {}
    for name, cell in zip(FIELDS, cells, strict=True):
        if cell == "":
            values[name] = None
        elif name == "score":
            values[name] = float(cell)
        elif name in ("width", "height", "frame"):
            values[name] = int(cell)
        elif name == "time":
            values[name] = float(cell)
        elif name == "blurry":
            if cell not in ("true", "false"):
                raise ValueError(f"blurry must be true, false or empty; got {cell!r}")
            values[name] = cell == "true"
        else:
            values[name] = cell
    return values


def _earlier_row(values: object) -> Row:
    """Check a parsed record has the fields and types of a :class:`Row`; return it."""
    # JSONL records of earlier releases have no frame and time: they are images.
    if not isinstance(values, dict) or not set(IMAGE_ONLY_FIELDS) <= set(values) <= set(FIELDS):
        raise ValueError(f"fields must be {', '.join(FIELDS)}")
    row = Row(**values)
    if not (isinstance(row.path, str) and isinstance(row.method, str)):
        raise ValueError("path and method must be text")
    if not (row.score is None or isinstance(row.score, (int, float))):
        raise ValueError("score must be a number or empty")
    if not (row.error is None or isinstance(row.error, str)):
        raise ValueError("error must be text or empty")
    whole = isinstance(row.frame, int) and not isinstance(row.frame, bool)
    if not (row.frame is None or (whole and row.frame >= 0)):
        raise ValueError("frame must be a whole number or empty")
    if not (row.time is None or isinstance(row.time, (int, float))):
        raise ValueError("time must be a number or empty")
    if (row.frame is None) != (row.time is None):
        raise ValueError("frame and time must both be given or both be empty")
    return row
