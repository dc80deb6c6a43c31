"""Parquet output of ``blur-score``: the records' typed schema, written in row groups.

The columns are those of :data:`edgegrad_cli.records.FIELDS`, in that order,
each with one type (https://parquet.apache.org/docs/file-format/):

========  ========  ==============================================
column    type      null when
========  ========  ==============================================
path      string    never
score     float64   the input failed
method    string    never
width     int64     the input failed
height    int64     the input failed
blurry    bool      no threshold was given, or the input failed
warning   string    the file was sound
error     string    the input succeeded
frame     int64     a still image (0-based frame of a video)
time      float64   a still image (seconds from the video's start)
========  ========  ==============================================

Rows are buffered and written as one row group every
:data:`ROWS_PER_GROUP` records, so memory stays bounded however long the run;
the file goes through :func:`edgegrad.io.open_output`, so it appears at its
name only once it is complete (a killed run leaves none). A name's
undecodable bytes (surrogate escapes) are written as ``\\udcXX`` text, as in
JSON, since Parquet strings are UTF-8.

pyarrow is the optional extra ``parquet``; :func:`parquet_support` says how
to install it when it is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

from edgegrad.io import Location, open_output

from .records import FIELDS, Row, strict_utf8

PARQUET_INSTALL: Final = 'pip install "edgegrad[parquet]"'
#: Records per row group: a few hundred kilobytes of columns.
ROWS_PER_GROUP: Final = 4096
_TYPES: Final = {
    "path": "string",
    "score": "float64",
    "method": "string",
    "width": "int64",
    "height": "int64",
    "blurry": "bool_",
    "warning": "string",
    "error": "string",
    "frame": "int64",
    "time": "float64",
}
_TEXT: Final = frozenset(name for name, kind in _TYPES.items() if kind == "string")


def parquet_support() -> str | None:
    """``None`` when Parquet can be written, else what to install, in words."""
    if importlib.util.find_spec("pyarrow") is None:
        return f"Parquet output needs pyarrow: {PARQUET_INSTALL}"
    return None


def schema() -> Any:
    """The records' :class:`pyarrow.Schema`, in the order of ``FIELDS``."""
    import pyarrow as pa

    return pa.schema([pa.field(name, getattr(pa, _TYPES[name])()) for name in FIELDS])


def _text(value: str | None) -> str | None:
    return None if value is None else strict_utf8(value)


class ParquetRows:
    """Records written to an open binary file as a Parquet table, one row group at a time.

    Parameters
    ----------
    file : BinaryIO
        Where the table goes, written front to back (it need not seek).
    rows_per_group : int, optional
        Records per row group (default :data:`ROWS_PER_GROUP`).
    """

    def __init__(self, file: BinaryIO, *, rows_per_group: int = ROWS_PER_GROUP) -> None:
        import pyarrow.parquet as pq

        self.schema = schema()
        self.rows_per_group = rows_per_group
        self.pending: list[Row] = []
        self.writer = pq.ParquetWriter(file, self.schema)

    def add(self, row: Row) -> None:
        """Add one record; a full row group is written at once."""
        self.pending.append(row)
        if len(self.pending) >= self.rows_per_group:
            self._flush()

    def close(self) -> None:
        """Write the last row group and the file's footer."""
        self._flush()
        self.writer.close()

    def _flush(self) -> None:
        import pyarrow as pa

        if not self.pending:
            return
        columns = {
            name: [
                _text(getattr(row, name)) if name in _TEXT else getattr(row, name)
                for row in self.pending
            ]
            for name in FIELDS
        }
        self.writer.write_table(pa.table(columns, schema=self.schema))
        self.pending = []


@contextlib.contextmanager
def parquet_output(
    target: Location,
    *,
    overwrite: bool,
    protected: Iterable[Path] = (),
    rows_per_group: int = ROWS_PER_GROUP,
) -> Iterator[Callable[[Row], None]]:
    """Yield a function that adds a record; the table is published when the block ends.

    Nothing is published if the block raises (Ctrl-C included). ``protected``
    are the run's local inputs, never written onto.
    """
    with open_output(target, overwrite=overwrite, protected=protected) as file:
        rows = ParquetRows(file, rows_per_group=rows_per_group)
        yield rows.add
        rows.close()
