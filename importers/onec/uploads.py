"""Upload names and chunked appends: a 1C `filename=` never leaves the upload folder."""
from __future__ import annotations

import os
import re
from pathlib import Path

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_NAME_BYTES = 255


class UnsafeName(ValueError):
    """The file name cannot be used; the message says why in plain words."""


class UploadTooLarge(ValueError):
    """The upload grew past its limit."""


def safe_basename(filename: str | None) -> str:
    """The base name of what 1C sent as ``filename`` (it may be an absolute path).

    ``/tmp/1c/import_files/orders.xml`` and ``C:\\exchange\\orders.xml`` both
    give ``orders.xml``; empty, dot-only, hidden or control-character names are
    refused.
    """
    if filename is None:
        raise UnsafeName("The request has no file name.")
    name = re.split(r"[\\/]", str(filename))[-1]
    name = _DRIVE.sub("", name).strip()
    if not name:
        raise UnsafeName("The file name is empty.")
    if set(name) == {"."}:
        raise UnsafeName(f"'{name}' is not a file name.")
    if name.startswith("."):
        raise UnsafeName(f"The file name '{name}' starts with a dot; 1C never sends such names.")
    if _CONTROL.search(name):
        raise UnsafeName("The file name contains control characters.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise UnsafeName(f"The file name is longer than {MAX_NAME_BYTES} bytes.")
    return name


def upload_path(folder: str | os.PathLike, filename: str | None) -> Path:
    """Where ``filename`` lives inside ``folder``; guaranteed to stay inside it."""
    base = Path(folder).resolve()
    target = (base / safe_basename(filename)).resolve()
    if target.parent != base:
        raise UnsafeName("The file name points outside the upload folder.")
    return target


def append_upload(folder: str | os.PathLike, filename: str | None, chunk: bytes,
                  max_bytes: int) -> tuple[Path, int]:
    """Append one uploaded chunk (1C sends big files in several POSTs, in order).

    Returns the file and its new size. Refuses to follow a symlink, and refuses
    a chunk that would take the file past ``max_bytes`` (nothing is written then).
    """
    target = upload_path(folder, filename)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o600)
    except OSError as exc:
        raise UnsafeName(f"The upload file cannot be opened ({exc.strerror}).") from None
    try:
        size = os.fstat(fd).st_size
        if size + len(chunk) > max_bytes:
            raise UploadTooLarge(f"The file '{target.name}' would grow to {size + len(chunk)} "
                                 f"bytes, over the limit of {max_bytes} bytes.")
        view = memoryview(chunk)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        return target, size + len(chunk)
    finally:
        os.close(fd)
