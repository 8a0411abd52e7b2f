"""Import staging: the lines of a received document file, and the chunks workers apply.

A big ERP file is parsed once into `StagedLine` rows, each already placed in
a *bucket* (the chunk that will apply it): all lines of one document, and all
documents of one account, share a bucket, so chunks never touch the same
account and can be applied by several workers at once, in any order, with
the same result as one sequential pass. A chunk (`ImportChunk`) is applied
whole in one transaction, so a killed worker leaves it pending, never half
done. Staged values are kept as the text the parser produced (decimals keep
their scale, dates their day) so both databases store them alike.

On PostgreSQL ``import_lines`` is partitioned by run, and each run's partition
by bucket (see importers/sap_b1/pipeline/stage.py); a run's staging is dropped in one
statement when the run is done.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, JSONDoc, UTCDateTime

CHUNK_STATUSES = ("pending", "done")


class ImportChunk(Base):
    """One bucket of a run's staged lines: claimed by one worker, applied in one transaction."""

    __tablename__ = "import_chunks"
    __table_args__ = (UniqueConstraint("import_run_id", "chunk_no"),
                      Index("ix_import_chunks_status", "import_run_id", "status"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"))
    chunk_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    lines: Mapped[int] = mapped_column(Integer, default=0)  # staged lines in the bucket
    documents: Mapped[int] = mapped_column(Integer, default=0)
    applied: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # cancelling documents (CANCELED=C)
    bulk_documents: Mapped[int] = mapped_column(Integer, default=0)  # took the set-based path
    worker: Mapped[str] = mapped_column(String(120), default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StagedLine(Base):
    """One record of an invoice or credit-note file, as read (``error`` set: a record that cannot be read).

    Only the raw text is kept: the chunk that applies the line maps it (the
    same row mapper the file reader uses), so the work is shared by all the
    workers instead of being done twice or by one.
    """

    __tablename__ = "import_lines"
    __table_args__ = {"postgresql_partition_by": "LIST (import_run_id)"}

    import_run_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    bucket: Mapped[int] = mapped_column(Integer)  # -1: rows of no document, quarantined after staging
    seq: Mapped[int] = mapped_column(Integer)  # the record's (first) line number in the file
    doc_key: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)  # why the record could not be read
    extra: Mapped[dict | None] = mapped_column(JSONDoc)

    # No primary key or index in the database: staging is written once by COPY and read by bucket
    # (a sub-partition of its own on PostgreSQL); the ORM still needs an identity.
    __mapper_args__ = {"primary_key": [import_run_id, bucket, seq]}
