"""``evaluate_expiry``: when a lot of points expires and when to warn the member.

The life of a lot starts when it becomes available (``lot.available_at``,
after any holding period), SPEC §2. Rules run in priority order:

* the first matching rule with a lifetime action decides the lifetime:
  ``expire_after_months(m)`` and ``expire_after_days(d)`` (both add up when
  one rule has both) or ``never_expire()``; later rules cannot override it;
* ``expire_end_of_month()`` in any matching rule moves the expiry to the last
  second (23:59:59) of its month in the program time zone;
* ``warn_days_before(d)`` from the first matching rule that sets it, else
  ``DEFAULT_WARN_DAYS`` (30);
* without a lifetime from the rules, ``settings.default_lifetime_months``
  applies (None: never expires).

Months are calendar months in the program time zone (31 January + 1 month =
28/29 February, same wall-clock time); the result is UTC.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from .compiler import CompiledPolicy
from .errors import EvaluationError
from .facts import LotFacts, MemberFacts
from .limits import guarded, source
from .runner import base_trace, check_policy, finish, intents, matching
from .settings import ProgramSettings
from .values import aware_utc, to_jsonable
from .variables import Context

DEFAULT_WARN_DAYS = 30


@dataclass(frozen=True, slots=True)
class ExpiryResult:
    expires_at: datetime | None  # UTC; None = never
    warn_days_before: int
    warn_at: datetime | None  # expires_at - warn_days_before (None when never)
    lifetime: dict  # {"months", "days", "end_of_month", "never", "source"}
    rules: tuple[str, ...]
    policy_version: int | None
    trace: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({name: getattr(self, name) for name in self.__slots__})


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months, the day clamped to the target month's length."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def end_of_month(moment: datetime) -> datetime:
    last = calendar.monthrange(moment.year, moment.month)[1]
    return datetime.combine(moment.date().replace(day=last), time(23, 59, 59), tzinfo=moment.tzinfo)


def _local_to_utc(local: datetime, tz) -> datetime:
    # Re-attach the zone so a wall-clock time across a DST change gets the right offset.
    return local.replace(tzinfo=None).replace(tzinfo=tz).astimezone(UTC)


def _expiry(available: datetime, lifetime: dict, month_end: bool, tz) -> datetime:
    local = available.astimezone(tz)
    local = add_months(local, lifetime["months"]) + timedelta(days=lifetime["days"])
    if month_end:
        local = end_of_month(local)
    return _local_to_utc(local, tz)


@guarded
def evaluate_expiry(policy: CompiledPolicy, lot: LotFacts, member: MemberFacts,
                    settings: ProgramSettings, *, explain: bool = True) -> ExpiryResult:
    """The expiry of ``lot`` (module docstring: the rules). The trace is on by default:
    it is small and the ledger stores it with the lot."""
    check_policy(policy, "expiry")
    available = aware_utc(lot.available_at)
    ctx = Context(lot=lot, member=member, tz=settings.tz)
    values = policy.values(ctx)
    entries: list | None = [] if explain else None
    hits = matching(policy, "document", None, values, policy.active_flags(available, settings.tz), entries)
    lifetime: dict[str, Any] | None = None
    month_end = False
    warn = None
    for rule_id, name, p in intents(hits):
        if name in ("expire_after_months", "expire_after_days", "never_expire"):
            if lifetime is None:
                lifetime = {"months": 0, "days": 0, "never": False, "source": rule_id}
            if lifetime["source"] == rule_id:
                if name == "expire_after_months":
                    lifetime["months"] += p["months"]
                elif name == "expire_after_days":
                    lifetime["days"] += p["days"]
                else:
                    lifetime["never"] = True
        elif name == "expire_end_of_month":
            month_end = True
        elif name == "warn_days_before" and warn is None:
            warn = p["days"]
    if lifetime is None:
        months = settings.default_lifetime_months
        lifetime = {"months": months or 0, "days": 0, "never": months is None, "source": "settings"}
    lifetime["end_of_month"] = month_end
    warn = DEFAULT_WARN_DAYS if warn is None else warn
    try:
        expires_at = None if lifetime["never"] else _expiry(available, lifetime, month_end, settings.tz)
        warn_at = expires_at - timedelta(days=warn) if expires_at is not None else None
    except (OverflowError, ValueError) as exc:  # past the year 9999 (or before the year 1)
        raise EvaluationError(
            f"{source(policy).capitalize()}: the points available on {available.date().isoformat()} would expire "
            f"after {lifetime['months']} months and {lifetime['days']} days, past the last date the calendar "
            "holds (31 December 9999); the lot is refused.", policy=policy.policy, version=policy.version) from exc
    trace = None
    if explain:
        trace = base_trace(policy, available, values)
        trace.update(rules=entries, lifetime=lifetime, expires_at=expires_at, warn_days_before=warn)
    return ExpiryResult(expires_at, warn, warn_at, lifetime, tuple(r.rule.id for r in hits), policy.version,
                        finish(trace))
