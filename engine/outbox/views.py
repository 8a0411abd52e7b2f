"""What the admin UI shows of the outbox: template versions, messages with their attempts, subscriptions."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from engine.models import MessageTemplate, OutboxMessage, WebhookSubscription
from engine.models.outbox import MESSAGE_STATES


def template_versions(session: Session) -> dict[tuple[str, str, str], int]:
    """(trigger, channel, language) → the newest stored version (absent: the built-in text is used)."""
    return {(t, c, lang): v for t, c, lang, v in session.execute(
        select(MessageTemplate.trigger, MessageTemplate.channel, MessageTemplate.language,
               func.max(MessageTemplate.version))
        .group_by(MessageTemplate.trigger, MessageTemplate.channel, MessageTemplate.language)).all()}


def versions(session: Session, trigger: str, channel: str, language: str, *, limit: int = 20) -> list[MessageTemplate]:
    return list(session.execute(select(MessageTemplate).where(
        MessageTemplate.trigger == trigger, MessageTemplate.channel == channel, MessageTemplate.language == language)
        .order_by(MessageTemplate.version.desc()).limit(limit)).scalars())


def messages(session: Session, *, state: str | None = None, channel: str | None = None,
             subscription_id: int | None = None, limit: int = 100) -> list[OutboxMessage]:
    """Newest first, with their attempts (one extra query for all of them)."""
    stmt = select(OutboxMessage).options(selectinload(OutboxMessage.attempt_rows)).order_by(OutboxMessage.id.desc())
    if state in MESSAGE_STATES:
        stmt = stmt.where(OutboxMessage.state == state)
    if channel:
        stmt = stmt.where(OutboxMessage.channel == channel)
    if subscription_id is not None:
        stmt = stmt.where(OutboxMessage.subscription_id == subscription_id)
    return list(session.execute(stmt.limit(limit)).scalars())


def state_counts(session: Session) -> dict[str, int]:
    counts = dict(session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
    return {state: counts.get(state, 0) for state in MESSAGE_STATES}


def subscriptions(session: Session, *, deliveries: int = 10) -> list[tuple[WebhookSubscription, list[OutboxMessage]]]:
    """Every subscription with its latest deliveries and their attempts."""
    rows = session.execute(select(WebhookSubscription).order_by(WebhookSubscription.id)).scalars()
    return [(s, messages(session, subscription_id=s.id, limit=deliveries)) for s in rows]
