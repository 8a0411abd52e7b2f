"""Text files from other systems: encoding detection that never guesses silently, and a streaming CSV reader.

The order is fixed (README, "Profiles"): a byte-order mark (UTF-8, UTF-16LE/BE)
wins; otherwise the whole file must decode as strict UTF-8; otherwise as the
source's declared legacy encoding (cp1250 by default). The whole file is
scanned in chunks before a single row is read, so a file that does not decode
is refused up-front with the byte offset, never half-imported. Memory stays
flat: nothing holds more than one chunk or one record.
"""
from __future__ import annotations

import codecs
import csv
import functools
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple, TextIO

CHUNK_SIZE = 1 << 20
MAX_LINE = 1 << 20  # characters; a longer "line" is not a CSV record (and must not fill memory)
DELIMITERS = (";", "\t", ",")
_BOMS = (  # (mark, codec to read with, codec to check the rest with, name)
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be", "UTF-16BE"),
)
_EIGHT_BIT_NUL = "contains a NUL byte, which never occurs in {what} text (UTF-16 without a byte-order mark?)"


class TextFileError(ValueError):
    """A file refused as a whole; the message is meant for the operator."""


class UndecodableFile(TextFileError):
    """No allowed encoding decodes the whole file."""

    def __init__(self, message: str, offset: int, tried: tuple[str, ...], offsets: dict[str, int]):
        super().__init__(message)
        self.offset = offset  # where the last encoding tried failed (the declared legacy one)
        self.tried = tried
        self.offsets = offsets  # encoding label → byte offset of its first failure


class MalformedFile(TextFileError):
    """The CSV structure itself is broken (e.g. a quote that is never closed)."""

    def __init__(self, message: str, line_no: int):
        super().__init__(message)
        self.line_no = line_no


@dataclass(frozen=True, slots=True)
class Detected:
    """The outcome of detection: the codec to read with, and how it was decided."""

    encoding: str  # a Python codec name usable with io.TextIOWrapper
    label: str  # for people and run records: "UTF-8", "cp1250 (declared)", "UTF-16LE (BOM)"


class Record(NamedTuple):
    line_no: int  # 1-based physical line where the record starts
    raw: str  # the record's text without its final line break
    fields: list[str]  # empty when ``error`` is set
    error: str | None = None  # a record whose quoting is broken, for the caller to quarantine


def _scan(stream: BinaryIO, encoding: str, start: int, nul_is_error: bool, chunk_size: int) -> tuple[int, str] | None:
    """Decode the stream from ``start`` to the end; return (offset, reason) of the first failure, or None."""
    stream.seek(start)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    pos = start
    while True:
        chunk = stream.read(chunk_size)
        if nul_is_error and b"\x00" in chunk:
            return pos + chunk.index(b"\x00"), "NUL"
        pending = _pending(decoder)
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            return pos - pending + exc.start, exc.reason
        if not chunk:
            return None
        pos += len(chunk)


def _pending(decoder) -> int:
    state = decoder.getstate()
    return len(state[0]) if isinstance(state, tuple) and isinstance(state[0], bytes) else 0


def detect_encoding(stream: BinaryIO, legacy: str = "cp1250", *, fixed: bool = False,
                    chunk_size: int = CHUNK_SIZE) -> Detected:
    """Decide how to decode ``stream`` (seekable, binary), scanning all of it; rewinds to 0.

    ``fixed=True`` skips the UTF-8 attempt and requires ``legacy`` (a BOM still
    wins): for sources known to send cp1250, whose upper-case Polish words
    (``SPÓŁKA``) can happen to be valid UTF-8.
    """
    stream.seek(0)
    head = stream.read(4)
    tried: list[str] = []
    for bom, codec, check, label in _BOMS:
        if head.startswith(bom):
            failure = _scan(stream, check, len(bom), False, chunk_size)
            stream.seek(0)
            if failure:
                raise UndecodableFile(
                    f"The file starts with a {label} byte-order mark but is not valid {label}: byte "
                    f"{failure[0]} cannot be decoded ({failure[1]}), so nothing was imported.",
                    failure[0], (f"{label} (BOM)",), {f"{label} (BOM)": failure[0]})
            return Detected(codec, f"{label} (BOM)")
    attempts = [] if fixed else [("utf-8", "UTF-8")]
    attempts.append((legacy, f"{codecs.lookup(legacy).name} (declared)"))
    failures = []
    for codec, label in attempts:
        eight_bit = not codecs.lookup(codec).name.startswith("utf-16")
        failure = _scan(stream, codec, 0, eight_bit, chunk_size)
        tried.append(label)
        if failure is None:
            stream.seek(0)
            return Detected(codec, label)
        offset, reason = failure
        if reason == "NUL":
            failures.append((offset, f"as {label}: byte {offset} "
                             + _EIGHT_BIT_NUL.format(what=label.split()[0])))
        else:
            failures.append((offset, f"as {label}: byte {offset} cannot be decoded ({reason})"))
    stream.seek(0)
    raise UndecodableFile(
        "The file cannot be read as text, so nothing was imported. Tried "
        + "; ".join(text for _, text in failures)
        + ". Export it again as UTF-8, or set the source's encoding to the one the ERP uses.",
        failures[-1][0], tuple(tried), dict(zip(tried, (offset for offset, _ in failures))))


def open_text(stream: BinaryIO, detected: Detected) -> TextIO:
    """A text view of ``stream`` that keeps line breaks as they are (the csv module needs that)."""
    stream.seek(0)
    return io.TextIOWrapper(stream, encoding=detected.encoding, errors="strict", newline="")


def sniff_delimiter(header_line: str, candidates: tuple[str, ...] = DELIMITERS,
                    expected: tuple[str, ...] = ()) -> str:
    """Pick the delimiter of a header line; refuse when it cannot be told.

    With ``expected`` column names, the candidate that splits the header into
    the most of them wins; otherwise the most frequent candidate. A tie is an
    error, never a coin toss.
    """
    line = header_line.rstrip("\r\n")
    wanted = {name.strip().lower() for name in expected}
    scores = []
    for delimiter in candidates:
        fields = next(csv.reader([line], delimiter=delimiter), [])
        names = sum(1 for f in fields if f.strip().lower() in wanted) if wanted else 0
        scores.append(((names, len(fields) - 1), delimiter))
    scores.sort(reverse=True)
    best, runner_up = scores[0], scores[1] if len(scores) > 1 else None
    if best[0][1] == 0 or (runner_up and runner_up[0] == best[0]):
        shown = ", ".join("tab" if c == "\t" else repr(c) for c in candidates)
        raise TextFileError(
            f"Cannot tell the column separator from the header line ({shown} are possible). "
            "Set the delimiter in the source's profile.")
    return best[1]


class _Lines:
    """The physical lines the csv module asks for, remembered so a record keeps its raw text."""

    __slots__ = ("lines", "pending", "taken", "eof")

    def __init__(self, lines: Iterator[str]):
        self.lines = lines
        self.pending: str | None = None
        self.taken: list[str] = []
        self.eof = False

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pending is not None:
            line, self.pending = self.pending, None
        else:
            try:
                line = next(self.lines)
            except StopIteration:
                self.eof = True
                raise
        self.taken.append(line)
        return line


def read_records(text: TextIO, delimiter: str, start_line: int = 1) -> Iterator[Record]:
    """Yield the CSV records of ``text``, skipping blank lines (and lines of bare delimiters).

    One dialect (strict: ``"`` quotes, ``""`` escapes one, anything else after
    a closing quote is an error) on three paths, fastest first: a line without
    a quote is split; a line with an even number of quotes is usually a whole
    record and goes through a csv reader fed from a list; otherwise a csv
    reader pulls continuation lines for quoted line breaks. A line whose
    quoting is broken comes back with ``error`` set; a quote still open at the
    end of the file refuses the file (`MalformedFile`): it swallowed every
    line after it.
    """
    dialect = {"delimiter": delimiter, "quotechar": '"', "doublequote": True, "strict": True}
    lines = iter(functools.partial(text.readline, MAX_LINE), "") if hasattr(text, "readline") else iter(text)
    source = _Lines(lines)
    reader = csv.reader(source, **dialect)
    feed: list[str] = []
    one_line = csv.reader(iter(feed.pop, None), **dialect)  # IndexError when it wants a second line
    blank = delimiter + " \t\r\n"
    record = tuple.__new__  # Record without its Python-level __new__ (hot loop)
    line_no = start_line - 1
    for line in source.lines:
        line_no += 1
        if len(line) >= MAX_LINE and line[-1] not in "\r\n":
            raise MalformedFile(f"Line {line_no} is longer than {MAX_LINE} characters: this is not a CSV "
                                "export (or its line breaks are missing).", line_no)
        if '"' not in line:
            if not line.strip(blank):
                continue
            raw = line.rstrip("\r\n")
            yield record(Record, (line_no, raw, raw.split(delimiter), None))
            continue
        if not line.count('"') & 1:
            feed.append(line)
            try:
                fields = next(one_line)
            except IndexError:  # a quoted line break after all: take the general path below
                fields = None
            except csv.Error as exc:
                yield record(Record, (line_no, line.rstrip("\r\n"), [],
                                      f"the quotes in this row are not balanced ({exc})"))
                continue
            if fields is not None:
                if any(f.strip() for f in fields):
                    yield record(Record, (line_no, line.rstrip("\r\n"), fields, None))
                continue
        source.pending, source.taken = line, []
        try:
            fields, error = next(reader), None
        except csv.Error as exc:
            if source.eof or "field larger" in str(exc):
                raise MalformedFile(
                    f"Line {line_no}: a quoted field is never closed, so every line after it would be "
                    f"swallowed ({exc}). Fix the quotes in the export.", line_no) from exc
            fields, error = [], f"the quotes in this row are not balanced ({exc})"
        raw = "".join(source.taken).rstrip("\r\n")
        first, line_no = line_no, line_no + len(source.taken) - 1
        if source.eof and len(source.taken) > 1:
            raise MalformedFile(f"Line {first}: a quoted field is never closed, so every line after it "
                                "would be swallowed. Fix the quotes in the export.", first)
        if error or any(f.strip() for f in fields):
            yield Record(first, raw, fields, error)
