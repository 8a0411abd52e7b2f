"""Message rendering: Jinja in a sandbox with only the trigger's documented variables; the defaults.

A template is parsed when it is saved: a syntax error or a variable the
trigger does not document (``engine.outbox.TRIGGERS``) is refused with a
message a marketer can read, so a typo never reaches a member as an empty
gap. Rendering uses the newest saved version for the member's language, then
the English one, then the built-in default.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.orm import Session

from engine import outbox
from exporters.message_defaults import DEFAULTS, SAMPLES

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
LANGUAGES = ("en", "pl", "ru")
CHANNELS = ("sms", "email")
__all__ = ["CHANNELS", "DEFAULTS", "LANGUAGES", "TemplateError", "check", "render", "render_text", "preview", "samples",
           "save", "source"]


class TemplateError(ValueError):
    """A template that cannot be saved; the message says why in plain words, and the fields say it to a
    page that words it in the reader's language (``part``: subject or text; ``unknown``, ``allowed``:
    variable names; ``line``: where a syntax error is)."""

    def __init__(self, message: str, *, part: str = "", unknown=(), allowed=(), line: int | None = None):
        super().__init__(message)
        self.part, self.unknown, self.allowed, self.line = part, tuple(unknown), tuple(allowed), line


def check(trigger: str, channel: str, language: str, body: str, subject: str = "") -> None:
    """Refuse an unknown trigger/channel/language, a syntax error or an undocumented variable."""
    if trigger not in outbox.TRIGGERS:
        raise TemplateError(f"there is no trigger {trigger!r}; known: {', '.join(outbox.TRIGGERS)}")
    if channel not in CHANNELS:
        raise TemplateError(f"templates are for {' and '.join(CHANNELS)}, not {channel!r}")
    if not language or len(language) > 8 or not language.isalpha():
        raise TemplateError(f"{language!r} is not a language code such as en, pl or ru")
    if not body.strip():
        raise TemplateError("the template text is empty")
    allowed = outbox.TRIGGERS[trigger]
    for part, source in (("subject", subject), ("text", body)):
        try:
            names = meta.find_undeclared_variables(_env.parse(source))
        except TemplateSyntaxError as exc:
            raise TemplateError(f"the {part} has a mistake on line {exc.lineno}: {exc.message}",
                                part=part, line=exc.lineno) from None
        unknown = sorted(names - set(allowed))
        if unknown:
            raise TemplateError(
                f"the {part} uses {', '.join(unknown)}, which {trigger} does not provide; "
                f"you can use: {', '.join(allowed)}", part=part, unknown=unknown, allowed=allowed)


def save(session: Session, *, trigger: str, channel: str, language: str, body: str, subject: str = "",
         author: str = "", now: datetime):
    """Check and store a new version of a template (the caller commits)."""
    check(trigger, channel, language, body, subject)
    return outbox.save_template(session, trigger=trigger, channel=channel, language=language, body=body,
                                subject=subject, author=author, now=now)


def source(session: Session, trigger: str, channel: str, language: str) -> tuple[str, str]:
    """(subject, body) to render: saved for the language, saved in English, the default. Remembered for the
    session (a worker's batch of deliveries reads each template once); saving one forgets them."""
    cache = session.info.setdefault(outbox.templates.CACHE, {})
    key = (trigger, channel, language)
    if key not in cache:
        cache[key] = _source(session, trigger, channel, language)
    return cache[key]


def _source(session: Session, trigger: str, channel: str, language: str) -> tuple[str, str]:
    for lang in dict.fromkeys((language, "en")):
        row = outbox.latest_template(session, trigger, channel, lang)
        if row is not None:
            return row.subject, row.body
    for lang in dict.fromkeys((language, "en")):
        if (trigger, channel, lang) in DEFAULTS:
            return DEFAULTS[(trigger, channel, lang)]
    raise TemplateError(f"no template for {trigger} on {channel}")


@lru_cache(maxsize=512)
def _compiled(text: str):
    # Compiling is most of a render's cost; a worker's batch renders the same few texts thousands of times.
    return _env.from_string(text)


def render_text(text: str, variables: dict) -> str:
    return _compiled(text).render(**variables).strip()


def render(session: Session, trigger: str, channel: str, language: str, variables: dict) -> tuple[str, str]:
    """(subject, body) of a notification with its documented variables only."""
    subject, body = source(session, trigger, channel, language)
    allowed = {k: v for k, v in variables.items() if k in outbox.TRIGGERS.get(trigger, {})}
    return render_text(subject, allowed), render_text(body, allowed)


def samples(trigger: str) -> dict:
    """Sample values of the trigger's variables, for a preview or a test message."""
    return {name: SAMPLES.get(name, name) for name in outbox.TRIGGERS.get(trigger, {})}


def preview(trigger: str, channel: str, language: str, body: str, subject: str = "") -> tuple[str, str]:
    """A draft checked as `save` checks it, rendered with the sample values (TemplateError when refused)."""
    check(trigger, channel, language, body, subject)
    variables = samples(trigger)
    try:
        return render_text(subject, variables), render_text(body, variables)
    except Exception as exc:  # the sandbox refusing an attribute, a filter given the wrong type
        raise TemplateError(f"the template does not render: {exc}") from None
