"""The catalog: products and rewards upserted from the ERP, 1C or the admin."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domain import ProductDoc
from engine.models import Product, ProductGroup

_FIELDS = ("name", "product_group", "brand", "price", "currency", "picture_url")


def upsert(session: Session, doc: ProductDoc, *, now: datetime) -> str:
    """Create or update a product by SKU; 'applied' when something changed, else 'duplicate'."""
    product = session.execute(select(Product).where(Product.sku == doc.sku)).scalar_one_or_none()
    values = {f: getattr(doc, f) for f in _FIELDS if getattr(doc, f) not in (None, "")}
    values["points_price"] = doc.redeemable_for_points
    values["active"] = True  # a product listed again is offered again
    if doc.points_per_unit is not None:
        values["points_per_unit"] = doc.points_per_unit
    if doc.tags is not None:  # a source without a tags column leaves the tags as they are
        values["tags"] = list(doc.tags) or None
    if product is None:
        session.add(Product(sku=doc.sku, source=doc.source, updated_at=now, **values))
        session.flush()
        return "applied"
    changed = False
    for key, value in values.items():
        if getattr(product, key) != value:
            setattr(product, key, value)
            changed = True
    if changed:
        product.updated_at = now
        product.source = doc.source
    return "applied" if changed else "duplicate"


def upsert_group(session: Session, code: str, name: str, *, parent_code: str | None = None,
                 source: str = "admin") -> str:
    """Create or update a product group by code; 'applied' or 'duplicate'."""
    group = session.execute(select(ProductGroup).where(ProductGroup.code == code)
                            ).scalar_one_or_none()
    if group is None:
        session.add(ProductGroup(code=code, name=name, parent_code=parent_code, source=source))
        session.flush()
        return "applied"
    values = {"name": name or group.name, "parent_code": parent_code, "source": source}
    if all(getattr(group, key) == value for key, value in values.items()):
        return "duplicate"
    for key, value in values.items():
        setattr(group, key, value)
    return "applied"


def deactivate(session: Session, skus: list[str], *, now: datetime) -> int:
    """Stop offering products the source deleted; rows stay (past orders refer to them)."""
    if not skus:
        return 0
    products = session.execute(select(Product).where(Product.sku.in_(set(skus)),
                                                     Product.active.is_(True))).scalars().all()
    for product in products:
        product.active = False
        product.updated_at = now
    session.flush()
    return len(products)
