"""Extensions created without an app and bound in the factory: the OpenAPI layer, RQ, and the
admin UI's sessions (Flask-Login), CSRF (Flask-WTF) and translations (Flask-Babel)."""
from __future__ import annotations

from flask import Flask
from flask_babel import Babel
from flask_login import LoginManager
from flask_rq import RQ
from flask_smorest import Api
from flask_wtf import CSRFProtect

api = Api()
rq = RQ()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


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
