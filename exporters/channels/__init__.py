"""The channels a message leaves by: e-mail over SMTP, SMS gateways, signed webhooks; one outcome type.

Each channel is configured from plain settings (``from_config``, fed by the
app's config from the environment) and sends one message per call; none of
them touches the database, so a worker can commit the claim before the send
and the outcome after it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """What one send came to: ``ok``; ``gone`` (HTTP 410: stop for good); ``retry`` False when
    trying again cannot help (a refused address, a malformed number)."""

    ok: bool
    status_code: int | None = None
    detail: str | None = None
    gone: bool = False
    retry: bool = True


class ChannelError(Exception):
    """A send that failed in a way worth retrying (network, 5xx, a gateway's temporary error)."""
