"""A document's fingerprint: what it says apart from its status, so a re-sent document is recognised.

It hashes the bytes ``json.dumps(body, sort_keys=True)`` gives for the body
below, written by hand because the set-based import takes a million lines
through it; the tests hold the two equal. Stored in ``documents.content_hash``
by every path, so it may never change shape: the promo codes of an order
(``codes``) enter the body only when there are some, so a document without
codes keeps the fingerprint it always had.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from json.encoder import encode_basestring_ascii as _js


def _flag(value) -> str:
    return "true" if value else "false"


def content_hash(*, document_type: str, member_ref: str, placed_at: datetime | str, currency: str,
                 lines: Iterable, channel: str, store: str = "", shipping: str = "0",
                 base: str | None = None, codes: Iterable[str] = ()) -> str:
    """``lines``: objects with ``line_no, sku, quantity, unit_price, line_total, product_group, brand``
    and, where they have them, ``is_promo`` and ``base_line_no``; ``placed_at`` may be ISO text already."""
    if isinstance(placed_at, datetime):
        placed_at = placed_at.isoformat()
    # ``!s``: the text ``json.dumps(str(d))`` holds, at half the cost of ``format(d, "")`` per Decimal.
    body = ", ".join(
        f'[{l.line_no}, {_js(l.sku)}, "{l.quantity!s}", "{l.unit_price!s}", "{l.line_total!s}", '
        f'{_js(l.product_group)}, {_js(l.brand)}, {_flag(getattr(l, "is_promo", False))}, '
        f'{_number(getattr(l, "base_line_no", None))}]' for l in lines)
    codes = list(codes)
    coded = f'"codes": [{", ".join(map(_js, codes))}], ' if codes else ""
    text = (f'{{"base": {"null" if base is None else _js(base)}, "channel": {_js(channel)}, {coded}'
            f'"currency": {_js(currency)}, "lines": [{body}], "member": {_js(member_ref)}, '
            f'"placed_at": {_js(placed_at)}, "shipping": {_js(shipping)}, "store": {_js(store)}, '
            f'"type": {_js(document_type)}}}')
    return hashlib.sha256(text.encode()).hexdigest()


def _number(value) -> str:
    return "null" if value is None else str(value)
