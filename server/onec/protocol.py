"""The plain-text side of the 1C protocol: answers, settings and the session cookie.

1C reads our answers line by line: ``success`` / ``failure`` / ``progress``
first, then values or a reason. Every answer of the endpoint, errors
included, is such text (never an HTML page, never a bare 500).
"""
from __future__ import annotations

from flask import Flask, Response, current_app

from engine.onec import ConfigError, ExchangeConfig, load_settings

COOKIE = "loyalty_1c"  # 1C splits "name=value" itself; the name must not contain a dot
REALM = 'Basic realm="1C exchange", charset="UTF-8"'


def text(*lines: str, status: int = 200) -> Response:
    response = Response("\n".join(lines) + "\n", status=status,
                        content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def failure(reason: str, status: int = 200) -> Response:
    """``failure`` and one line of reason (1C shows it to its operator)."""
    return text("failure", " ".join(str(reason).split()) or "unknown error", status=status)


def load_config(app: Flask) -> ExchangeConfig:
    """Validate the ONEC settings once, when the app starts (a typo should not wait for 1C)."""
    try:
        config = load_settings(app.config.get("ONEC"))
    except ConfigError as exc:
        raise RuntimeError(f"ONEC_CONFIG is invalid: {exc}") from None
    app.extensions["onec_config"] = config
    return config


def config() -> ExchangeConfig:
    app = current_app._get_current_object()
    return app.extensions.get("onec_config") or load_config(app)
