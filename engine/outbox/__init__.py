"""Notifications and webhooks from one outbox: rows written with their cause, delivered after commit.

The design in four lines: a trigger (`triggers`) writes an `OutboxMessage`
in the caller's transaction and notes its id on the session; after COMMIT
the delivery layer (``server.jobs``) queues or runs its delivery; `queue`
claims a message for one attempt (committed before the send), and records
the outcome after it, with growing delays between attempts; `batch` does
the same for many messages in a fixed number of statements. A worker that
dies between the send and the record leaves a claim that runs out; the next
attempt carries the same ``delivery_key``, so a channel that deduplicates
(webhooks by ``webhook-id``, SMSAPI by ``idx``) shows the message once, and
no message is lost. Rendering and the channels themselves live in
``exporters`` (bytes out); nothing here imports Flask.
"""
from engine.outbox import runs
from engine.outbox.batch import claim_batch, record_batch, renew
from engine.outbox.digest import DigestError, send_digest
from engine.outbox.queue import (
    BACKOFF,
    LEASE,
    Claim,
    claim,
    due_ids,
    enqueue,
    enqueue_many,
    pending_ids,
    record,
)
from engine.outbox.templates import latest_template, save_template
from engine.outbox.triggers import (
    EVENT_TYPES,
    TRIGGER_CHANNELS,
    TRIGGERS,
    announce_run,
    mission_completed,
    notify,
    points_credited,
    publish_event,
    warn_expiring,
)
from engine.outbox.webhooks import SubscriptionError, create_subscription, rotate_secret

__all__ = [
    "BACKOFF", "EVENT_TYPES", "LEASE", "TRIGGERS", "TRIGGER_CHANNELS", "Claim", "DigestError", "SubscriptionError",
    "announce_run", "claim", "claim_batch", "create_subscription", "due_ids", "enqueue", "enqueue_many",
    "latest_template", "mission_completed", "notify", "pending_ids", "points_credited", "publish_event", "record",
    "record_batch", "renew", "rotate_secret", "runs", "save_template", "send_digest", "warn_expiring",
]
