"""The admin UI's forms: each carries its CSRF token, labels and messages are translatable."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class LocaleForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=[
        ("", _l("As the browser says")), ("en", "English"), ("pl", "Polski"), ("ru", "Русский")])


class AdjustmentForm(FlaskForm):
    points = DecimalField(_l("Points (negative to remove)"), validators=[InputRequired()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
    expire_after_days = IntegerField(_l("Expires after (days)"),
                                     validators=[Optional(), NumberRange(min=1, max=36500)])
    allow_negative = BooleanField(_l("Allow a negative balance"))
    # One key per rendered form: a double submit posts the same key and changes nothing twice.
    token = HiddenField(validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (undo a merge, revoke a key)."""


class StatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired()])


class UploadForm(FlaskForm):
    kind = SelectField(_l("Kind of file"))
    file = FileField(_l("File"), validators=[FileRequired()])


class PolicyForm(FlaskForm):
    document = TextAreaField(_l("Rule document (JSON)"), validators=[DataRequired()])
    comment = StringField(_l("Comment"), validators=[Length(max=500)])


class PublishForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
    effective_from = DateTimeLocalField(_l("Effective from (empty: now)"), format="%Y-%m-%dT%H:%M",
                                        validators=[Optional()])
    comment = StringField(_l("Comment"), validators=[Length(max=500)])


class ApiKeyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    kind = SelectField(_l("Kind of integration"))
    scopes = SelectMultipleField(_l("Scopes (none chosen: the kind's usual scopes)"), validators=[Optional()])
