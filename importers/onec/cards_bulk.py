"""New 1C cards a batch at a time: what `merges.upsert_card` does for a card nobody knows, in a few queries.

A card goes this way only when nothing about it can link, merge or be refused: its ``Ид`` is unknown
(no `MemberCard`) and comes once in the file, its phone (when it has one) belongs to no member, comes on
no other card of the file and is the one `members.create` would store, and its values fit their
columns. Such a card becomes a member with its own account and the card row, as `customers.upsert`
creates them; one or two statements per table for the whole batch. No card of the rest is touched by these
(other ids, other phones), so the rest then go the per-card way in file order, as before.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import members, policies
from engine.domain import CustomerDoc
from engine.members.phones import normalize_phone
from engine.models import Account, Member, MemberCard
from engine.models.bulk import batches, insert_rows, new_ids, one_of, run


def _fits(doc: CustomerDoc) -> bool:
    return (0 < len(doc.external_id) <= 64 and len(doc.name) <= 200 and len(doc.group) <= 64
            and len((doc.email or "").strip()) <= 254)


def split(session: Session, cards: list[CustomerDoc], *, now: datetime) -> tuple[list[CustomerDoc], list]:
    """(cards for `create`, the rest in file order)."""
    settings = policies.settings(session, now)
    regions = tuple(settings.phone_regions)
    ids = Counter(doc.external_id for doc in cards)
    phones = Counter(doc.phone for doc in cards if doc.phone)
    known, owned = set(), set()
    for part in batches(list(ids)):
        known.update(run(session, select(MemberCard.card_id).where(
            MemberCard.source == "1c", one_of(session, MemberCard.card_id, part))).scalars())
    for part in batches(list(phones)):
        owned.update(run(session, select(Member.phone).where(one_of(session, Member.phone, part))).scalars())
    new, rest = [], []
    for doc in cards:
        if (doc.source == "1c" and _fits(doc) and ids[doc.external_id] == 1 and doc.external_id not in known
                and (doc.phone is None or (phones[doc.phone] == 1 and doc.phone not in owned
                                           and normalize_phone(doc.phone, regions) == doc.phone))):
            new.append(doc)
        else:
            rest.append(doc)
    return new, rest


def create(session: Session, cards: list[CustomerDoc], *, now: datetime) -> None:
    """Members, accounts and card rows for ``cards`` (from `split`): the rows `members.create` and
    `customers.upsert` write, the model defaults spelled out, one COPY (PostgreSQL) per table."""
    if not cards:
        return
    session.flush()
    tz = policies.settings(session, now).tz
    accounts, members_ = Account.__table__, Member.__table__
    account_ids = new_ids(session, accounts, len(cards))
    insert_rows(session, accounts, [{"id": a, "owner_type": "member", "debt": Decimal(0), "created_at": now}
                                    for a in account_ids])
    people = []
    for doc, account_id, member_id in zip(cards, account_ids, new_ids(session, members_, len(cards)), strict=True):
        email = doc.email.strip().lower() if doc.email else doc.email
        registered = datetime.combine(doc.registered_at, time(0), tzinfo=tz) if doc.registered_at else now
        people.append({
            "id": member_id, "loyalty_id": "L" + members.new_code(9), "ext_id": None, "erp_code": None,
            "phone": doc.phone or None, "email": email, "name": doc.name, "birth_date": doc.birth_date,
            "member_group": doc.group, "tier": "", "status": "active", "registered_at": registered,
            "account_id": account_id, "company_id": None, "referral_code": members.new_code(8),
            "referred_by_id": None, "merged_into_id": None, "consent_email": False, "consent_sms": False,
            "attributes": {}, "created_at": now, "updated_at": now})
    insert_rows(session, members_, people)
    insert_rows(session, MemberCard.__table__, [
        {"source": "1c", "card_id": doc.external_id, "member_id": person["id"], "name": doc.name[:200],
         "phone_raw": doc.phone_raw[:64], "email": (doc.email or "")[:254], "created_at": now}
        for doc, person in zip(cards, people, strict=True)])
