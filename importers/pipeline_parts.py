"""Parsing a big file in parts, one process each: byte windows cut at line ends, and the rows of a window.

The first part is an ordinary `SapFile` over the window (header included);
the others read their window with the same record reader and row mapper
(`textio.read_records`, `rows.MAPPERS`), numbering lines from where their
window starts. A cut is only a guess that a line end is a record end: when
it falls inside a quoted field, the part before it ends inside that quote and
the reader refuses it (`MalformedFile`), and the caller parses the file in
one piece instead. Only 8-bit and UTF-8 files are cut (a line feed byte is a
line feed there); every part decodes with the encoding detected on the whole
file.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, replace
from typing import Iterator

from engine.domain import Origin, RowError
from importers.sap_b1 import SOURCE, Profile, SapFile
from importers.sap_b1.rows import MAPPERS
from importers.sap_b1.values import BadValue
from importers.textio import read_records

_SCAN = 1 << 20


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
    """What a later part needs from the first: how to read and map a record."""

    profile: Profile
    index: dict
    width: int
    delimiter: str
    encoding: str

    @classmethod
    def of(cls, sap_file: SapFile) -> "Header":
        return cls(sap_file.profile, dict(sap_file.index), sap_file.width, sap_file.delimiter,
                   sap_file.detected.encoding)


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
            tail = f.read(_SCAN)
            at = tail.find(b"\n")
            if at < 0:
                break
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
                    counted -= 1  # a \r\n split across two blocks counts once
                last = block[-1:]
            start, line = end, line + counted
    return out


def fixed(profile: Profile, encoding: str) -> Profile:
    """The profile with the encoding detected on the whole file, so no window decides differently."""
    return replace(profile, encoding=encoding, fixed_encoding=True)


def open_part(path: str, part: Part, profile: Profile, name: str) -> SapFile:
    """The first window, header included, as a `SapFile` (its rows carry their file line)."""
    return SapFile(io.BufferedReader(Window(path, part.start, part.end), _SCAN), profile, name)


def part_rows(path: str, part: Part, head: Header, name: str) -> Iterator:
    """The rows of a later window, mapped exactly as `SapFile` maps them (``head``: from the first part)."""
    stream = io.TextIOWrapper(io.BufferedReader(Window(path, part.start, part.end), _SCAN),
                              encoding=head.encoding.replace("-sig", ""), errors="strict", newline="")
    try:
        map_row = MAPPERS[head.profile.kind](head.profile, head.index, name)
        width = head.width
        for line_no, raw, fields, error in read_records(stream, head.delimiter, start_line=part.first_line):
            count = len(fields)
            if error is None and count != width and (count < width or any(f.strip() for f in fields[width:])):
                error = (f"the row has {count} fields but the header has {width}; a separator inside a value "
                         "must be quoted")
            if error is not None:
                yield RowError(Origin(SOURCE, name, line_no), raw, error)
                continue
            try:
                yield map_row(line_no, raw, fields)
            except BadValue as exc:
                yield RowError(Origin(SOURCE, name, line_no), raw, str(exc), exc.extra)
    finally:
        stream.close()
