"""Exchange sessions and uploads, kept in the database so any web node serves any request.

The cookie is a random secret (only its SHA-256 is stored) and ``sessid`` a
second random value that newer 1C clients echo in the URL. Uploaded chunks
are appended in order as rows; a zip is unpacked (within the configured
limits) when the session moves on to ``import`` or ``query``, and its XML
entries become files of their own.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import ApiKey, ExchangeChunk, ExchangeFile, ExchangeSession
from engine.onec import ExchangeConfig
from importers.onec.runs import drop_chunks, file_bytes
from importers.onec.zipfiles import ZipRefused, safe_unzip

SESSION_TTL = timedelta(hours=2)  # 1C finishes a session in minutes; a stale cookie is refused
IDLE = timedelta(minutes=10)  # an open session this quiet has stopped uploading
MAX_ERRORS = 50
XML_START = (b"<", b"\xef\xbb\xbf<", b"\xff\xfe<", b"\xfe\xff\x00<")
ZIP_START = (b"PK\x03\x04", b"PK\x05\x06")


class UploadRefused(ValueError):
    """An upload over a limit; the message says which."""


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def open_session(session: Session, key: ApiKey, exchange_type: str, *, now: datetime,
                 remote_addr: str = "", user_agent: str = "") -> tuple[ExchangeSession, str]:
    """A new session for ``key``; returns it and the cookie value (shown once)."""
    cookie = secrets.token_urlsafe(32)
    row = ExchangeSession(integration=key.name, api_key_id=key.id, exchange_type=exchange_type,
                          cookie_hash=_hash(cookie), sessid=secrets.token_hex(16), state="open",
                          last_mode="checkauth", remote_addr=remote_addr[:64],
                          user_agent=user_agent[:200], started_at=now, last_seen_at=now)
    session.add(row)
    session.flush()
    return row, cookie


def find_session(session: Session, cookie: str | None) -> ExchangeSession | None:
    """The session of this cookie. ``sessid`` alone never opens one: it travels in URLs
    (and so in proxy logs); it is only checked against the cookie's session."""
    if not cookie:
        return None
    return session.execute(select(ExchangeSession).where(
        ExchangeSession.cookie_hash == _hash(cookie))).scalar_one_or_none()


def is_expired(row: ExchangeSession, now: datetime) -> bool:
    return row.state == "expired" or now - row.last_seen_at > SESSION_TTL


def log_error(row: ExchangeSession, mode: str, reason: str, now: datetime) -> None:
    errors = list(row.errors or [])
    if len(errors) < MAX_ERRORS:
        errors.append({"at": now.isoformat(), "mode": mode, "reason": reason})
        row.errors = errors  # a new list: JSON columns notice assignment, not mutation


def _latest(session: Session, row: ExchangeSession, name: str) -> ExchangeFile | None:
    return session.execute(select(ExchangeFile).where(
        ExchangeFile.session_id == row.id, ExchangeFile.name == name,
        ExchangeFile.parent_id.is_(None)).order_by(ExchangeFile.id.desc()).limit(1)
    ).scalar_one_or_none()


def _wanted(name: str, chunk: bytes) -> bool:
    """XML and zips are kept; pictures and other catalog files are not needed here."""
    lower = name.lower()
    return lower.endswith((".xml", ".zip")) or chunk.startswith(XML_START + ZIP_START)


def add_chunk(session: Session, row: ExchangeSession, name: str, chunk: bytes,
              config: ExchangeConfig, now: datetime) -> ExchangeFile:
    """Append one POSTed chunk to the session's file ``name`` (a new file after an import)."""
    file = _latest(session, row, name)
    if file is None or file.status not in ("receiving", "skipped"):
        status = "receiving" if _wanted(name, chunk) else "skipped"
        file = ExchangeFile(session_id=row.id, name=name, status=status, size=0, chunks=0,
                            created_at=now)
        session.add(file)
        session.flush()
    cap = max(config.max_upload_bytes, config.zip.max_archive_bytes if config.zip_allowed else 0)
    if file.size + len(chunk) > cap:
        raise UploadRefused(f"The file {name} would grow to {file.size + len(chunk)} bytes, "
                            f"over the limit of {cap} bytes; nothing was added.")
    if file.status == "receiving" and chunk:
        session.add(ExchangeChunk(file_id=file.id, seq=file.chunks, data=chunk))
    file.size += len(chunk)
    file.chunks += 1
    session.flush()
    return file


def _first_bytes(session: Session, file: ExchangeFile) -> bytes:
    data = session.execute(select(ExchangeChunk.data).where(
        ExchangeChunk.file_id == file.id).order_by(ExchangeChunk.seq).limit(1)).scalar()
    return bytes(data[:4]) if data else b""


def unpack_zips(session: Session, row: ExchangeSession, config: ExchangeConfig,
                now: datetime) -> list[str]:
    """Unpack every complete zip of the session; returns the reasons of refused ones."""
    refused = []
    for file in list(row.files):
        if file.status != "receiving" or not _first_bytes(session, file).startswith(ZIP_START):
            continue
        file.status = "running"
        if not config.zip_allowed:
            reason = f"{file.name} is a zip archive, but zip uploads are switched off"
        elif file.size > config.max_upload_bytes and file.size > config.zip.max_archive_bytes:
            reason = f"{file.name} is larger than the limit for archives"
        else:
            reason = None
        entries = []
        if reason is None:
            try:
                entries = safe_unzip(file_bytes(session, file.id), config.zip)
            except ZipRefused as exc:
                reason = f"{file.name}: {exc}"
        kept = skipped = 0
        for entry, data in entries:
            if not entry.lower().endswith(".xml"):
                skipped += 1
                continue
            if len(data) > config.max_upload_bytes:
                reason = f"{file.name}: {entry} is larger than {config.max_upload_bytes} bytes"
                break
            child = ExchangeFile(session_id=row.id, parent_id=file.id, name=entry,
                                 size=len(data), chunks=1, status="receiving", created_at=now)
            session.add(child)
            session.flush()
            session.add(ExchangeChunk(file_id=child.id, seq=0, data=data))
            kept += 1
        if reason is not None:
            for child in [f for f in row.files if f.parent_id == file.id]:
                drop_chunks(session, child.id)
                child.status = "skipped"
            file.status, file.error = "failed", reason
            refused.append(reason)
        else:
            file.status, file.counts = "done", {"xml_files": kept, "other_files": skipped}
        file.finished_at = now
        drop_chunks(session, file.id)
        session.flush()
        session.expire(row, ["files"])
    return refused


def files_named(row: ExchangeSession, name: str) -> list[ExchangeFile]:
    """The newest file called ``name`` (by base name), or the XML entries of that zip."""
    base = PurePosixPath(name.replace("\\", "/")).name.casefold()
    matches = [f for f in row.files
               if PurePosixPath(f.name).name.casefold() == base and f.status != "skipped"]
    if not matches:
        return []
    newest = max(matches, key=lambda f: f.id)
    children = [f for f in row.files if f.parent_id == newest.id and f.status != "skipped"]
    return children if newest.parent_id is None and children else [newest]


def pending(row: ExchangeSession) -> list[ExchangeFile]:
    """Uploaded XML files of the session not yet imported."""
    return [f for f in row.files if f.status == "receiving"]


def leftovers(session: Session, integration: str, now: datetime) -> list[ExchangeFile]:
    """Uploads of earlier sessions that were never imported: the classic 1C order uploads
    its documents after `success` and never calls `import`. Files of a session that may
    still be uploading (open and active in the last minutes) are left alone."""
    return list(session.execute(
        select(ExchangeFile).join(ExchangeSession, ExchangeSession.id == ExchangeFile.session_id)
        .where(ExchangeSession.integration == integration, ExchangeFile.status == "receiving",
               (ExchangeSession.state != "open") | (ExchangeSession.last_seen_at < now - IDLE))
        .order_by(ExchangeFile.id)).scalars())
