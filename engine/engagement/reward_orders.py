"""Reward orders [000][003]: buying rewards with points, their statuses, and the CSV for whoever ships.

Placing an order takes the stock and spends the points in one transaction.
Stock is taken by ``UPDATE rewards SET stock = stock - n WHERE id = … AND
stock >= n`` (the row lock serialises concurrent orders, and of the last
three items exactly three orders find them), in reward id order so orders
of several items never deadlock. The points are a redemption (source
``reward``, keyed by the reward order id) through `engine.documents.redemptions`,
so they carry its guarantees: the account row lock, no overdraft, idempotent
on the id. Statuses: placed → confirmed → shipped → delivered, or cancelled
from placed or confirmed, which refunds the points into the lots they came
from (once: the refund is keyed) and puts the stock back. Every status is a
history row and a ``reward_order.status_changed`` webhook event written in
the same transaction.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import members, outbox, policies
from engine.documents import redemptions
from engine.engagement.rewards import RewardError
from engine.engagement.rewards import get as get_reward
from engine.models import Member, Redemption, Reward, RewardOrder, RewardOrderItem, RewardOrderStatus

SOURCE = "reward"  # the redemptions' source for reward orders
STATUSES = ("placed", "confirmed", "shipped", "delivered", "cancelled")
NEXT = {"placed": ("confirmed", "cancelled"), "confirmed": ("shipped", "cancelled"), "shipped": ("delivered",),
        "delivered": (), "cancelled": ()}
ADDRESS_FIELDS = ("name", "line1", "line2", "postal_code", "city", "country", "phone")
ADDRESS_REQUIRED = ("name", "line1", "postal_code", "city", "country")
MAX_ITEMS, MAX_QUANTITY = 50, 1000


@dataclass(frozen=True)
class Item:
    reward: int | str  # the reward's id, or its SKU
    quantity: int


@dataclass(frozen=True)
class OrderRequest:
    external_id: str
    member_ref: str
    items: tuple[Item, ...]
    address: dict
    recipient_ref: str | None = None  # an employee of the company whose account pays [003]


def _refuse(message: str, code: str = "reward_order_invalid", status: int = 422, **details) -> RewardError:
    return RewardError(message, code=code, status=status, details=details or None)


def clean_address(address: dict) -> dict:
    """The delivery address with its known fields as trimmed text; refused when one it needs is empty."""
    if not isinstance(address, dict):
        raise _refuse("the delivery address must be an object")
    clean = {key: str(address.get(key) or "").strip()[:200] for key in ADDRESS_FIELDS}
    missing = [key for key in ADDRESS_REQUIRED if not clean[key]]
    if missing:
        raise _refuse(f"the delivery address needs {', '.join(missing)}", missing=missing)
    return clean


def find(session: Session, external_id: str, *, lock: bool = False) -> RewardOrder | None:
    stmt = select(RewardOrder).where(RewardOrder.external_id == external_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get(session: Session, external_id: str, *, lock: bool = False) -> RewardOrder:
    order = find(session, external_id, lock=lock)
    if order is None:
        raise _refuse(f"there is no reward order {external_id!r}", "reward_order_unknown", 404)
    return order


def _lines(session: Session, items: tuple[Item, ...]) -> list[tuple[Reward, int]]:
    if not 1 <= len(items) <= MAX_ITEMS:
        raise _refuse(f"a reward order has 1 to {MAX_ITEMS} items")
    lines: dict[int, tuple[Reward, int]] = {}
    for item in items:
        if not 1 <= item.quantity <= MAX_QUANTITY:
            raise _refuse(f"the quantity of {item.reward} must be from 1 to {MAX_QUANTITY}")
        reward = get_reward(session, item.reward)
        if not reward.active:
            raise _refuse(f"the reward {reward.sku} is not offered any more", "reward_inactive")
        if reward.id in lines:
            raise _refuse(f"the reward {reward.sku} is listed twice; order it once with its quantity")
        lines[reward.id] = (reward, item.quantity)
    return [lines[key] for key in sorted(lines)]  # reward id order: no deadlock between orders


def _take_stock(session: Session, reward: Reward, quantity: int) -> None:
    if reward.stock is None:
        return
    taken = session.execute(update(Reward).where(Reward.id == reward.id, Reward.stock >= quantity)
                            .values(stock=Reward.stock - quantity).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        raise _refuse(f"the reward {reward.sku} is out of stock", "reward_out_of_stock", 409, sku=reward.sku)
    session.expire(reward, ["stock"])


def _give_stock_back(session: Session, order: RewardOrder) -> None:
    for item in order.items:
        session.execute(update(Reward).where(Reward.id == item.reward_id, Reward.stock.is_not(None))
                        .values(stock=Reward.stock + item.quantity).execution_options(synchronize_session=False))


def place(session: Session, request: OrderRequest, *, actor: str, now: datetime) -> tuple[RewardOrder, bool]:
    """Place a reward order; returns (order, created). The same id again returns the first order."""
    external_id = (request.external_id or "").strip()
    if not external_id or len(external_id) > 100:
        raise _refuse("a reward order needs an id of 1 to 100 characters")
    existing = find(session, external_id)
    if existing is not None:
        return _replay(session, existing, request), False
    member = members.get(session, request.member_ref)
    recipient = members.get(session, request.recipient_ref) if request.recipient_ref else member
    settings = policies.settings(session, now)
    refused = members.refusal(recipient, settings, account_id=member.account_id)
    if refused and recipient.id != member.id:
        raise _refuse(f"the recipient must be a member who shares the paying account: {refused}",
                      "reward_recipient_refused")
    address = clean_address(request.address)
    lines = _lines(session, request.items)
    points = sum((reward.points_price * quantity for reward, quantity in lines), Decimal(0))
    for reward, quantity in lines:
        _take_stock(session, reward, quantity)
    redemption, created = redemptions.redeem(session, redemptions.RedemptionRequest(
        source=SOURCE, external_id=external_id, member_ref=member.loyalty_id, points=points,
        acting_member_ref=member.loyalty_id), actor=actor, now=now)
    if not created:  # placed concurrently under the same id: its unique key refuses this one
        raise _refuse(f"reward order {external_id!r} is being placed already", "reward_order_conflict", 409)
    order = RewardOrder(external_id=external_id, account_id=member.account_id, member_id=member.id,
                        recipient_id=recipient.id, redemption_id=redemption.id, points=points, address=address,
                        status="placed", created_by=actor, placed_at=now, updated_at=now)
    order.items = [RewardOrderItem(reward_id=reward.id, sku=reward.sku, name=reward.name, quantity=quantity,
                                   unit_points=reward.points_price) for reward, quantity in lines]
    session.add(order)
    session.flush()
    _record(session, order, "placed", actor=actor, now=now, note="")
    return order, True


def _replay(session: Session, order: RewardOrder, request: OrderRequest) -> RewardOrder:
    member = members.resolve(session, request.member_ref)
    asked = sorted((get_reward(session, item.reward).id, item.quantity) for item in request.items)
    had = sorted((item.reward_id, item.quantity) for item in order.items)
    if member is None or member.id != order.member_id or asked != had:
        raise _refuse(f"reward order {order.external_id!r} was already placed with different details",
                      "reward_order_conflict", 409)
    return order


def change_status(session: Session, external_id: str, status: str, *, actor: str, now: datetime,
                  note: str = "") -> tuple[RewardOrder, bool]:
    """Move an order on (under its row lock); returns (order, changed). The same status again changes
    nothing; cancelling refunds the points once and puts the stock back."""
    if status not in STATUSES:
        raise _refuse(f"status must be one of {', '.join(STATUSES)}")
    order = get(session, external_id, lock=True)
    session.refresh(order)
    if order.status == status:
        return order, False
    if status not in NEXT[order.status]:
        allowed = ", ".join(NEXT[order.status]) or "nothing"
        raise _refuse(f"a {order.status} reward order cannot become {status} (it can become {allowed})",
                      "reward_order_status", 409, current=order.status)
    if status == "cancelled":
        redemptions.cancel(session, session.get(Redemption, order.redemption_id), actor=actor, now=now,
                           reason=f"reward order {order.external_id} cancelled")
        _give_stock_back(session, order)
    order.status, order.updated_at = status, now
    _record(session, order, status, actor=actor, now=now, note=note)
    return order, True


def _record(session: Session, order: RewardOrder, status: str, *, actor: str, now: datetime, note: str) -> None:
    session.add(RewardOrderStatus(order_id=order.id, status=status, note=(note or "")[:500], actor=actor, at=now))
    session.flush()
    session.expire(order, ["history"])
    outbox.publish_event(session, "reward_order.status_changed", {
        "reward_order_id": order.external_id, "status": status, "points": str(order.points),
        "member": _loyalty_id(session, order.member_id), "recipient": _loyalty_id(session, order.recipient_id),
        "note": note or ""}, f"reward_order:{order.id}:{status}", now)


def _loyalty_id(session: Session, member_id: int) -> str:
    return session.get(Member, member_id).loyalty_id


def _cell(text: str) -> str:
    """Text as a spreadsheet shows it, never as a formula (names and addresses come from outside)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


EXPORT_COLUMNS = ("reward_order_id", "status", "placed_at", "member", "recipient", "recipient_name",
                  *(f"address_{key}" for key in ADDRESS_FIELDS), "sku", "item", "quantity", "points")


def export_csv(session: Session, statuses: tuple[str, ...] = ()) -> Iterator[str]:
    """One row per item, oldest order first, optionally only orders in ``statuses``."""
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise _refuse(f"unknown status {', '.join(unknown)}; use {', '.join(STATUSES)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    stmt = select(RewardOrder).order_by(RewardOrder.placed_at, RewardOrder.id)
    if statuses:
        stmt = stmt.where(RewardOrder.status.in_(statuses))
    for order in session.execute(stmt).scalars():
        member, recipient = session.get(Member, order.member_id), session.get(Member, order.recipient_id)
        head = [_cell(order.external_id), order.status, order.placed_at.isoformat(), member.loyalty_id,
                recipient.loyalty_id, _cell(recipient.name),
                *(_cell((order.address or {}).get(k, "")) for k in ADDRESS_FIELDS)]
        for item in order.items:
            writer.writerow([*head, _cell(item.sku), _cell(item.name), item.quantity,
                             str(item.unit_points * item.quantity)])
        yield flush()
