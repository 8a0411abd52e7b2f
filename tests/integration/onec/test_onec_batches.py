"""1C files applied a chunk at a time write the per-document ledger (PostgreSQL and SQLite).

The same three files go through `apply_sale` both ways (``chunked`` False: every card and document
one by one, as before): new cards and orders (shipped, paid, placed), cards that merge by phone, a
card without phone, a cancelled order, a web order, a write-off refused for want of points; then
new versions of known orders, a return, orders of a member in debt and of new cards; then the first
file again. Members, cards, documents, lines, entries, lots, allocations, debts, traces, merges,
the cards documents were booked on and the counts must be the same.
"""
from __future__ import annotations

import copy
import re
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from engine import clock, imports, ledger
from engine.ledger.check import check
from engine.models import DocumentCard, ImportRun, Member, MemberCard, MemberMerge, Product
from engine.onec import ExchangeConfig
from importers.onec import sale_chunks
from importers.onec.apply import apply_sale
from importers.onec.commerceml import parse_exchange
from server.extensions import session_factory
from tests.conftest import ACCRUAL_BASIC, _empty_tables
from tests.integration.imports import ledger as dumps
from tests.integration.onec.cml import card, commerce, item, order, with_requisite

K = {n: card(f"k{n}", f"Покупатель {n}", f"+7 912 000-00-0{n}") for n in range(1, 8)}
TWIN = card("k1-twin", "Покупатель 1 (второй)", "+7 912 000-00-01")  # merges into k1's member
NO_PHONE = card("k9", "Без телефона")
GOODS = [item("sku-1", "Кофе", "2", "150"), item("sku-2", "Чай", "3", "45.50")]


def paid(document: str) -> str:
    return with_requisite(document, "Заказ оплачен", "true")


FIRST = commerce(
    order("o1", K[1], GOODS, version="1", shipped=True)
    + order("o2", K[2], GOODS[:1], version="1", shipped=True)
    + order("o3", K[2], GOODS, version="1")  # placed: earns nothing yet
    + paid(order("o4", K[3], GOODS, version="1"))  # paid: earns on fulfilled
    + order("o5", K[3], GOODS, version="1", shipped=True, date="2026-03-02")
    + order("o6", TWIN, GOODS[1:], version="1", shipped=True)  # k1's member, by phone
    + order("o7", NO_PHONE, GOODS, shipped=True)
    + order("o8", K[4], GOODS, version="1", cancelled=True)  # a new cancelled order: per document
    + order("o9", K[5], GOODS, version="1", shipped=True, spent="500")  # write-off refused: per document
    + order("w1", K[6], GOODS, version="1", shipped=True, site_order="web-1")  # a web order: per document
    + order("o10", K[6], GOODS[:1], version="1", shipped=True)  # same account as w1: per document
    + order("o11", K[7], GOODS, version="1", shipped=True))

SECOND = commerce(
    order("o3", K[2], GOODS, version="2", shipped=True)  # a newer version ships it
    + order("o4", K[3], GOODS, version="2", shipped=True)
    + order("r1", K[1], [item("sku-1", "Кофе", "1", "150")], operation="Возврат товара", base="o1")
    + order("o12", K[1], GOODS, version="1", shipped=True)  # k1 returns in this chunk: per document
    + order("o13", K[5], GOODS, version="1", shipped=True)  # k5 is in debt by now: per document
    + order("o14", card("k20", "Новый", "+7 912 000-00-20"), GOODS, version="1", shipped=True)
    + order("o15", card("k21", "Новый 2", "+7 912 000-00-21"), GOODS[1:], version="1")
    + order("o16", K[7], GOODS, version="1", shipped=True, date="2026-03-03")
    + order("o11", K[7], GOODS, version="1", shipped=True))  # the same version again: ignored


def _settings(publish, settings_doc, accrue_on: str = "fulfilled"):
    doc = copy.deepcopy(settings_doc)
    doc["settings"].update(currency="RUB", phone_regions=["RU"], time_zone="Europe/Moscow", holding_days=5,
                           default_lifetime_months=12, accrue_on=accrue_on)
    publish(doc, "settings")
    publish(ACCRUAL_BASIC)


def _apply(database, data: bytes, sha: str, chunked: bool) -> dict:
    batch = parse_exchange(data, ExchangeConfig(phone_regions=("RU",)), origin_name=f"{sha}.xml")
    with database.new_session() as session:
        run, _ = imports.begin_run(session, source="1c", kind="sale", filename=f"{sha}.xml", sha256=sha,
                                   size=len(data), actor="1c", now=clock.now())
        report = apply_sale(session, run, batch, actor="1c", chunked=chunked, now=lambda: clock.now(),
                            checkpoint=lambda done, total: session.commit())
        imports.finish(run, report.tally(), clock.now())
        session.commit()
        return dict(report.counts)


def _run(app, chunked: bool) -> dict:
    database = session_factory(app)
    with database.new_session() as session:  # a catalog: group 110 earns double, sku-2 has tags and its own rate
        session.add_all([Product(sku="sku-1", name="Кофе\tзерно", product_group="110"),
                         Product(sku="sku-2", name="Чай", product_group="120", points_per_unit=Decimal("1.5"),
                                 tags=["eco", "new"])])
        session.commit()
    out = {"counts": [_apply(database, FIRST, "first", chunked)]}
    with database.new_session() as session:  # k5 spends what it has and more: debt
        member = session.execute(select(Member).join(MemberCard, MemberCard.member_id == Member.id)
                                 .where(MemberCard.card_id == "k5")).scalar_one()
        account = ledger.lock_account(session, member.account_id)
        ledger.debit(session, account, kind="adjustment", amount=Decimal(20), key="test:debt:k5", actor="test",
                     now=clock.now(), allow_debt=True)
        session.commit()
    out["counts"].append(_apply(database, SECOND, "second", chunked))
    out["counts"].append(_apply(database, FIRST, "first-again", chunked))
    with database.new_session() as session:
        assert check(session) == []
        first_card = {}
        for card_id, member_id in session.execute(select(MemberCard.card_id, MemberCard.member_id)
                                                  .order_by(MemberCard.card_id)):
            first_card.setdefault(member_id, card_id)
        for member_id, card_id in first_card.items():  # name members by their first card for the dump
            session.execute(update(Member).where(Member.id == member_id).values(erp_code=card_id))
        session.flush()
        out.update(dumps.dump(session))
        out["members"] = sorted(
            (m.erp_code, m.name, m.email, m.phone, m.group, m.registered_at, m.status,
             first_card.get(m.merged_into_id)) for m in session.execute(select(Member)).scalars())
        out["cards"] = sorted((c.card_id, first_card[c.member_id], c.name, c.phone_raw, c.email)
                              for c in session.execute(select(MemberCard)).scalars())
        out["merges"] = sorted((m.kind, m.card_id, first_card.get(m.target_member_id),
                                re.sub(r"member L\w+", "member L…", m.reason))
                               for m in session.execute(select(MemberMerge)).scalars())
        out["booked"] = sorted(session.execute(select(DocumentCard.card_id)).scalars())
        out["runs"] = [(r.status, r.rows_read, r.applied, r.duplicates, r.quarantined)
                       for r in session.execute(select(ImportRun).order_by(ImportRun.id)).scalars()]
        session.rollback()
    return out


@pytest.mark.parametrize(("chunk", "accrue_on"), [(1000, "fulfilled"), (3, "fulfilled"), (1000, "paid")])
def test_chunked_files_write_the_per_document_ledger(app, publish, settings_doc, monkeypatch, chunk, accrue_on):
    fixed = clock.now().replace(microsecond=0)
    monkeypatch.setattr(clock, "now", lambda: fixed)  # both ways post at the same moment
    monkeypatch.setattr(sale_chunks, "CHUNK", chunk)
    bulk = []
    real = sale_chunks.sales_batch.post_orders
    monkeypatch.setattr(sale_chunks.sales_batch, "post_orders",
                        lambda session, orders, **kw: bulk.extend(o.external_id for o in orders) or
                        real(session, orders, **kw))
    results = []
    for chunked in (False, True):
        _settings(publish, settings_doc, accrue_on)
        results.append(_run(app, chunked))
        _empty_tables(app)
    single, batched = results
    assert dumps.compare(single, batched) == []
    for part in ("members", "cards", "merges", "booked", "runs", "counts"):
        assert batched[part] == single[part], part
    assert {"o1", "o2", "o5", "o7", "o11", "o14", "o15"} <= set(bulk)
    assert not {"o8", "o9", "w1", "o10", "o13", "r1"} & set(bulk)
    assert ("o12" in bulk) == (chunk == 3)  # with k1's return in its chunk, k1's account goes one by one
    documents = single["documents"]
    assert documents["o3"][8] == "fulfilled" and documents["o4"][8] == "fulfilled"
    assert ("1c:o4:accrual" in single["entries"]) and single["documents"]["o4"][14]  # earned when paid or shipped
    assert documents["o15"][8] == "placed" and documents["o8"][8] == "cancelled"
    assert single["entries"]["1c:o14:accrual"][2] > 0
    assert single["accounts"]["k5"] > 0  # the member in debt
    assert single["merges"]  # the twin card merged by phone
    assert single["lines"][("o1", 2)][-1] == ["eco", "new"] and single["lines"][("o1", 1)][2] == "110"


def test_a_chunked_file_announces_its_credits_once_per_member(app, publish, settings_doc):
    """Chunked: credits held for the run, one ``points.credited`` per member when the file is done (the
    SAP import's way), then ``import.finished``; per document: one event per accrual, as before."""
    from engine import outbox
    from engine.models import OutboxMessage, OutboxRunCredit
    _settings(publish, settings_doc)
    database = session_factory(app)
    with database.new_session() as session:
        outbox.create_subscription(session, name="crm", url="https://hooks.example.com/loyalty",
                                   event_types=["points.credited", "import.finished"], now=clock.now())
        session.commit()
    _apply(database, commerce(order("a1", K[1], GOODS, shipped=True) + order("a2", K[1], GOODS, shipped=True)
                              + order("a3", K[2], GOODS, shipped=True)), "chunked", True)
    _apply(database, commerce(order("b1", K[3], GOODS, shipped=True) + order("b2", K[3], GOODS, shipped=True)),
           "per-document", False)
    with database.new_session() as session:
        events = [(m.trigger, m.variables["data"]) for m in session.execute(
            select(OutboxMessage).where(OutboxMessage.channel == "webhook").order_by(OutboxMessage.id)).scalars()]
        assert session.execute(select(OutboxRunCredit)).first() is None  # announced, so no longer held
    credited = [data for trigger, data in events if trigger == "points.credited"]
    held = [data for data in credited if "import_run" in data]
    assert len(held) == 2 and {data["amount"] for data in held} == {"86", "43"}  # k1's two orders in one
    assert len([data for data in credited if "entry_id" in data]) == 2  # b1, b2 one by one
    assert [trigger for trigger, _d in events].count("import.finished") == 1
