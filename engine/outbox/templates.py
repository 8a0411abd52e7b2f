"""Stored message templates: one version per save, the newest per trigger, channel and language wins.

Validation (a sandboxed Jinja parse that refuses undocumented variables)
happens in ``exporters.messages.save``, which calls `save_template`; the
defaults in English, Polish and Russian live there too.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import MessageTemplate

CACHE = "message_templates"  # session.info key: the texts a session has read (exporters.messages.source)


def latest_template(session: Session, trigger: str, channel: str, language: str) -> MessageTemplate | None:
    return session.execute(select(MessageTemplate).where(
        MessageTemplate.trigger == trigger, MessageTemplate.channel == channel,
        MessageTemplate.language == language).order_by(MessageTemplate.version.desc()).limit(1)
    ).scalar_one_or_none()


def save_template(session: Session, *, trigger: str, channel: str, language: str, body: str,
                  subject: str = "", author: str = "", now: datetime) -> MessageTemplate:
    """A new version of the template (earlier versions stay, for the record)."""
    current = session.execute(select(func.max(MessageTemplate.version)).where(
        MessageTemplate.trigger == trigger, MessageTemplate.channel == channel,
        MessageTemplate.language == language)).scalar_one()
    row = MessageTemplate(trigger=trigger, channel=channel, language=language, version=(current or 0) + 1,
                          subject=subject, body=body, author=author, created_at=now)
    session.add(row)
    session.flush()
    session.info.pop(CACHE, None)
    return row
