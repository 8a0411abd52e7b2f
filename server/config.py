"""Configuration from the environment, with the embedded default (SQLite, inline jobs)."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


def _database_url(instance: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance / 'loyalty.db'}"
    # psycopg 3 is the driver we ship; accept the URLs operators usually write.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _outbox() -> dict:
    """Notification channels and webhooks (README: Notifications and webhooks)."""
    return {
        "SMTP": {"host": os.environ.get("SMTP_HOST", ""), "port": int(os.environ.get("SMTP_PORT", "587")),
                 "security": os.environ.get("SMTP_SECURITY", "starttls"),  # none | starttls | tls
                 "user": os.environ.get("SMTP_USER", ""), "password": os.environ.get("SMTP_PASSWORD", ""),
                 "sender": os.environ.get("SMTP_FROM", "loyalty@localhost")},
        "SMS": {"gateway": os.environ.get("SMS_GATEWAY", "log"),  # smsapi | smsru | turbosms | log
                "token": os.environ.get("SMS_TOKEN", ""), "sender": os.environ.get("SMS_SENDER", ""),
                "url": os.environ.get("SMS_API_URL", "")},
        # No SMS between these local times (program time zone); "" turns the quiet hours off.
        "SMS_QUIET_HOURS": os.environ.get("SMS_QUIET_HOURS", "21:00-08:00"),
        # Addresses or networks webhooks may reach although they are private or loopback.
        "WEBHOOK_ALLOW_PRIVATE": _list("WEBHOOK_ALLOW_PRIVATE"),
        "OUTBOX_CRON": os.environ.get("OUTBOX_CRON", "* * * * *"),
        # The monthly digest: 06:00 on the 1st (the cron's clock), about the month before.
        "DIGEST_CRON": os.environ.get("DIGEST_CRON", "0 6 1 * *"),
        # Messages a second per gateway, shared by all workers (0: no limit); deliveries wait for a slot.
        "SMS_RATE": float(os.environ.get("SMS_RATE", "10")),
        "SMTP_RATE": float(os.environ.get("SMTP_RATE", "10")),
        "WEBHOOK_RATE": float(os.environ.get("WEBHOOK_RATE", "0")),
        # Messages per delivery job: the RQ worker starts a work-horse process per job (an app start each).
        "DELIVERY_BATCH": int(os.environ.get("DELIVERY_BATCH", "1000")),
    }


def _pictures() -> dict:
    """Reward pictures fetched from the catalog's URLs (README: Rewards)."""
    settings: dict = {"PICTURE_ALLOW_HOSTS": _list("PICTURE_ALLOW_HOSTS"),  # hosts, addresses, networks
                      "PICTURE_MAX_BYTES": int(os.environ.get("PICTURE_MAX_BYTES", str(5 * 1024**2))),
                      "PICTURE_TIMEOUT": float(os.environ.get("PICTURE_TIMEOUT", "10")),
                      "PICTURE_RETRY_CRON": os.environ.get("PICTURE_RETRY_CRON", "45 4 * * *")}
    if os.environ.get("PICTURE_RETRY_DELAYS") is not None:  # else 2,10,30 s on a worker, none inline
        settings["PICTURE_RETRY_DELAYS"] = os.environ["PICTURE_RETRY_DELAYS"]
    return settings


def from_env(instance: Path) -> dict:
    secret = os.environ.get("SECRET_KEY")
    return {
        "SECRET_KEY": secret or secrets.token_hex(32),
        "SECRET_KEY_IS_EPHEMERAL": not secret,
        "DATABASE_URL": _database_url(instance),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        # Jobs run in the calling process when there is no Redis (embedded default).
        "JOBS_INLINE": not os.environ.get("REDIS_URL"),
        "RQ_QUEUES": ["default", "imports", "exchange", "outbox"],
        "IMPORT_SOURCES": json.loads(os.environ.get("IMPORT_SOURCES", "[]")),
        "IMPORT_POLL_CRON": os.environ.get("IMPORT_POLL_CRON", "15 2 * * *"),
        "IMPORT_CHUNK_LINES": int(os.environ.get("IMPORT_CHUNK_LINES", "50000")),
        "IMPORT_WORKERS": int(os.environ.get("IMPORT_WORKERS", "2")),
        "IMPORT_BULK": os.environ.get("IMPORT_BULK", "on").lower() not in ("0", "off", "false", "no"),
        "DAILY_JOBS_CRON": os.environ.get("DAILY_JOBS_CRON", "30 3 * * *"),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER", str(instance / "uploads")),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_BYTES", str(2 * 1024**3))),
        # An order of 5,000 lines is about 1.5 MB of JSON.
        "MAX_JSON_BYTES": int(os.environ.get("MAX_JSON_BYTES", str(16 * 1024**2))),
        "ONEC": json.loads(os.environ.get("ONEC_CONFIG", "{}")),
        "API_TITLE": "Loyalty server",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        # Served by the app itself (server/static/swagger-ui, swagger-ui-dist 5): the docs
        # must work on a site without internet, and nothing may call out (no validator badge).
        "OPENAPI_SWAGGER_UI_URL": "/static/swagger-ui/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
        "JSON_SORT_KEYS": False,
        **_outbox(),
        **_pictures(),
    }
