"""What every file transport offers (list, fetch, archive, delete), and picking only finished uploads.

A transport is a context manager over one connection; names are relative to
the source's remote folder. Errors are `TransportError`s whose messages name
the server but never carry a password or key.
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import BinaryIO

COPY_CHUNK = 1 << 16


class TransportError(Exception):
    """The remote server could not be reached or refused an operation; the message is for operators."""


class HostKeyMismatch(TransportError):
    """An SFTP server presented a host key other than the pinned one: never connect."""


class UntrustedCertificate(TransportError):
    """An FTPS server's certificate is not signed by a trusted authority or is for another host."""


@dataclass(frozen=True, slots=True)
class RemoteFile:
    name: str
    size: int
    mtime: datetime | None  # aware UTC; None when the server does not tell
    marker: str | None = None  # the companion done-marker, when the source uses them


@dataclass(frozen=True, slots=True)
class FetchedFile:
    path: str  # local path, complete (written to a .part file, then renamed)
    size: int
    sha256: str  # of the content, computed while downloading


def matches(name: str, pattern: str) -> bool:
    """Glob match ignoring case: Windows-side exporters are not consistent about ``.CSV``."""
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


class _HashingWriter:
    """A file wrapper that hashes and counts what is written through it."""

    def __init__(self, handle: BinaryIO):
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


class Transport(ABC):
    """One connection to a source's remote folder. Use as ``with transport: ...``."""

    remote_dir: str

    def __enter__(self) -> Transport:
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abstractmethod
    def connect(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _list_all(self) -> list[RemoteFile]:
        """Regular files directly in the remote folder."""

    @abstractmethod
    def _download(self, name: str, sink: _HashingWriter) -> None: ...

    @abstractmethod
    def _exists(self, path: str) -> bool: ...

    @abstractmethod
    def _make_dir(self, folder: str) -> None: ...

    @abstractmethod
    def _rename(self, name: str, target: str) -> None: ...

    @abstractmethod
    def delete(self, name: str) -> None: ...

    def list(self, pattern: str = "*") -> list[RemoteFile]:
        """Files in the remote folder whose name matches ``pattern`` (a glob, case-insensitive)."""
        return sorted((f for f in self._list_all() if matches(f.name, pattern)), key=lambda f: f.name)

    def fetch(self, name: str, local_path: str | os.PathLike) -> FetchedFile:
        """Stream ``name`` to ``local_path`` (never held in memory); the file appears only when complete."""
        local_path = os.fspath(local_path)
        partial = local_path + ".part"
        try:
            with open(partial, "wb") as handle:
                sink = _HashingWriter(handle)
                self._download(name, sink)
            os.replace(partial, local_path)
        except BaseException:
            if os.path.exists(partial):
                os.unlink(partial)
            raise
        return FetchedFile(local_path, sink.size, sink.digest.hexdigest())

    def archive(self, name: str, folder: str) -> str:
        """Move ``name`` into ``folder`` (created if missing); never overwrite an archived file.

        Returns the new remote path, relative to the remote folder unless ``folder`` is absolute.
        """
        self._make_dir(folder)
        target = f"{folder.rstrip('/')}/{name}"
        if self._exists(target):
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            target = f"{folder.rstrip('/')}/{name}.{stamp}"
            counter = 1
            while self._exists(target):
                counter += 1
                target = f"{folder.rstrip('/')}/{name}.{stamp}.{counter}"
        self._rename(name, target)
        return target


def marker_pattern(template: str) -> re.Pattern:
    """``"{name}.done"`` → a regex recognising marker names (so markers are never imported as data)."""
    parts = re.split(r"(\{name\}|\{stem\})", template)
    return re.compile("".join(".+" if p in ("{name}", "{stem}") else re.escape(p) for p in parts), re.IGNORECASE)


def marker_for(template: str, name: str) -> str:
    return template.replace("{name}", name).replace("{stem}", os.path.splitext(name)[0])


def stable_files(transport: Transport, pattern: str, settle_seconds: float, done_marker: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> list[RemoteFile]:
    """Files matching ``pattern`` that are finished uploading, oldest first.

    A file counts as finished when its size and modification time did not
    change across two listings ``settle_seconds`` apart, it is not empty, and
    (when ``done_marker`` is set, e.g. ``"{name}.done"`` or ``"{stem}.ok"``)
    its marker file exists. Markers themselves are never returned as data.
    """
    first = transport.list("*" if done_marker else pattern)
    names = {f.name.lower() for f in first}
    is_marker = marker_pattern(done_marker).fullmatch if done_marker else (lambda _: False)
    candidates = []
    for item in first:
        if not matches(item.name, pattern) or item.size == 0 or is_marker(item.name):
            continue
        if done_marker:
            marker = marker_for(done_marker, item.name)
            if marker.lower() not in names:
                continue
            item = replace(item, marker=next(f.name for f in first if f.name.lower() == marker.lower()))
        candidates.append(item)
    if candidates and settle_seconds > 0:
        sleep(settle_seconds)
        again = {f.name: f for f in transport.list(pattern)}
        candidates = [f for f in candidates
                      if f.name in again and (again[f.name].size, again[f.name].mtime) == (f.size, f.mtime)]
    return sorted(candidates, key=lambda f: (f.mtime.timestamp() if f.mtime else 0.0, f.name))
