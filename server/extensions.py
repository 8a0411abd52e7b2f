"""Extensions created without an app and bound in the factory: the OpenAPI layer and RQ."""
from __future__ import annotations

from flask import Flask
from flask_rq import RQ
from flask_smorest import Api

api = Api()
rq = RQ()


def init_app(app: Flask) -> None:
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "An integration key created with `loyalty keys create`"}}},
        "security": [{"bearer": []}]})
    # flask-rq reads RQ_CONNECTION; without Redis the queues exist but jobs run inline.
    app.config.setdefault("RQ_CONNECTION", app.config.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    # Whether jobs run inline is our decision (JOBS_INLINE), not flask-rq's testing default.
    app.config.setdefault("RQ_ASYNC", True)
    rq.init_app(app)
