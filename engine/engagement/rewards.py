"""The reward catalog [000][003]: rewards from the daily catalog file, points prices, stock, kept pictures.

A catalog row flagged as a reward creates or updates the reward of its SKU
(name, money price, picture URL, active again); its points price is the
row's own, else the money price divided by the program's point value with
the program's rounding — unless an operator set the points price by hand,
which the file then leaves alone. A row that says "not a reward" withdraws
the reward (orders keep pointing at it). Stock is counted only when set
(a file's stock column, the API or the CLI); ``None`` means not counted.
Every new or changed picture URL leaves a pending picture for the fetch job.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import policies
from engine.domain import ProductDoc
from engine.engagement.refusals import Refusal
from engine.models import Reward, RewardPicture

MAX_STOCK = 1_000_000_000


class RewardError(Refusal, ValueError):
    """A refusal (a ValueError too, so a catalog row refused here is quarantined by the import)."""

    code, status = "reward_error", 422


def points_for(price: Decimal | None, settings) -> Decimal:
    """A money price in points: price ÷ the program's point value, with its rounding."""
    if price is None:
        raise RewardError("a reward priced from money needs a price")
    points = settings.round_points(price / settings.point_value)
    if points <= 0:
        raise RewardError(f"the price {price} is worth no points at {settings.point_value} per point")
    return points


def by_sku(session: Session, sku: str) -> Reward | None:
    return session.execute(select(Reward).where(Reward.sku == sku)).scalar_one_or_none()


def get(session: Session, ref: str | int) -> Reward:
    """A reward by id (an int) or SKU (a str: SAP item codes are often digits, never taken for ids)."""
    reward = session.get(Reward, ref) if isinstance(ref, int) else by_sku(session, ref)
    if reward is None:
        raise RewardError(f"there is no reward {ref}", code="reward_unknown", status=404)
    return reward


def from_catalog(session: Session, doc: ProductDoc, *, now: datetime) -> str:
    """Apply a catalog row to the rewards: 'applied' when a reward changed, else 'duplicate'."""
    if doc.reward is None:
        return "duplicate"
    reward = by_sku(session, doc.sku)
    if not doc.reward:
        if reward is None or not reward.active:
            return "duplicate"
        reward.active, reward.updated_at = False, now
        return "applied"
    values = {"name": doc.name, "price": doc.price, "currency": doc.currency, "picture_url": doc.picture_url,
              "active": True, "source": doc.source}
    if reward is None or not reward.points_manual:
        settings = policies.settings(session, now)
        points = doc.redeemable_for_points
        if points is None:
            points = points_for(doc.price, settings)
        elif settings.round_points(points) != points:
            raise RewardError(f"the points price {points} has more than {settings.precision} decimal places")
        values["points_price"] = points
    if doc.stock is not None:
        values["stock"] = doc.stock
    if reward is None:
        reward = Reward(sku=doc.sku, points_manual=False, updated_at=now, **values)
        session.add(reward)
        session.flush()
        want_picture(session, reward)
        return "applied"
    changed = {key: value for key, value in values.items() if getattr(reward, key) != value}
    if not changed:
        return "duplicate"
    for key, value in changed.items():
        setattr(reward, key, value)
    reward.updated_at = now
    if "picture_url" in changed:
        want_picture(session, reward)
    return "applied"


def want_picture(session: Session, reward: Reward) -> RewardPicture | None:
    """Leave the reward's picture URL pending for the fetch job (what we kept is served meanwhile)."""
    picture = session.get(RewardPicture, reward.id)
    url = (reward.picture_url or "").strip()
    if not url:
        if picture is not None:
            session.delete(picture)
        return None
    if picture is None:
        picture = RewardPicture(reward_id=reward.id, source_url=url, state="pending", attempts=0)
        session.add(picture)
    elif picture.source_url != url or picture.state == "failed":
        picture.source_url, picture.state, picture.attempts, picture.error = url, "pending", 0, None
    session.flush()
    return picture


def update(session: Session, reward: Reward, *, now: datetime, points_price: Decimal | None = None,
           stock: int | None = None, clear_stock: bool = False, active: bool | None = None) -> Reward:
    """An operator's change: a points price by hand (kept over the file's), the stock, the active flag."""
    if points_price is not None:
        if points_price <= 0:
            raise RewardError("a points price must be positive")
        settings = policies.settings(session, now)
        if settings.round_points(points_price) != points_price:
            raise RewardError(f"a points price has at most {settings.precision} decimal places")
        reward.points_price, reward.points_manual = points_price, True
    if stock is not None:
        if not 0 <= stock <= MAX_STOCK:
            raise RewardError(f"stock must be a whole number from 0 to {MAX_STOCK:,}")
        reward.stock = stock
    elif clear_stock:
        reward.stock = None
    if active is not None:
        reward.active = active
    reward.updated_at = now
    session.flush()
    return reward


def catalog(session: Session, *, page: int = 1, per_page: int = 50, affordable: Decimal | None = None,
            include_inactive: bool = False) -> tuple[list[tuple[Reward, RewardPicture | None]], int]:
    """A page of rewards by name (only active ones, optionally only those costing at most
    ``affordable``), each with its kept picture, and how many there are in all."""
    where = [] if include_inactive else [Reward.active.is_(True)]
    if affordable is not None:
        where.append(Reward.points_price <= affordable)
    total = session.execute(select(func.count()).select_from(Reward).where(*where)).scalar_one()
    rows = session.execute(select(Reward, RewardPicture).outerjoin(RewardPicture, RewardPicture.reward_id == Reward.id)
                           .where(*where).order_by(Reward.name, Reward.id)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return [(reward, picture) for reward, picture in rows], total


def picture_kept(picture: RewardPicture | None) -> bool:
    return picture is not None and picture.data is not None


def pictures_to_fetch(session: Session) -> list[int]:
    """Rewards whose picture is pending (new or changed URL, or a failure to try again)."""
    return list(session.execute(select(RewardPicture.reward_id).where(RewardPicture.state == "pending")
                                .order_by(RewardPicture.reward_id)).scalars())


def retry_failed_pictures(session: Session) -> int:
    """Mark failed pictures pending again (a source that was down may be back)."""
    failed = session.execute(select(RewardPicture).where(RewardPicture.state == "failed")).scalars().all()
    for picture in failed:
        picture.state, picture.attempts = "pending", 0
    session.flush()
    return len(failed)


def keep_picture(session: Session, reward_id: int, url: str, *, content_type: str, data: bytes, sha256: str,
                 now: datetime) -> RewardPicture | None:
    """Store a fetched picture, unless the URL changed meanwhile (the newer fetch wins)."""
    picture = session.get(RewardPicture, reward_id, with_for_update=True)
    if picture is None or picture.source_url != url:
        return None
    picture.state, picture.content_type, picture.data, picture.sha256 = "stored", content_type, data, sha256
    picture.fetched_url, picture.fetched_at, picture.error = url, now, None
    picture.attempts += 1
    session.flush()
    return picture


def picture_failed(session: Session, reward_id: int, url: str, error: str, *, attempts: int,
                   now: datetime) -> RewardPicture | None:
    """Record a failed fetch; the picture kept from before (if any) is still served."""
    picture = session.get(RewardPicture, reward_id, with_for_update=True)
    if picture is None or picture.source_url != url:
        return None
    picture.state, picture.error, picture.fetched_at = "failed", error[:500], now
    picture.attempts += attempts
    session.flush()
    return picture
