"""Ninety days of demo history, so the admin UI's charts, simulation and member pages show something real:
a few hundred members (one company with employees), orders day by day, returns, redemptions, welcome
bonuses that expire, a 1C-style merge, and an SAP import run with quarantined rows. Every write goes
through the engine services the API uses; a fixed random seed makes each run alike."""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from engine import ledger
from engine.documents import orders, redemptions
from engine.documents.corrections import ReturnItem
from engine.domain import LineDoc, Origin, PurchaseDoc
from engine.ledger import daily
from engine.members import adjustments, directory, merges

DAYS = 90
FIRST = ("Anna", "Piotr", "Katarzyna", "Tomasz", "Magdalena", "Marek", "Agnieszka", "Paweł", "Ewa", "Michał",
         "Joanna", "Krzysztof", "Barbara", "Andrzej", "Monika", "Łukasz", "Zofia", "Grzegorz", "Aleksandra")
LAST = ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński", "Szymański",
        "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Krawczyk", "Piotrowski", "Grabowski")
# sku, group, unit price: what the demo installers buy
BASKET = (("KR-100", "110", "34.80"), ("RU-200", "120", "249.00"), ("PO-300", "130", "899.00"),
          ("ZK-150", "110", "18.90"), ("GR-400", "140", "1299.00"))
CUSTOMERS_CSV = ("CardCode;CardName;LicTradNum;Phone1;Cellular;E_Mail;GroupCode;CreateDate",
                 "S0001;Hurtownia Łódź Sp. z o.o.;7251234567;;601 900 100;biuro@lodz.example;100;20240115",
                 "S0002;Zakład Hydrauliczny Żółw;;+48 22 123 45 67;;zolw@example.pl;100;15.03.2024",
                 ";Bez kodu;;;;;100;20240101",
                 "S0004;Zła data;;;;;100;20241340",
                 "S0005;Instalacje Śląsk;;;;;200;20240301")


def build(session: Session, now: datetime, *, members: int = 300) -> list:
    """Members and their history up to ``now``; returns the members (the caller commits)."""
    rng = random.Random(2026)
    start = now - timedelta(days=DAYS)
    company = directory.create_company(session, "Hydro-Mont Sp. z o.o.", erp_code="F0001", now=start)
    people = []
    for i in range(1, members + 1):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        data = {"name": name, "erp_code": f"C{i:04d}", "phone": f"+48 6{i:08d}",
                "email": f"member{i}@example.com", "group": "110" if i % 7 == 0 else "100"}
        people.append(directory.create(session, data, now=start - timedelta(days=rng.randint(30, 700)),
                                       company=company if i <= 4 else None))
    events = []  # (when, what, member): applied in time order, so each sees the ledger as it was then
    for member in people:
        for _ in range(rng.randint(1, 6)):
            events.append((start + timedelta(days=rng.uniform(0, DAYS - 0.1)), "order", member))
        if rng.random() < 0.25:
            events.append((start + timedelta(days=rng.uniform(0, 20)), "bonus", member))
    midnight = now.replace(hour=2, minute=0, second=0, microsecond=0)
    events += [(midnight - timedelta(days=day), "night", None) for day in range(DAYS + 1)]
    events.sort(key=lambda event: event[0])
    for n, (when, what, member) in enumerate(events, start=1):
        if when > now:
            continue
        if what == "night":  # the nightly jobs: held points mature, lots past their lifetime expire
            daily.mature(session, when)
            daily.expire(session, when, actor="demo:expire", workers=1)  # in its own uncommitted history
            continue
        if what == "bonus":  # a welcome bonus that lives 30 days: the nightly expiry takes what is left
            adjustments.adjust(session, member, Decimal(50), reason="welcome bonus", actor="demo",
                               key=f"demo:bonus:{member.id}", now=when, expire_after_days=30)
            continue
        document = _order(session, rng, member, f"D{n:05d}", when)
        if rng.random() < 0.06 and when + timedelta(days=2) < now:
            orders.record_return(session, document, "R1", [ReturnItem(quantity=Decimal(1), line_no=1)],
                                 origin=Origin("api", "demo"), actor="demo", now=when + timedelta(days=2))
        if rng.random() < 0.12:
            _redeem(session, member, f"DR{n:05d}", document.external_id, when + timedelta(hours=1))
    loose = directory.create(session, {"name": people[10].name, "email": "old.card@example.com"}, now=start)
    adjustments.adjust(session, loose, Decimal(120), reason="points on an old card", actor="demo",
                       key="demo:old-card", now=start + timedelta(days=5))
    merges.merge_members(session, loose, people[10], actor="demo", now=now - timedelta(days=3),
                         reason="the same customer in 1C (phone)", phone=people[10].phone)
    return people


def _order(session: Session, rng: random.Random, member, external_id: str, when: datetime):
    lines = []
    for no, (sku, group, price) in enumerate(rng.sample(BASKET, rng.randint(1, 3)), start=1):
        quantity = Decimal(rng.randint(1, 12))
        lines.append(LineDoc(no, sku, quantity, Decimal(price), Decimal(price) * quantity, product_group=group))
    doc = PurchaseDoc(source="shop", external_id=external_id, document_type="order", member_ref=member.loyalty_id,
                      placed_at=when, currency="PLN", lines=tuple(lines), status="fulfilled")
    document, _created = orders.record_purchase(session, doc, actor="demo", now=when)
    return document


def _redeem(session: Session, member, external_id: str, order_id: str, when: datetime) -> None:
    available = ledger.balance(session, member.account, when).available
    if available >= 20:
        request = redemptions.RedemptionRequest(source="shop", external_id=external_id,
                                                member_ref=member.loyalty_id,
                                                points=Decimal(int(available * Decimal("0.6"))),
                                                order_external_id=order_id)
        try:
            redemptions.redeem(session, request, actor="demo", now=when)
        except redemptions.RedemptionError:
            pass  # the program refused it (a rule of the redemption policy): a demo shows what is allowed


def import_file(upload_folder: str) -> int:
    """An SAP customers file with two bad rows, imported as `loyalty import file` would; returns the run id."""
    from pathlib import Path

    from importers.sap_b1 import pipeline
    from server.extensions import session_factory
    folder = Path(upload_folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo-OCRD.csv"
    path.write_bytes(("\r\n".join(CUSTOMERS_CSV) + "\r\n").encode("cp1250"))
    factory = session_factory()
    with factory.new_session() as session:
        run, _created = pipeline.register(session, path, kind="customers", actor="demo", origin={"via": "demo"})
        session.commit()
        run_id = run.id
    pipeline.execute(factory, run_id)
    return run_id
