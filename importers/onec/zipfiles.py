"""Safe reading of the zips 1C sends with `zip=yes`: bombs and path tricks are refused.

Every limit of ``ZipLimits`` is checked twice: against what the archive
declares, before anything is read, and against what is actually read, since a
header can lie. Entry names are refused when absolute, with ``..``, with a
drive letter, or when the entry is a symlink; nothing is written outside the
destination folder.
"""
from __future__ import annotations

import os
import stat
import zipfile
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from engine.onec import ZipLimits

_CHUNK = 64 * 1024
_RATIO_FLOOR = 1024 * 1024  # below this many bytes a high ratio cannot hurt


class ZipRefused(ValueError):
    """The archive was refused; the message says why in plain words."""


def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as 1C meant it (old Windows archivers write cp866 names)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("cp866")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def safe_entry_path(name: str) -> str:
    """A relative POSIX path for ``name``, or ZipRefused when it could escape."""
    if "\x00" in name:
        raise ZipRefused("An entry name contains a NUL character.")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise ZipRefused(f"The entry '{name}' has an absolute path.")
    parts = [p for p in PurePosixPath(unified).parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ZipRefused(f"The entry '{name}' climbs out of its folder ('..').")
    if not parts:
        raise ZipRefused(f"The entry '{name}' has no file name.")
    return "/".join(parts)


def _check_declared(infos: list[zipfile.ZipInfo], limits: ZipLimits, archive_size: int
                    ) -> list[tuple[zipfile.ZipInfo, str]]:
    if len(infos) > limits.max_entries:
        raise ZipRefused(f"The archive has {len(infos)} entries, over the limit of "
                         f"{limits.max_entries}.")
    total, seen, entries = 0, set(), []
    for info in infos:
        name = entry_name(info)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ZipRefused(f"The entry '{name}' is a symbolic link.")
        if info.flag_bits & 0x1:
            raise ZipRefused(f"The entry '{name}' is encrypted.")
        if info.is_dir():
            safe_entry_path(name)
            continue
        path = safe_entry_path(name)
        if path.casefold() in seen:
            raise ZipRefused(f"The entry '{name}' appears twice.")
        seen.add(path.casefold())
        if info.file_size > limits.max_entry_bytes:
            raise ZipRefused(f"The entry '{name}' would unpack to {info.file_size} bytes, over "
                             f"the limit of {limits.max_entry_bytes}.")
        if info.file_size > _RATIO_FLOOR and \
                info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ZipRefused(f"The entry '{name}' is compressed more than {limits.max_ratio} "
                             "times (a zip bomb?).")
        total += info.file_size
        entries.append((info, path))
    if total > limits.max_total_bytes:
        raise ZipRefused(f"The archive would unpack to {total} bytes, over the limit of "
                         f"{limits.max_total_bytes}.")
    if total > _RATIO_FLOOR and total > limits.max_ratio * max(archive_size, 1):
        raise ZipRefused(f"The archive is compressed more than {limits.max_ratio} times "
                         "(a zip bomb?).")
    return entries


def _copy(src: BinaryIO, out: BinaryIO, info: zipfile.ZipInfo, path: str, limits: ZipLimits,
          total_before: int, archive_size: int) -> int:
    """Copy one entry, counting what is really read; returns the bytes read."""
    read = 0
    while chunk := src.read(_CHUNK):
        read += len(chunk)
        if read > info.file_size or read > limits.max_entry_bytes:
            raise ZipRefused(f"The entry '{path}' unpacks to more than it declares.")
        if total_before + read > limits.max_total_bytes:
            raise ZipRefused("The archive unpacks to more than the limit of "
                             f"{limits.max_total_bytes} bytes.")
        if total_before + read > _RATIO_FLOOR and \
                total_before + read > limits.max_ratio * max(archive_size, 1):
            raise ZipRefused(f"The archive is compressed more than {limits.max_ratio} times "
                             "(a zip bomb?).")
        out.write(chunk)
    return read


def safe_unzip(archive: bytes | str | os.PathLike, limits: ZipLimits | None = None,
               dest: str | os.PathLike | None = None
               ) -> list[tuple[str, bytes]] | list[tuple[str, Path]]:
    """Unpack ``archive`` (bytes or a path) within ``limits``.

    Without ``dest``: ``[(relative name, bytes)]`` in memory. With ``dest``:
    files are written below that folder and ``[(relative name, path)]`` is
    returned; on any refusal, what was written is removed again.
    """
    limits = limits or ZipLimits()
    if isinstance(archive, (bytes, bytearray, memoryview)):
        size, source = len(archive), BytesIO(bytes(archive))
    else:
        size, source = Path(archive).stat().st_size, Path(archive)
    if size > limits.max_archive_bytes:
        raise ZipRefused(f"The archive is {size} bytes, over the limit of "
                         f"{limits.max_archive_bytes}.")
    base = Path(dest).resolve() if dest is not None else None
    results: list = []
    written: list[Path] = []
    try:
        with zipfile.ZipFile(source) as zf:
            total = 0
            for info, path in _check_declared(zf.infolist(), limits, size):
                with zf.open(info) as src:
                    if base is None:
                        buffer = BytesIO()
                        total += _copy(src, buffer, info, path, limits, total, size)
                        results.append((path, buffer.getvalue()))
                        continue
                    target = (base / path).resolve()
                    if base not in target.parents:
                        raise ZipRefused(f"The entry '{path}' points outside the folder.")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.is_symlink() or target.exists():
                        raise ZipRefused(f"The entry '{path}' would overwrite an existing file.")
                    written.append(target)
                    with open(target, "xb") as out:
                        total += _copy(src, out, info, path, limits, total, size)
                    results.append((path, target))
    except zipfile.BadZipFile as exc:
        _remove(written)
        raise ZipRefused(f"The upload is not a readable zip archive ({exc}).") from None
    except (ZipRefused, OSError, NotImplementedError) as exc:
        _remove(written)
        if isinstance(exc, ZipRefused):
            raise
        raise ZipRefused(f"The archive cannot be unpacked ({exc}).") from None
    return results


def _remove(paths: list[Path]) -> None:
    for path in reversed(paths):
        try:
            path.unlink()
        except OSError:
            pass
