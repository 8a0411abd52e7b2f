"""Customer and catalog rows: one CSV record of a SAP B1 card or item export → a document, a skip, or an error.

Decisions taken here (SAP documents none of them; README, "What happens to each kind"):

- ``RedeemableForPoints``: a number is the reward's price in points (0 or
  empty: not a reward); ``Y``/``tYES`` means "price it from ``Price``": by the
  profile's ``points_per_price_unit`` when it has one (rounded up to whole
  points, so a reward never costs less than its price), else by the program's
  point value and rounding when the row is applied (`engine.engagement.rewards`);
  ``N``/``tNO``: not a reward. An optional ``stock`` column (SAP ``OnHand``)
  sets the reward's stock.
- Customers of ``CardType`` S (supplier) or L (lead) are skipped, not errors.
- Phone: ``Cellular``, then ``Phone1``, then ``Phone2``; the first that is a
  valid personal number wins. A number Excel stripped of its ``+``
  (``48601234567``) is accepted only if it then belongs to one of the
  source's regions. E-mail: the first well-formed address, lower-cased.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal

import phonenumbers

from engine.domain import CustomerDoc, Origin, ProductDoc, tags_from
from engine.members.phones import normalize_phone
from importers.sap_b1.profiles import SOURCE, Profile
from importers.sap_b1.rows import Mapper, SkippedRow, column_reader
from importers.sap_b1.values import CARD_TYPE, BadValue, make_date_parser, make_decimal_parser, make_enum

_EMAIL = re.compile(r"[^@\s;,<>]+@[^@\s;,<>]+\.[^@\s;,<>]+")
# The catalog's columns as long as the products and rewards tables keep them.
_CATALOG_LENGTHS = {"item_code": 64, "item_name": 200, "item_group": 64, "brand": 64, "picture_url": 500,
                    "currency": 3}
_REDEEM_FLAG = make_enum("yes/no", {"Y": "Y", "N": "N", "tYES": "Y", "tNO": "N"}, empty="N")


def customer_mapper(profile: Profile, index: Mapping[str, int | None], name: str) -> Mapper:
    h = profile.columns
    text = column_reader(index)
    parse_date = make_date_parser(profile.date_formats)
    regions = profile.phone_regions
    has_type = index.get("card_type") is not None

    def map_row(line_no: int, raw: str, fields: list[str]):
        origin = Origin(SOURCE, name, line_no)
        code = text(fields, "card_code")
        if not code:
            raise BadValue(f"missing key {h['card_code']}")
        try:
            if has_type:
                card_type = CARD_TYPE(fields[index["card_type"]], h["card_type"])
                if card_type != "C":
                    what = "a supplier" if card_type == "S" else "a lead"
                    return SkippedRow(origin, raw, f"{code} is {what} (CardType {card_type}); only customers "
                                      "(C) are imported", {"card_code": code})
            phone, phone_raw = erp_phone([text(fields, k) for k in ("cellular", "phone1", "phone2")], regions)
            tax_id = text(fields, "tax_id")
            return CustomerDoc(
                source=SOURCE, external_id=code, name=text(fields, "card_name"), phone=phone,
                phone_raw=phone_raw, email=first_email(text(fields, "email")), tax_id=tax_id,
                group=text(fields, "group"),
                registered_at=parse_date(text(fields, "created"), h["created"] or ""),
                birth_date=parse_date(text(fields, "birth_date"), h["birth_date"] or ""),
                is_company=bool(tax_id), origin=origin)
        except BadValue as exc:
            exc.extra.setdefault("card_code", code)
            raise

    return map_row


def erp_phone(raws: list[str], regions: tuple[str, ...]) -> tuple[str | None, str]:
    """(E.164 or None, the raw text it came from): the first candidate that is a valid personal number."""
    present = [r for r in raws if r]
    for raw in present:
        phone = normalize_phone(raw, regions)
        digits = re.sub(r"[\s\-./()]", "", raw)
        if phone is None and digits.isdigit() and not digits.startswith("0"):
            # Excel turned "+48601234567" into the number 48601234567.
            candidate = normalize_phone("+" + digits, regions)
            if candidate and phonenumbers.region_code_for_number(phonenumbers.parse(candidate)) in regions:
                phone = candidate
        if phone:
            return phone, raw
    return None, present[0] if present else ""


def first_email(value: str) -> str | None:
    for part in re.split(r"[;,\s]+", value):
        part = part.strip().strip("<>").lower()
        if _EMAIL.fullmatch(part):
            return part
    return None


def _tags(fields: list[str], text, header: str | None) -> tuple[str, ...]:
    try:
        return tags_from(re.split(r"[,|]", text(fields, "tags")))
    except ValueError as exc:
        raise BadValue(f"{header}: {exc}") from None


def catalog_mapper(profile: Profile, index: Mapping[str, int | None], name: str) -> Mapper:
    h = profile.columns
    text = column_reader(index)
    number = make_decimal_parser(profile.decimal_separator)
    rate = profile.points_per_price_unit
    has_flag = index.get("redeemable") is not None  # a file without the column says nothing about rewards

    def fit(fields: list[str], logical: str) -> str:
        value = text(fields, logical)
        if len(value) > _CATALOG_LENGTHS[logical]:
            raise BadValue(f"{h[logical]} is longer than {_CATALOG_LENGTHS[logical]} characters")
        return value

    def map_row(line_no: int, raw: str, fields: list[str]):
        sku = text(fields, "item_code")
        if not sku:
            raise BadValue(f"missing key {h['item_code']}")
        try:
            sku = fit(fields, "item_code")
            name, group, brand, picture = (fit(fields, key) for key in ("item_name", "item_group", "brand",
                                                                         "picture_url"))
            currency = fit(fields, "currency").upper()
            price = number(text(fields, "price"), h["price"] or "")
            reward, redeemable = _points_price(text(fields, "redeemable"), h["redeemable"] or "", price, number,
                                               rate) if has_flag else (None, None)
            points_per_unit = number(text(fields, "points_per_unit"), h["points_per_unit"] or "")
            stock = _stock(number(text(fields, "stock"), h["stock"] or ""), h["stock"] or "")
            tags = _tags(fields, text, h["tags"]) if index.get("tags") is not None else None
            return ProductDoc(
                source=SOURCE, sku=sku, name=name, product_group=group, brand=brand, price=price,
                currency=(currency or profile.currency) if price is not None else "",
                picture_url=picture, redeemable_for_points=redeemable,
                points_per_unit=points_per_unit, reward=reward, stock=stock, origin=Origin(SOURCE, name, line_no),
                tags=tags)
        except BadValue as exc:
            exc.extra.setdefault("sku", sku)
            raise

    return map_row


def _points_price(value: str, column: str, price, number, rate) -> tuple[bool, Decimal | None]:
    """(is a reward, its points price); a reward without a price in points is priced by the program."""
    if not value or value[0].isdigit() or value[0] in "+-,.":
        points = number(value, column)
        if points is not None and points < 0:
            raise BadValue(f'negative points price "{value}" in column {column}')
        return (True, points) if points else (False, None)
    if _REDEEM_FLAG(value, column) == "N":
        return False, None
    if price is None:
        raise BadValue(f"{column} is {value} but the row has no price to turn into points")
    if rate is None:
        return True, None
    return True, (price * rate).to_integral_value(rounding=ROUND_CEILING)


def _stock(value: Decimal | None, column: str) -> int | None:
    if value is None:
        return None
    if value < 0 or value != value.to_integral_value():
        raise BadValue(f'stock "{value}" in column {column} is not a whole number of at least 0')
    return int(value)
