"""Customer cards from an ERP or 1C, upserted into members.

SAP B1 cards are keyed by CardCode (the member's ``erp_code``). 1C cards are
keyed by their ``Ид`` in `MemberCard`; a 1C card whose phone (E.164) belongs
to a member already is linked to that member, which is how duplicate 1C
cards become one member [004]. A phone that already belongs to another
member is never moved silently: the card keeps its own member without it.
"""
from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import members
from engine.domain import CustomerDoc
from engine.models import Member, MemberCard


class CustomerError(Exception):
    code = "customer_error"


def _registered_at(doc: CustomerDoc, tz) -> datetime | None:
    if doc.registered_at is None:
        return None
    return datetime.combine(doc.registered_at, time(0), tzinfo=tz)


def _phone_owner(session: Session, phone: str | None) -> Member | None:
    if not phone:
        return None
    return session.execute(select(Member).where(Member.phone == phone)).scalar_one_or_none()


def _update(member: Member, doc: CustomerDoc, session: Session,
            fresh: frozenset[str] = frozenset({"name", "email"})) -> bool:
    """Apply a card to its member; ``fresh``: the name/e-mail fields this card brings anew."""
    changed = False
    wanted = {"group": doc.group or member.group, "birth_date": doc.birth_date or member.birth_date}
    if "name" in fresh:
        wanted["name"] = doc.name or member.name
    if "email" in fresh:
        wanted["email"] = doc.email or member.email
    owner = _phone_owner(session, doc.phone)
    if doc.phone and (owner is None or owner.id == member.id):
        wanted["phone"] = doc.phone
    for key, value in wanted.items():
        if getattr(member, key) != value:
            setattr(member, key, value)
            changed = True
    return changed


def _card(session: Session, doc: CustomerDoc) -> MemberCard | None:
    if doc.source != "1c":
        return None
    return session.execute(select(MemberCard).where(
        MemberCard.source == "1c", MemberCard.card_id == doc.external_id)).scalar_one_or_none()


def _fresh(card: MemberCard | None, doc: CustomerDoc) -> frozenset[str]:
    """The name/e-mail fields 1C changed on this card since it last sent it. Only those change
    the member: merged cards re-sent with their own old values must not take turns at it."""
    if card is None:
        return frozenset({"name", "email"})
    fresh = set()
    if card.name != doc.name[:200]:
        fresh.add("name")
    if card.email is None or card.email != (doc.email or "")[:254]:
        fresh.add("email")
    return frozenset(fresh)


def _remember(card: MemberCard | None, doc: CustomerDoc) -> bool:
    """Keep what 1C sent for this card (the outbound query answers each card with its own)."""
    if card is None:
        return False
    sent = {"name": doc.name[:200], "phone_raw": doc.phone_raw[:64], "email": (doc.email or "")[:254]}
    changed = False
    for key, value in sent.items():
        if getattr(card, key) != value:
            setattr(card, key, value)
            changed = True
    return changed


def find_by_card(session: Session, source: str, card_id: str) -> Member | None:
    return members.resolve(session, f"onec:{card_id}") if source == "1c" else \
        members.resolve(session, f"erp:{card_id}")


def upsert(session: Session, doc: CustomerDoc, *, now: datetime,
           link_by_phone: bool | None = None) -> str:
    """'applied' (created or changed) or 'duplicate' (nothing new)."""
    from engine import policies
    if not doc.external_id:
        raise CustomerError("a customer card needs its key")
    settings = policies.settings(session, now)
    link = (doc.source == "1c") if link_by_phone is None else link_by_phone
    member = find_by_card(session, doc.source, doc.external_id)
    if member is not None:
        card = _card(session, doc)
        changed = _update(member, doc, session, _fresh(card, doc))
        changed = _remember(card, doc) or changed
        session.flush()
        return "applied" if changed else "duplicate"
    owner = _phone_owner(session, doc.phone) if link else None
    if owner is None:
        data = {"name": doc.name, "email": doc.email, "group": doc.group,
                "birth_date": doc.birth_date,
                "registered_at": _registered_at(doc, settings.tz) or now}
        if _phone_owner(session, doc.phone) is None and doc.phone:
            data["phone"] = doc.phone
        if doc.source != "1c":
            data["erp_code"] = doc.external_id
        owner = members.create(session, {k: v for k, v in data.items() if v is not None}, now=now)
    else:
        _update(owner, doc, session)
    if doc.source == "1c":
        session.add(MemberCard(source="1c", card_id=doc.external_id, member_id=owner.id,
                               name=doc.name[:200], phone_raw=doc.phone_raw[:64],
                               email=(doc.email or "")[:254], created_at=now))
    session.flush()
    return "applied"
