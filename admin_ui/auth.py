"""Who is signed in: password check with lockout, roles, login/logout and the language choice."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from admin_ui import LOCALES, bp
from admin_ui.forms import LocaleForm, LoginForm
from engine import clock
from engine.models import User
from server.extensions import db

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
ROLES = ("admin", "marketer", "viewer")
WRITERS = ("admin", "marketer")
# Checked against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


class AdminUser(UserMixin):
    """The signed-in user as Flask-Login sees it (the engine model stays Flask-free)."""

    def __init__(self, row: User):
        self.id, self.email, self.role, self.locale = row.id, row.email, row.role, row.locale or ""

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class LoginRefused(Exception):
    pass


class LockedOut(LoginRefused):
    def __init__(self, until: datetime):
        super().__init__(until)
        self.until = until


def authenticate(session: Session, email: str, password: str, now: datetime) -> User:
    """The user with these credentials; counts failures and locks the login at the limit."""
    user = session.execute(select(User).where(User.email == email.strip().lower())
                           .with_for_update()).scalar_one_or_none()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        raise LoginRefused()
    if user.locked_until is not None and user.locked_until > now:
        raise LockedOut(user.locked_until)
    if not check_password_hash(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILURES:
            user.failed_logins, user.locked_until = 0, now + LOCKOUT
        session.flush()
        raise LoginRefused()
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    session.flush()
    return user


def load_user(user_id: str) -> AdminUser | None:
    row = db.session().get(User, int(user_id)) if user_id.isdigit() else None
    return AdminUser(row) if row is not None else None


def role_required(*roles: str):
    """Only these roles may use the view (others get 403)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


@bp.before_request
def protect():
    """CSRF on every write of the admin UI, form or htmx request alike."""
    from flask import current_app

    from server.extensions import csrf
    if request.method not in ("GET", "HEAD", "OPTIONS") and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


@bp.route("/login", methods=["GET", "POST"])
def login():
    form, status = LoginForm(), 200
    if form.validate_on_submit():
        database = db.session()
        now = clock.now()
        try:
            user = authenticate(database, form.email.data, form.password.data, now)
        except LockedOut:
            database.commit()
            status = 401
            flash(_("Too many wrong passwords: this login is locked for %(minutes)d minutes.",
                    minutes=LOCKOUT.seconds // 60), "error")
        except LoginRefused:
            database.commit()  # the failure counts even though the login is refused
            status = 401
            flash(_("Wrong e-mail or password."), "error")
        else:
            database.commit()
            session.clear()
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME without a request
            login_user(AdminUser(user))
            return redirect(same_site(request.args.get("next")) or url_for("admin.dashboard"))
    return render_template("admin/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("admin.login"))


@bp.post("/locale")
@login_required
def set_locale():
    form = LocaleForm()
    if form.validate_on_submit() and form.locale.data in ("",) + LOCALES:
        database = db.session()
        database.get(User, current_user.id).locale = form.locale.data
        database.commit()
    return redirect(same_site(request.referrer) or url_for("admin.dashboard"))


def same_site(url: str | None) -> str | None:
    """The path of ``url`` when it points into the admin UI of this host, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc not in ("", request.host) or not parts.path.startswith("/admin"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
