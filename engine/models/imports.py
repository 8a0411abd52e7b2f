"""Import runs (one per received file, known by its content hash) and quarantined rows."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, JSONDoc, UTCDateTime, utcnow

RUN_STATUSES = ("queued", "running", "done", "failed")


class ImportRun(Base):
    """One file from one source: fetched, parsed, applied exactly once.

    ``(source, kind, sha256)`` is unique: the same bytes arriving again (by FTP,
    upload or 1C) find the existing run and change nothing.
    """

    __tablename__ = "import_runs"
    __table_args__ = (UniqueConstraint("source", "kind", "sha256"),
                      Index("ix_import_runs_created", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # sap_b1, 1c, or a configured source name
    kind: Mapped[str] = mapped_column(String(32))  # customers, invoices, credit_notes, catalog, …
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    stored_path: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    actor: Mapped[str] = mapped_column(String(120), default="")
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    applied: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[dict | None] = mapped_column(JSONDoc)  # e.g. {"done": 1200, "total": 5000}
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QuarantinedRow(Base):
    """A row (or document) that could not be applied: never dropped, never half-applied."""

    __tablename__ = "quarantined_rows"
    __table_args__ = (Index("ix_quarantined_rows_run", "import_run_id", "line_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"))
    line_no: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
