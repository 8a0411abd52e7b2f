"""The policy store: versioned rule documents and program settings.

A PUT stores a new *draft* version (validated first: an invalid document is
never stored). Publishing makes a version active from ``effective_from``
(default: now). The active version at time *t* is the published one with the
latest ``effective_from ≤ t``. Versions are immutable once stored, so the
compiled form is cached per process by version id: a publish needs no cache
invalidation message, the next lookup simply finds a newer id.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

import rules
from engine import clock, config_stamp
from engine.models import PolicyVersion

SETTINGS = "settings"
POLICY_NAMES = ("accrual", "redemption", "event", "referral", "birthday", "mission",
                "expiry", "tier", SETTINGS)

_compiled: dict[int, Any] = {}
_compiled_lock = Lock()


class UnknownPolicy(LookupError):
    code = "unknown_policy"


class NothingToPublish(LookupError):
    code = "nothing_to_publish"


def check_name(policy: str) -> str:
    if policy not in POLICY_NAMES:
        raise UnknownPolicy(
            f"there is no policy called {policy!r}; the policies are: {', '.join(POLICY_NAMES)}")
    return policy


def validate(policy: str, document: dict) -> dict:
    """Validate a document for ``policy`` and return its normalised JSON form."""
    check_name(policy)
    if isinstance(document, dict) and "policy" not in document and (
            policy != SETTINGS or "settings" in document):
        document = {"policy": policy, **document}
    if policy == SETTINGS:
        return rules.validate_settings(document).to_json()
    if isinstance(document, dict) and document.get("policy") not in (None, policy):
        raise rules.RuleValidationError([rules.ValidationMessage(
            rule_id=None, path="policy", code="policy_mismatch",
            message=f"This document is for the {document.get('policy')!r} policy "
                    f"but was sent to {policy!r}.")])
    return rules.validate_policy(document).to_json()


def _next_version(session: Session, policy: str) -> int:
    current = session.execute(select(func.max(PolicyVersion.version))
                              .where(PolicyVersion.policy == policy)).scalar_one()
    return (current or 0) + 1


def save_draft(session: Session, policy: str, document: dict, *, author: str,
               comment: str = "") -> PolicyVersion:
    normalised = validate(policy, document)
    version = PolicyVersion(policy=policy, version=_next_version(session, policy),
                            status="draft", document=normalised, author=author,
                            comment=comment, created_at=clock.now())
    session.add(version)
    session.flush()
    return version


def publish(session: Session, policy: str, *, by: str, version: int | None = None,
            effective_from: datetime | None = None, comment: str = "") -> PolicyVersion:
    check_name(policy)
    stmt = select(PolicyVersion).where(PolicyVersion.policy == policy)
    if version is None:
        stmt = stmt.where(PolicyVersion.status == "draft").order_by(PolicyVersion.version.desc())
    else:
        stmt = stmt.where(PolicyVersion.version == version)
    row = session.execute(stmt.limit(1)).scalar_one_or_none()
    if row is None or row.status == "discarded":
        raise NothingToPublish(
            f"{policy}: there is no draft to publish" if version is None
            else f"{policy}: there is no version {version}")
    validate(policy, row.document)  # the vocabulary may have changed since it was saved
    now = clock.now()
    session.info.pop(_PUBLISHED, None)
    row.status = "published"
    row.published_at = now
    row.published_by = by
    row.effective_from = effective_from or now
    if comment:
        row.comment = comment
    session.flush()
    return row


@dataclass(frozen=True)
class VersionRef:
    """What identifies a published version, without its (possibly large) document."""

    id: int
    policy: str
    version: int
    effective_from: datetime
    created_at: datetime


_PUBLISHED = "loyalty.published_versions"


def _published(session: Session) -> tuple[VersionRef, ...]:
    """Every published version (a handful of small rows), looked up once per transaction: a request
    asks for settings and several policies. Read from the database only when the configuration's
    stamp changed (`engine.config_stamp`)."""
    refs = session.info.get(_PUBLISHED)
    if refs is None:
        refs = session.info[_PUBLISHED] = _PUBLISHED_REFS.get(session)
    return refs


_VERSIONS = PolicyVersion.__table__
# Built once on the table (every request runs it): no ORM statement to construct per call.
_PUBLISHED_REFS = config_stamp.Cached(
    [_VERSIONS.c.id, _VERSIONS.c.policy, _VERSIONS.c.version, _VERSIONS.c.effective_from, _VERSIONS.c.created_at],
    _VERSIONS.c.status == "published", lambda rows: tuple(VersionRef(*row) for row in rows))


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_published(session: Session, *_args) -> None:
    session.info.pop(_PUBLISHED, None)


def active_ref(session: Session, policy: str, at: datetime | None = None) -> VersionRef | None:
    at = at or clock.now()
    best = None
    for ref in _published(session):
        if ref.policy == policy and ref.effective_from <= at and (
                best is None or (ref.effective_from, ref.version) > (best.effective_from, best.version)):
            best = ref
    return best


def first_ref(session: Session, policy: str) -> VersionRef | None:
    """The earliest published version (for documents older than the program)."""
    refs = [r for r in _published(session) if r.policy == policy]
    return min(refs, key=lambda r: (r.effective_from, r.version)) if refs else None


def active_version(session: Session, policy: str, at: datetime | None = None) -> PolicyVersion | None:
    """The full published row in force at ``at`` (with its document)."""
    ref = active_ref(session, policy, at)
    return session.get(PolicyVersion, ref.id) if ref is not None else None


def _cache_key(row) -> tuple:
    # Stored versions never change; creation time guards against ids reused by
    # a restored or recreated database behind a long-running process.
    return (row.id, row.policy, row.version, row.created_at.isoformat())


def clear_cache() -> None:
    with _compiled_lock:
        _compiled.clear()
    _PUBLISHED_REFS.clear()


def compiled(row, session: Session | None = None):
    """The compiled form of a stored version (cached: versions never change).
    ``row`` is a PolicyVersion, or a VersionRef together with the session."""
    key = _cache_key(row)
    cached = _compiled.get(key)
    if cached is None:
        document = row.document if isinstance(row, PolicyVersion) else \
            session.get(PolicyVersion, row.id).document
        if row.policy == SETTINGS:
            cached = rules.validate_settings(document)
        else:
            cached = rules.compile_policy(rules.validate_policy(document), version=row.version)
        with _compiled_lock:
            _compiled[key] = cached
    return cached


def active(session: Session, policy: str, at: datetime | None = None):
    """(version ref, compiled policy) in force at ``at``, or (None, None)."""
    ref = active_ref(session, policy, at)
    return (ref, compiled(ref, session)) if ref is not None else (None, None)


def by_id(session: Session, version_id: int):
    row = session.get(PolicyVersion, version_id)
    return (row, compiled(row)) if row is not None else (None, None)


def settings(session: Session, at: datetime | None = None) -> rules.ProgramSettings:
    ref = active_ref(session, SETTINGS, at)
    return compiled(ref, session) if ref is not None else rules.DEFAULT_SETTINGS


def versions(session: Session, policy: str) -> list[PolicyVersion]:
    check_name(policy)
    return list(session.execute(select(PolicyVersion).where(PolicyVersion.policy == policy)
                                .order_by(PolicyVersion.version.desc())).scalars())


def latest(session: Session, policy: str) -> PolicyVersion | None:
    """The newest version of any status (what an editor opens)."""
    check_name(policy)
    return session.execute(select(PolicyVersion).where(PolicyVersion.policy == policy)
                           .order_by(PolicyVersion.version.desc()).limit(1)).scalar_one_or_none()


def load_defaults(session: Session, *, by: str = "system", publish_now: bool = True) -> list[str]:
    """Store and publish the default policies shipped in rules/ where none exists yet."""
    loaded = []
    for name, document in sorted(rules.default_policies().items()):
        if name not in POLICY_NAMES or latest(session, name) is not None:
            continue
        save_draft(session, name, document, author=by, comment="default policy")
        if publish_now:
            publish(session, name, by=by)
        loaded.append(name)
    return loaded
