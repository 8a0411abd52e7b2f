"""Outbox tables: messages written with the change that causes them, their attempts, webhooks, templates.

A message is a row in the same transaction as the ledger change (or event)
behind it, so a rolled-back credit never announces itself and a committed
one is never forgotten. ``delivery_key`` is the message's identity on the
wire (the ``webhook-id``, the SMS gateway's idempotency field, the e-mail's
Message-ID): a retry after a crash between send and commit carries the same
key, so a channel that deduplicates shows the message once.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Amount, Base, BigId, JSONDoc, UTCDateTime, utcnow

MESSAGE_STATES = ("queued", "sent", "failed", "gave_up")
CHANNELS = ("sms", "email", "webhook")


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        # What a worker sweeps: due messages that still wait for a send.
        Index("ix_outbox_messages_due", "state", "next_attempt_at"),
        Index("ix_outbox_messages_member", "member_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trigger: Mapped[str] = mapped_column(String(40))  # points.credited, points.expiring, …
    channel: Mapped[str] = mapped_column(String(16))
    # One message per cause and recipient: a re-run of the cause finds it (unique).
    cause_key: Mapped[str] = mapped_column(String(200), unique=True)
    delivery_key: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    recipient: Mapped[str] = mapped_column(String(2000))
    language: Mapped[str] = mapped_column(String(8), default="en")
    # The documented variables of the trigger (notifications) or the event payload (webhooks).
    variables: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker's claim: until then nobody else sends it; after it, the send is presumed lost.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attempt_rows: Mapped[list[OutboxAttempt]] = relationship(
        back_populates="message", order_by="OutboxAttempt.number")


class OutboxAttempt(Base):
    """One try at sending a message; ``outcome`` stays empty while it is in flight (or was cut off)."""

    __tablename__ = "outbox_attempts"
    __table_args__ = (UniqueConstraint("message_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(12))  # sent, failed, gone, None = unknown
    status_code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)

    message: Mapped[OutboxMessage] = relationship(back_populates="attempt_rows")


class WebhookSubscription(Base):
    """An integrator's URL for some event types, signed with its ``whsec_`` secret(s)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list] = mapped_column(JSONDoc, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    # Secrets being rotated out: every delivery is signed with each of them too.
    previous_secrets: Mapped[list] = mapped_column(JSONDoc, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageTemplate(Base):
    """A version of the text for one trigger, channel and language; the newest version is used."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("trigger", "channel", "language", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trigger: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxRunCredit(Base):
    """Points an import run credited to a member, a chunk at a time; summed into one message per member
    when the run finishes (so a million-line import sends one SMS per member, not one per invoice)."""

    __tablename__ = "outbox_run_credits"
    __table_args__ = (Index("ix_outbox_run_credits_run_member", "run_id", "member_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    amount: Mapped[Decimal] = mapped_column(Amount)
