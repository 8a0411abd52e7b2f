"""Promo codes [001]: batches generated from a pattern or imported, exported for the printer, redeemed once.

Patterns, their alphabets and check characters live in `promo_patterns`.

Redemption is the conditional ``UPDATE … WHERE redeemed_at IS NULL``: the row
lock serialises concurrent attempts and exactly one of them changes the row;
the award is a ledger credit of kind ``promo_code`` keyed by the code's id.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

import rules
from engine import ledger, members, policies, terms
from engine.engagement import promo_patterns
from engine.engagement.promo_patterns import (
    MAX_CODE,
    MAX_COUNT,
    Pattern,
    PatternError,
    check_ok,
    draw,
    normalise,
)
from engine.engagement.refusals import Refusal
from engine.models import Member, PromoBatch, PromoCode, bulk
from engine.models.bulk import copy_text, is_postgres
from rules.facts import EventFacts


class PromoError(Refusal):
    """A refusal with a stable ``code`` and the HTTP status the API answers with."""

    code, status = "promo_error", 422


class BatchError(PromoError):
    code = "promo_batch_invalid"


def _refuse(code: str, status: int, message: str, **details) -> PromoError:
    return PromoError(message, code=code, status=status, details=details or None)


def parse_pattern(pattern: str, count: int) -> Pattern:
    """The pattern, refused with a sentence when it is malformed or cannot hold ``count`` codes."""
    try:
        return promo_patterns.parse_pattern(pattern, count)
    except PatternError as exc:
        raise BatchError(str(exc), details=exc.details) from None


# --- batches ----------------------------------------------------------------------------------

def _new_batch(session: Session, name: str, *, pattern: str | None, points, valid_from, valid_until,
               actor: str, now: datetime) -> PromoBatch:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise BatchError("a batch needs a name of 1 to 100 characters")
    if session.execute(select(PromoBatch.id).where(PromoBatch.name == name)).first():
        raise BatchError(f"a batch called {name!r} exists already", code="promo_batch_exists", status=409)
    if points is not None and Decimal(points) <= 0:
        raise BatchError("a batch's points must be positive (leave them out to let the event policy decide)")
    if valid_from and valid_until and valid_until <= valid_from:
        raise BatchError("a batch must be valid until a time after it becomes valid")
    batch = PromoBatch(name=name, pattern=pattern, points=Decimal(points) if points is not None else None,
                       valid_from=valid_from, valid_until=valid_until, active=True, code_count=0,
                       created_by=actor, created_at=now)
    session.add(batch)
    session.flush()
    return batch


def generate(session: Session, name: str, pattern: str, count: int, *, points=None,
             valid_from: datetime | None = None, valid_until: datetime | None = None,
             actor: str, now: datetime) -> PromoBatch:
    """A new batch of ``count`` codes drawn from ``pattern`` (unique across every batch)."""
    parsed = parse_pattern(pattern, count)
    batch = _new_batch(session, name, pattern=parsed.text, points=points, valid_from=valid_from,
                       valid_until=valid_until, actor=actor, now=now)
    wanted, rounds, render = count, 0, parsed.renderer()
    while wanted:
        # Another batch with the same pattern may hold some drawn codes: later rounds draw more and
        # leave those out (in the end the whole space), so a crowded pattern still fills or says so.
        rounds += 1
        if rounds > 6:
            raise BatchError(f"other batches with the pattern {parsed.text} use most of its codes: "
                             f"{wanted:,} of {count:,} could not be drawn; choose a longer pattern")
        codes = list(map(render, draw(parsed.capacity, min(parsed.capacity, wanted * 4 ** (rounds - 1)))))
        if rounds > 1:
            taken = _existing(session, codes)
            codes = [code for code in codes if code not in taken]
        wanted -= _insert_codes(session, batch.id, codes[:wanted])
    batch.code_count = count
    session.flush()
    return batch


def import_codes(session: Session, name: str, codes: Iterable[str], *, points=None,
                 valid_from: datetime | None = None, valid_until: datetime | None = None,
                 actor: str, now: datetime) -> PromoBatch:
    """A new batch of codes printed elsewhere; refused whole if a code is malformed, repeated or known."""
    clean, seen = [], set()
    for number, raw in enumerate(codes, 1):
        code = normalise(raw)
        if not code:
            continue
        if len(code) > MAX_CODE or not code.isprintable():
            raise BatchError(f"code {number} is not a code of at most {MAX_CODE} printable characters")
        if code in seen:
            raise BatchError(f"the code {code} appears twice in the file")
        seen.add(code)
        clean.append(code)
    if not 1 <= len(clean) <= MAX_COUNT:
        raise BatchError(f"a batch holds 1 to {MAX_COUNT:,} codes, not {len(clean):,}")
    batch = _new_batch(session, name, pattern=None, points=points, valid_from=valid_from,
                       valid_until=valid_until, actor=actor, now=now)
    inserted = _insert_codes(session, batch.id, clean)
    if inserted != len(clean):
        raise BatchError(f"{len(clean) - inserted:,} of the codes belong to another batch already",
                         code="promo_codes_taken", status=409)
    batch.code_count = inserted
    session.flush()
    return batch


def read_csv(stream: io.TextIOBase) -> Iterator[str]:
    """Codes from a CSV: the ``code`` column when there is a header with one, else the first column."""
    reader = csv.reader(stream)
    first = next(reader, None)
    if first is None:
        return
    lowered = [c.strip().lower() for c in first]
    column = lowered.index("code") if "code" in lowered else 0
    if "code" not in lowered and first:
        yield first[0]
    for row in reader:
        if len(row) > column:
            yield row[column]


def _insert_codes(session: Session, batch_id: int, codes: Iterable[str]) -> int:
    """Insert codes skipping any the table holds already; returns how many went in."""
    if is_postgres(session):
        codes = list(codes)
        try:
            # Straight in: the unique index refuses the whole COPY if any code is taken (then see below).
            with session.begin_nested():
                return copy_text(session, "promo_codes", ("batch_id", "code"),
                                 (f"{batch_id}\t{code}\n" for code in codes))
        except psycopg.errors.UniqueViolation:
            pass
        # Some code exists already (another batch, same pattern): a scratch table and ON CONFLICT skip it.
        session.execute(text("CREATE TEMP TABLE IF NOT EXISTS promo_code_scratch (code text) ON COMMIT DROP"))
        session.execute(text("TRUNCATE promo_code_scratch"))
        copy_text(session, "promo_code_scratch", ("code",), (f"{code}\n" for code in codes))
        result = session.execute(text(
            "INSERT INTO promo_codes (batch_id, code) SELECT :batch, code FROM promo_code_scratch "
            "ON CONFLICT (code) DO NOTHING"), {"batch": batch_id})
        return result.rowcount
    before = _count(session, batch_id)
    rows = [{"batch_id": batch_id, "code": code} for code in codes]
    for start in range(0, len(rows), 10_000):
        session.execute(sqlite.insert(PromoCode).on_conflict_do_nothing(), rows[start:start + 10_000])
    return _count(session, batch_id) - before


def _existing(session: Session, codes: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in bulk.batches(codes):
        found.update(session.execute(select(PromoCode.code).where(bulk.one_of(session, PromoCode.code, chunk)))
                     .scalars())
    return found


def _count(session: Session, batch_id: int) -> int:
    return session.execute(select(func.count()).where(PromoCode.batch_id == batch_id)).scalar_one()


def batches(session: Session) -> list[tuple[PromoBatch, int]]:
    """Every batch, newest first, with how many of its codes were redeemed."""
    used = (select(PromoCode.batch_id, func.count().label("n")).where(PromoCode.redeemed_at.is_not(None))
            .group_by(PromoCode.batch_id).subquery())
    rows = session.execute(select(PromoBatch, func.coalesce(used.c.n, 0))
                           .outerjoin(used, used.c.batch_id == PromoBatch.id)
                           .order_by(PromoBatch.id.desc()))
    return [(batch, n) for batch, n in rows]


def get_batch(session: Session, ref: str | int) -> PromoBatch:
    """A batch by id or by name."""
    batch = None
    if isinstance(ref, int) or str(ref).isdigit():
        batch = session.get(PromoBatch, int(ref))
    if batch is None:
        batch = session.execute(select(PromoBatch).where(PromoBatch.name == str(ref))).scalar_one_or_none()
    if batch is None:
        raise PromoError(f"no promo-code batch {ref}", code="promo_batch_unknown", status=404)
    return batch


def deactivate(session: Session, batch: PromoBatch, *, now: datetime) -> PromoBatch:
    if batch.active:
        batch.active, batch.deactivated_at = False, now
        session.flush()
    return batch


def export_csv(session: Session, batch: PromoBatch) -> Iterator[str]:
    """The batch as CSV for the printer (code, batch, redeemed), streamed in code order."""
    yield "code,batch,redeemed\n"
    name = batch.name.replace('"', '""')
    rows = session.execute(select(PromoCode.code, PromoCode.redeemed_at.is_not(None))
                           .where(PromoCode.batch_id == batch.id).order_by(PromoCode.id)
                           .execution_options(yield_per=20_000))
    for code, used in rows:
        yield f'{code},"{name}",{"yes" if used else "no"}\n'


# --- redemption -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Redeemed:
    code: str
    batch: str
    points: Decimal
    redeemed_at: datetime
    entry_id: int | None
    replayed: bool = False


def _looks_mistyped(session: Session, code: str) -> bool:
    """True when the code has the shape of a generated batch but a wrong check character."""
    shaped = False
    for (pattern,) in session.execute(select(PromoBatch.pattern).where(PromoBatch.pattern.is_not(None))
                                      .distinct()):
        parsed = Pattern(pattern)
        if parsed.regex().fullmatch(code):
            if check_ok(parsed, code):
                return False
            shaped = True
    return shaped


def redeem(session: Session, code: str, member_ref: str, *, actor: str, now: datetime) -> Redeemed:
    """Redeem ``code`` for the member: once ever (the same member asking again gets the first answer)."""
    code = normalise(code)
    if not code or len(code) > MAX_CODE:
        raise _refuse("promo_unknown", 404, "this promo code does not exist")
    if _looks_mistyped(session, code):
        raise _refuse("promo_unknown", 404, "this promo code does not exist: it looks mistyped", typo=True)
    found = session.execute(select(PromoCode, PromoBatch).join(PromoBatch, PromoBatch.id == PromoCode.batch_id)
                            .where(PromoCode.code == code)).first()
    if found is None:
        raise _refuse("promo_unknown", 404, "this promo code does not exist")
    row, batch = found
    member = members.get(session, member_ref)
    if row.redeemed_at is not None:
        return _used(session, row, batch, member)
    if not batch.active:
        raise _refuse("promo_inactive", 422, "this promo code's batch has been withdrawn")
    if batch.valid_from and now < batch.valid_from:
        raise _refuse("promo_not_yet_valid", 422, "this promo code is not valid yet",
                      valid_from=batch.valid_from.isoformat())
    if batch.valid_until and now >= batch.valid_until:
        raise _refuse("promo_expired", 422, "this promo code has expired")
    settings = policies.settings(session, now)
    refused = members.refusal(member, settings)
    if refused:
        raise _refuse("member_refused", 422, refused)
    # The one guard that holds under concurrency: only one UPDATE finds the code unredeemed.
    taken = session.execute(update(PromoCode).where(PromoCode.id == row.id, PromoCode.redeemed_at.is_(None))
                            .values(redeemed_at=now, member_id=member.id)
                            .execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        session.expire(row)
        return _used(session, session.get(PromoCode, row.id), batch, member)
    entry = _award(session, member, batch, row, actor=actor, now=now, settings=settings)
    return Redeemed(code, batch.name, entry.amount if entry else Decimal(0), now, entry.id if entry else None)


def _used(session: Session, row: PromoCode, batch: PromoBatch, member: Member) -> Redeemed:
    if row.member_id != member.id:
        # Never who used it: the answer is the same for every other member.
        raise _refuse("promo_already_used", 409, "this promo code has been used already")
    entry = ledger.find_entry(session, _key(row))
    return Redeemed(row.code, batch.name, entry.amount if entry else Decimal(0), row.redeemed_at,
                    entry.id if entry else None, replayed=True)


def _key(row: PromoCode) -> str:
    return f"promo_code:{row.id}"


def _award(session: Session, member: Member, batch: PromoBatch, row: PromoCode, *, actor: str,
           now: datetime, settings):
    """The batch's points, or what the event policy gives an event of type ``promo_code``."""
    trace = {"promo_batch": batch.name}
    delay, lifetime = 0, None
    member_facts = members.facts(session, member, now, settings)
    if batch.points is not None:
        points = batch.points
    else:
        ref, compiled = policies.active(session, "event", now)
        if compiled is None:
            return None
        result = rules.evaluate_award(compiled, EventFacts("promo_code", {"batch": batch.name}), member_facts,
                                      settings, at=now, explain=True)
        points = result.points
        delay, lifetime = result.activation_delay_days or 0, result.expire_after_days
        trace.update({"policy": "event", "policy_version": ref.version, **(result.trace or {})})
    points = settings.round_points(Decimal(points))
    if points <= 0:
        return None
    available_at = now + timedelta(days=delay)
    expires_at = terms.lot_expiry(session, "promo_code", available_at, member_facts, settings,
                                  expire_after_days=lifetime)
    account = ledger.lock_account(session, member.account_id)
    return ledger.credit(session, account, kind="promo_code", key=_key(row), actor=actor, now=now,
                         lots=[ledger.LotSpec(points, available_at, expires_at)], member_id=member.id,
                         beneficiary_member_id=member.id, reason=f"promo code {row.code}", trace=trace)

