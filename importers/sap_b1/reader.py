"""The one row pipeline for every SAP B1 file kind: decode, check the header, map each record.

Opening a `SapFile` refuses a bad file as a whole and up-front (it does not
decode, its separator cannot be told, a required column is missing);
iterating it then yields one result per record and never raises for a row:
a domain document (`CustomerDoc`, `InvoiceRow`, `ProductDoc`), a `SkippedRow`,
or a `RowError` for quarantine. Memory stays flat whatever the file size.
"""
from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterator
from typing import BinaryIO

from engine.domain import CustomerDoc, Origin, ProductDoc, RowError
from importers.sap_b1.card_rows import catalog_mapper, customer_mapper
from importers.sap_b1.profiles import COLUMNS, SOURCE, Profile
from importers.sap_b1.rows import InvoiceRow, SkippedRow, document_mapper
from importers.sap_b1.values import BadValue
from importers.textio import (
    MAX_LINE,
    Detected,
    TextFileError,
    detect_encoding,
    open_text,
    read_records,
    sniff_delimiter,
)

# The row mapper of each file kind (rows: invoices and credit notes; card_rows: customers and catalog).
MAPPERS = {"customers": customer_mapper, "invoices": document_mapper, "credit_notes": document_mapper,
           "catalog": catalog_mapper}

Row = CustomerDoc | InvoiceRow | ProductDoc | SkippedRow | RowError
_SHOWN_HEADERS = 40


def guarded(map_row, name: str):
    """The barrier around a row mapper: whatever one row raises becomes that row's `RowError`, so one row
    can never stop a file. `BadValue` carries the operator's sentence; anything else (a case no converter
    foresaw) is quarantined with its exception named, and the file goes on."""
    def map_guarded(line_no: int, raw: str, fields: list[str]) -> Row:
        try:
            return map_row(line_no, raw, fields)
        except BadValue as exc:
            return RowError(Origin(SOURCE, name, line_no), raw, str(exc), exc.extra)
        except Exception as exc:  # the barrier: no row may fail the file
            return RowError(Origin(SOURCE, name, line_no), raw,
                            f"the row could not be read ({exc.__class__.__name__}: {str(exc)[:200]})",
                            {"code": "unreadable_row"})
    return map_guarded


class BadHeader(TextFileError):
    """The header does not fit the profile: nothing in the file is imported."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()):
        super().__init__(message)
        self.missing = missing


class SapFile:
    """An opened SAP B1 export; iterate it once for its rows.

    ``source`` is a path or a seekable binary stream (an upload spooled to
    disk). Attributes after opening: ``name``, ``profile``, ``detected``
    (encoding and how it was decided), ``delimiter``, ``header`` (the column
    names), ``index`` (logical field → column position or None), ``size``.
    """

    def __init__(self, source: str | os.PathLike | BinaryIO, profile: Profile, name: str | None = None):
        self.profile = profile
        if isinstance(source, (str, os.PathLike)):
            self._stream, self._owned = open(source, "rb"), True
            self.name = name or os.path.basename(os.fspath(source))
        else:
            if not source.seekable():
                raise ValueError("A SAP B1 file must be read from a seekable stream (spool uploads to disk first).")
            self._stream, self._owned = source, False
            self.name = name or os.path.basename(str(getattr(source, "name", "")))
        self._iterated = False
        try:
            self.size = self._stream.seek(0, os.SEEK_END)
            self.detected: Detected = detect_encoding(self._stream, profile.encoding, fixed=profile.fixed_encoding)
            self._text = open_text(self._stream, self.detected)
            self._open_header()
        except BaseException:
            self.close()
            raise

    def _open_header(self) -> None:
        profile = self.profile
        for first in iter(functools.partial(self._text.readline, MAX_LINE), ""):
            if first.strip():
                break
        else:
            raise BadHeader(f"The file {self.name} is empty: it has no header row.")
        expected = tuple(h for h in profile.columns.values() if h)
        self.delimiter = profile.delimiter or sniff_delimiter(first.lstrip("\ufeff"), expected=expected)
        self._text.seek(0)
        self._records = read_records(self._text, self.delimiter)
        header_records = list(itertools.islice(self._records, profile.header_rows))
        if len(header_records) < profile.header_rows or any(r.error for r in header_records):
            raise BadHeader(f"The file {self.name} does not have the {profile.header_rows} header row(s) "
                            "its profile expects.")
        names = [f.strip().lstrip("\ufeff").strip() for f in header_records[profile.names_row - 1].fields]
        while names and not names[-1]:
            names.pop()
        self.header = tuple(names)
        self.width = len(names)
        self.index = self._resolve(names)

    def _resolve(self, names: list[str]) -> dict[str, int | None]:
        position: dict[str, int] = {}
        duplicated = set()
        for at, name in enumerate(names):
            key = name.lower()
            if key in position:
                duplicated.add(name)
            position.setdefault(key, at)
        index: dict[str, int | None] = {}
        missing = []
        specs = COLUMNS[self.profile.kind]
        for logical, header in self.profile.columns.items():
            at = position.get(header.lower()) if header else None
            if header and at is None and specs[logical].required:
                missing.append(header)
            if header and header in duplicated:
                raise BadHeader(f"The file {self.name} has the column {header} more than once; "
                                "the import cannot tell which one to use.")
            index[logical] = at
        if missing:
            shown = ", ".join(self.header[:_SHOWN_HEADERS]) + (", …" if len(self.header) > _SHOWN_HEADERS else "")
            raise BadHeader(
                f"The file {self.name} has no column {', '.join(missing)}, which a {self.profile.kind} file "
                f"needs, so nothing was imported. Its header has: {shown or '(nothing)'}. Fix the export, "
                "or the column names in the source's profile.", tuple(missing))
        return index

    @property
    def bytes_read(self) -> int:
        """Roughly how far reading has got (for progress bars); ``size`` is the total."""
        return self._stream.tell() if not self._stream.closed else self.size

    def __iter__(self) -> Iterator[Row]:
        if self._iterated:
            raise RuntimeError("A SapFile can be iterated only once.")
        self._iterated = True
        return self._rows()

    def _rows(self) -> Iterator[Row]:
        map_row = guarded(MAPPERS[self.profile.kind](self.profile, self.index, self.name), self.name)
        width, name = self.width, self.name
        for line_no, raw, fields, error in self._records:
            count = len(fields)
            if error is None and count != width and (count < width or any(f.strip() for f in fields[width:])):
                error = (f"the row has {count} fields but the header has {width}; a separator inside a value "
                         "must be quoted")
            if error is not None:
                yield RowError(Origin(SOURCE, name, line_no), raw, error)
                continue
            yield map_row(line_no, raw, fields)

    def close(self) -> None:
        text = getattr(self, "_text", None)
        if self._owned:
            (text or self._stream).close()
        elif text is not None and not self._stream.closed:
            text.detach()  # the caller's stream stays open

    def __enter__(self) -> SapFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_file(source: str | os.PathLike | BinaryIO, profile: Profile, name: str | None = None) -> SapFile:
    """Open and check a SAP B1 export; raises `UndecodableFile`, `BadHeader` or `TextFileError` up-front."""
    return SapFile(source, profile, name)
