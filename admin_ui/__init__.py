"""The admin UI: server-rendered pages under /admin for marketers and operators.

Every view parses its input, calls one engine function, commits once and
renders; the pages hold no domain logic. Sessions (Flask-Login over the
``users`` table), CSRF on every write (Flask-WTF) and the English, Polish and
Russian texts (Flask-Babel) are bound here to the extensions created in
``server.extensions``.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Blueprint, Flask, redirect, request, url_for

HERE = Path(__file__).parent
LOCALES = ("en", "pl", "ru")

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static", static_url_path="/static")


def select_locale() -> str:
    from flask_login import current_user
    if current_user and getattr(current_user, "locale", "") in LOCALES:
        return current_user.locale
    return request.accept_languages.best_match(LOCALES) or "en"


def program_time_zone() -> str:
    """Dates are shown in the program's time zone, the one its days are counted in."""
    from engine import policies
    from server.extensions import db
    return policies.settings(db.session()).time_zone


def names() -> dict:
    """Translated names of the stored codes (roles, statuses), for the templates."""
    from flask_babel import gettext as _
    roles = {"admin": _("admin"), "marketer": _("marketer"), "viewer": _("viewer")}
    statuses = {"queued": _("queued"), "running": _("running"), "done": _("done"), "failed": _("failed"),
                "active": _("active"), "blocked": _("blocked"), "draft": _("draft"),
                "published": _("published"), "discarded": _("discarded"),
                "cancelled": _("cancelled")}
    from flask_babel import get_locale
    return {"get_locale": get_locale, "role_name": lambda code: roles.get(code, code),
            "status_name": lambda code: statuses.get(code, code)}


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from admin_ui import auth, formatting
    from server.extensions import babel, csrf, login_manager

    # Flask's own default is 31 days; an admin session lasts a working day without a request.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=float(app.config.get("ADMIN_SESSION_HOURS", 8)))
    app.config.setdefault("SESSION_REFRESH_EACH_REQUEST", True)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    # The JSON API authenticates by bearer key, not by cookie: CSRF is checked
    # on the admin blueprint's writes only (admin_ui.auth.protect).
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # A token lives as long as the session it belongs to, not one hour.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(HERE / "translations"))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.session_protection = "basic"
    login_manager.user_loader(auth.load_user)
    login_manager.login_message = lazy_gettext("Please log in to see this page.")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=program_time_zone)
    formatting.register(app)
    app.context_processor(names)

    # Each adds its views to bp.
    from admin_ui import (  # noqa: F401
        dashboard,
        imports,
        integrations,
        members,
        messages_admin,
        promo_admin,
        rewards_admin,
        rules_editor,
        tiers_admin,
    )
    app.register_blueprint(bp)  # the app's home page leads here (server.app)
