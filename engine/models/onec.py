"""1C exchange state (sessions, uploaded files, deliveries) and recorded member merges.

Everything a 1C exchange session needs lives in the database, uploads
included, so any web node can serve the next request of a session and any
worker can import its files.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, BigId, JSONDoc, UTCDateTime, utcnow

SESSION_STATES = ("open", "done", "failed", "expired")
FILE_STATUSES = ("receiving", "queued", "running", "done", "duplicate", "failed", "skipped")


class ExchangeSession(Base):
    """One 1C exchange session: checkauth … success, identified by its cookie."""

    __tablename__ = "onec_sessions"
    __table_args__ = (Index("ix_onec_sessions_integration_started", "integration", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    integration: Mapped[str] = mapped_column(String(64))  # the API key's name (the 1C login)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    exchange_type: Mapped[str] = mapped_column(String(16))  # sale | catalog
    cookie_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the cookie
    sessid: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="open")
    last_mode: Mapped[str] = mapped_column(String(16), default="checkauth")
    zip: Mapped[bool] = mapped_column(Boolean, default=False)
    client_version: Mapped[str] = mapped_column(String(16), default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    errors: Mapped[list | None] = mapped_column(JSONDoc)  # protocol errors: [{at, mode, reason}]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    files: Mapped[list[ExchangeFile]] = relationship(
        back_populates="session", order_by="ExchangeFile.id")


class ExchangeFile(Base):
    """A file 1C uploaded (or an XML entry of an uploaded zip) and what importing it did."""

    __tablename__ = "onec_files"
    __table_args__ = (Index("ix_onec_files_session_name", "session_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("onec_sessions.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("onec_files.id"))  # the zip
    name: Mapped[str] = mapped_column(String(255))  # base name (zip entries: path inside)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="receiving")
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"))
    counts: Mapped[dict | None] = mapped_column(JSONDoc)
    messages: Mapped[list | None] = mapped_column(JSONDoc)  # [{level, what, reason}], capped
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    session: Mapped[ExchangeSession] = relationship(back_populates="files")


class ExchangeChunk(Base):
    """One uploaded chunk (1C sends big files in several POSTs); dropped after the import."""

    __tablename__ = "onec_file_chunks"
    __table_args__ = (UniqueConstraint("file_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("onec_files.id"))
    seq: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DeliveryCursor(Base):
    """What one 1C integration has confirmed: every ledger entry up to ``entry_watermark``
    and every member change before ``member_watermark``; later ones are in `Delivered`."""

    __tablename__ = "onec_cursors"

    integration: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry_watermark: Mapped[int] = mapped_column(BigInteger, default=0)
    member_watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryBatch(Base):
    """What one `mode=query` answer carried; confirmed by the session's `mode=success`."""

    __tablename__ = "onec_deliveries"
    __table_args__ = (Index("ix_onec_deliveries_integration", "integration", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    integration: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("onec_sessions.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | confirmed
    entry_ids: Mapped[list] = mapped_column(JSONDoc, default=list)  # sent as operations
    skipped_ids: Mapped[list] = mapped_column(JSONDoc, default=list)  # came from 1C: not echoed
    members: Mapped[dict] = mapped_column(JSONDoc, default=dict)  # member id → updated_at sent
    operations: Mapped[int] = mapped_column(Integer, default=0)
    profiles: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivered(Base):
    """A ledger entry or a member version confirmed by 1C, above the cursor's watermarks."""

    __tablename__ = "onec_delivered"
    __table_args__ = (UniqueConstraint("integration", "kind", "object_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    integration: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # entry | member
    object_id: Mapped[int] = mapped_column(BigInteger)
    version_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # member: updated_at sent
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("onec_deliveries.id"))


class DocumentCard(Base):
    """The 1C card a document was booked on, so undoing a merge can move its documents."""

    __tablename__ = "onec_document_cards"
    __table_args__ = (Index("ix_onec_document_cards_card", "card_id"),)

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberMerge(Base):
    """A recorded merge by phone, reversible by an admin (`engine.members.merges`).

    ``kind`` "card": a 1C card was linked to the member that owns its phone.
    ``kind`` "members": an existing member was merged into the phone's owner,
    its points moved by transfer entries. ``snapshot`` holds what undoing needs.
    """

    __tablename__ = "member_merges"
    __table_args__ = (Index("ix_member_merges_card", "card_source", "card_id"),
                      Index("ix_member_merges_target", "target_member_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # card | members
    target_member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    source_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    card_source: Mapped[str | None] = mapped_column(String(16))
    card_id: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(120), default="")
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"))
    snapshot: Mapped[dict | None] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String(120))
    undo_details: Mapped[dict | None] = mapped_column(JSONDoc)
