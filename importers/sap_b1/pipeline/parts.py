"""Reading a file in parts, one process each, and mapping its records later, in the chunk that applies them.

Staging only needs each record's document and customer, so it reads records
(`textio.read_records`) without mapping them; the chunk worker maps the
staged text with the same mapper and checks `SapFile` uses (`Mapper`), so the
costly part of parsing is shared by all the workers. A big file is cut into
byte windows just after a line feed, each read by its own process and
numbered from the line where it starts. A cut is only a guess that a line
end is a record end: when it falls inside a quoted field, the window before
it ends inside that quote and the reader refuses it (`MalformedFile`), and
the caller reads the file in one piece instead. Only 8-bit and UTF-8 files
are cut (a line feed byte is a line feed there); every window decodes with
the encoding detected on the whole file.
"""
from __future__ import annotations

import csv
import gc
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from importers.sap_b1 import Profile, SapFile, profile_from_dict
from importers.sap_b1.reader import MAPPERS, guarded
from importers.textio import Record, read_records

_SCAN = 1 << 20


@contextmanager
def without_gc():
    """Hold the cyclic garbage collector while tens of thousands of parsed tuples are alive: they form
    no cycles (reference counting frees them), and scanning them again and again cost more than the
    parsing itself. One young-generation collection afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect(1)


class Window(io.RawIOBase):
    """Bytes ``[start, end)`` of a file, as a seekable stream of its own."""

    def __init__(self, path: str, start: int, end: int):
        self._file = open(path, "rb")
        self.start, self.end, self._pos = start, end, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.end - self.start}[whence]
        self._pos = max(0, min(base + offset, self.end - self.start))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        wanted = min(len(buffer), self.end - self.start - self._pos)
        if wanted <= 0:
            return 0
        self._file.seek(self.start + self._pos)
        data = self._file.read(wanted)
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass(frozen=True)
class Header:
    """How to read and map a record of this file (from the header the whole file was checked with)."""

    profile: Profile
    index: dict
    width: int
    delimiter: str
    encoding: str

    @classmethod
    def of(cls, sap_file: SapFile) -> Header:
        """From an opened file; the encoding detected on the whole file is pinned for every part."""
        profile = replace(sap_file.profile, encoding=sap_file.detected.encoding, fixed_encoding=True)
        return cls(profile, dict(sap_file.index), sap_file.width, sap_file.delimiter, sap_file.detected.encoding)

    def to_dict(self) -> dict:
        return {"profile": self.profile.to_dict(), "index": self.index, "width": self.width,
                "delimiter": self.delimiter, "encoding": self.encoding}

    @classmethod
    def from_dict(cls, data: dict) -> Header:
        return cls(profile_from_dict({k: v for k, v in data["profile"].items() if k != "kind"},
                                     data["profile"]["kind"]),
                   dict(data["index"]), data["width"], data["delimiter"], data["encoding"])


@dataclass(frozen=True)
class Part:
    start: int
    end: int
    first_line: int  # physical line number of the window's first byte (1-based)


def _line_ends(chunk: bytes) -> int:
    """Physical lines ended in ``chunk`` as universal newlines count them (``\\r\\n``, ``\\n``, ``\\r``)."""
    return chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")


def cut(path: str, size: int, parts: int, encoding: str) -> list[Part]:
    """Up to ``parts`` windows cut just after a line feed; one window when the file cannot be cut."""
    if parts <= 1 or encoding.replace("_", "-").lower().startswith("utf-16"):
        return [Part(0, size, 1)]
    cuts = []
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(size * k // parts)
            at = f.read(_SCAN).find(b"\n")
            if at >= 0:
                cuts.append(size * k // parts + at + 1)
        cuts = sorted(set(c for c in cuts if 0 < c < size))
        out, start, line = [], 0, 1
        for end in cuts + [size]:
            out.append(Part(start, end, line))
            f.seek(start)
            remaining, counted, last = end - start, 0, b""
            while remaining > 0:
                block = f.read(min(_SCAN, remaining))
                remaining -= len(block)
                counted += _line_ends(block)
                if last == b"\r" and block[:1] == b"\n":
                    counted -= 1  # a \\r\\n split across two blocks counts once
                last = block[-1:]
            start, line = end, line + counted
    return out


def records(path: str, part: Part, header: Header) -> Iterator[Record]:
    """The records of a window (the header records skipped in the first one), numbered by file line."""
    stream = io.TextIOWrapper(io.BufferedReader(Window(path, part.start, part.end), _SCAN),
                              encoding=header.encoding, errors="strict", newline="")
    try:
        found = read_records(stream, header.delimiter, start_line=part.first_line)
        if part.start == 0:
            for _ in range(header.profile.header_rows):
                next(found, None)
        yield from found
    finally:
        stream.close()


def fields_of(raw: str, delimiter: str) -> list[str]:
    """The fields of a staged record, exactly as `read_records` split them the first time (a record on
    one line goes through the same strict csv dialect; one with quoted line breaks through the reader)."""
    if '"' not in raw:
        return raw.split(delimiter)
    if "\n" not in raw and "\r" not in raw:
        return next(csv.reader((raw,), delimiter=delimiter, quotechar='"', doublequote=True, strict=True))
    return next(read_records(io.StringIO(raw, newline=""), delimiter)).fields


def quoted_fields(raws: list[str], delimiter: str) -> list[list[str]] | None:
    """`fields_of` for many one-line records with quotes, through one csv reader (a reader per record costs
    more than its parsing); None when they do not come out one row per record, exactly as `fields_of` would
    split them (an error, or a quote left open that would join two records): then split them one by one."""
    if any("\n" in raw or "\r" in raw for raw in raws):
        return None
    try:
        out = list(csv.reader(raws, delimiter=delimiter, quotechar='"', doublequote=True, strict=True))
    except csv.Error:
        return None
    return out if len(out) == len(raws) else None


class Mapper:
    """`SapFile`'s row mapping for one file: a record → InvoiceRow, SkippedRow or RowError."""

    def __init__(self, header: Header, name: str):
        self.header, self.name = header, name
        self.map_row = guarded(MAPPERS[header.profile.kind](header.profile, header.index, name), name)

    def width_error(self, fields: list[str]) -> str | None:
        count, width = len(fields), self.header.width
        if count != width and (count < width or any(f.strip() for f in fields[width:])):
            return (f"the row has {count} fields but the header has {width}; a separator inside a value "
                    "must be quoted")
        return None

    def __call__(self, line_no: int, raw: str, fields: list[str]):
        return self.map_row(line_no, raw, fields)  # guarded: never raises
