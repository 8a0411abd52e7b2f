"""Liveness and readiness."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from server.extensions import db

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    checks = {}
    try:
        db.session().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        checks["database"] = f"error: {exc.__class__.__name__}"
    url = current_app.config.get("REDIS_URL")
    if url:
        try:
            import redis
            redis.Redis.from_url(url, socket_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
    else:
        checks["redis"] = "not configured (jobs run inline)"
    ready = all(v == "ok" or v.startswith("not configured") for v in checks.values())
    response = jsonify(status="ready" if ready else "not ready", checks=checks)
    response.status_code = 200 if ready else 503
    return response
