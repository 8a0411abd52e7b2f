"""Benchmark: documents that take the per-document path (SAP credit notes, 1C orders), documents/s.

SAP: imports 30,000 invoices (set-based path, timed as the same-run baseline) of
5,000 customers under the 30-rule program of bench_rules.py, then 2,000
credit notes (ORIN/RIN1, one or two lines each, each against a different
invoice) through the real import run (the chunk path, `engine.documents.credit_notes`), and 300
more the per-document way (``use_bulk=False``, what every credit note took before) as a second
baseline. 1C: 2,000 orders (shipped, so they
accrue) of 500 new buyer cards in one CommerceML file, parsed and applied through
`importers.onec.apply.apply_sale` a chunk at a time (`importers.onec.sale_chunks`; cards included in the
time), committing after each chunk as the exchange job does, and 300 more orders of their own new cards the
per-document way (``chunked=False``, what every 1C document took before) as a second baseline. Prints
documents/s for each kind and the ratio to the set-based invoice path; checks every ledger invariant
afterwards. "statements/document" counts what goes through SQLAlchemy (COPY goes past it).

    .venv/bin/python bench/bench_documents.py [--invoices 30000] [--credit-notes 2000] [--per-document 300]
        [--orders 2000] [--orders-per-document 300] [--database loyalty_bench_documents]
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench_rules import GROUPS, program  # noqa: E402
from common import make_app, publish_accrual, scratch_database  # sets sys.path too

WORK = Path("/tmp/loyalty-bench-documents" + os.environ.get("BENCH_SUFFIX", ""))
CUSTOMERS = 5_000
SKUS = 500
HEADER = "DocEntry;DocNum;DocDate;CardCode;DocCur;LineNum;ItemCode;Dscription;ItmsGrpCod;Quantity;Price;LineTotal"


def write_sap(folder: Path, invoices: int, notes: int, before: int, rng: random.Random) -> tuple[Path, ...]:
    """Customers, invoices of 1-5 lines (quantity 2-5, so a credit note can return part), and two files of credit
    notes against different invoices: ``notes`` for the chunk path, ``before`` for the per-document one."""
    customers, invoice_file = folder / "OCRD.csv", folder / "OINV.csv"
    credit_file, before_file = folder / "ORIN.csv", folder / "ORIN_per_document.csv"
    with open(customers, "w", encoding="cp1250", newline="") as out:
        out.write("CardCode;CardName;LicTradNum;Phone1;Cellular;E_Mail;GroupCode;CreateDate\r\n")
        for n in range(1, CUSTOMERS + 1):
            out.write(f"C{n:05d};Hurtownia {n};;;;c{n}@example.pl;{'VIP' if n % 10 == 0 else 'STD'};20200115\r\n")
    today = date.today()
    days = [(today - timedelta(days=d)).strftime("%Y%m%d") for d in range(20, 200)]
    lines_of: dict[int, list[tuple]] = {}
    with open(invoice_file, "w", encoding="cp1250", newline="") as out:
        out.write(HEADER + "\r\n")
        for entry in range(1, invoices + 1):
            card, day = f"C{rng.randint(1, CUSTOMERS):05d}", rng.choice(days)
            lines_of[entry] = []
            for line in range(rng.randint(1, 5)):
                quantity, cents = rng.randint(2, 5), rng.randint(1_000, 50_000)
                sku, group = f"SKU-{rng.randint(0, SKUS - 1):04d}", rng.choice(GROUPS)
                lines_of[entry].append((card, line, sku, group, quantity, cents))
                total = quantity * cents
                out.write(f"{entry};{100000 + entry};{day};{card};PLN;{line};{sku};Rura;{group};{quantity};"
                          f"{cents // 100},{cents % 100:02d};{total // 100},{total % 100:02d}\r\n")
    credit_day = (today - timedelta(days=5)).strftime("%Y%m%d")
    bases = rng.sample(range(1, invoices + 1), notes + before)
    for path, first, chosen in ((credit_file, 1, bases[:notes]), (before_file, notes + 1, bases[notes:])):
        with open(path, "w", encoding="cp1250", newline="") as out:
            out.write(HEADER + ";BaseType;BaseEntry;BaseLine\r\n")
            for n, base in enumerate(chosen, start=first):
                taken = lines_of[base][:rng.randint(1, 2)]
                for position, (card, line, sku, group, _quantity, cents) in enumerate(taken):
                    out.write(f"{n};{900000 + n};{credit_day};{card};PLN;{position};{sku};Zwrot;{group};1;"
                              f"{cents // 100},{cents % 100:02d};{cents // 100},{cents % 100:02d};13;{base};"
                              f"{line}\r\n")
    return customers, invoice_file, credit_file, before_file


def onec_file(orders: int, buyers: int, rng: random.Random, prefix: str = "", phones: int = 912) -> bytes:
    """One CommerceML 2.08 file of ``orders`` shipped orders (1-5 goods each) of ``buyers`` cards with phones
    (documents and cards named with ``prefix``, phones +7 ``phones`` …)."""
    def requisites(pairs: dict[str, str]) -> str:
        return "<ЗначенияРеквизитов>" + "".join(
            f"<ЗначениеРеквизита><Наименование>{k}</Наименование><Значение>{v}</Значение></ЗначениеРеквизита>"
            for k, v in pairs.items()) + "</ЗначенияРеквизитов>"
    body = []
    for n in range(1, orders + 1):
        b = rng.randint(1, buyers)
        buyer = (f"<Контрагент><Ид>{prefix}card-{b}</Ид><Наименование>Покупатель {b}</Наименование>"
                 "<Роль>Покупатель</Роль>"
                 f"<Контакты><Контакт><Тип>Телефон мобильный</Тип><Значение>+7 {phones} {b:07d}</Значение></Контакт>"
                 "</Контакты></Контрагент>")
        goods = []
        for _ in range(rng.randint(1, 5)):
            qty, price = rng.randint(1, 5), rng.randint(100, 5_000)
            goods.append(f"<Товар><Ид>sku-{rng.randint(1, SKUS)}</Ид><Наименование>Кофе</Наименование>"
                         f"<ЦенаЗаЕдиницу>{price}</ЦенаЗаЕдиницу><Количество>{qty}</Количество>"
                         f"<Сумма>{qty * price}</Сумма>{requisites({'ТипНоменклатуры': 'Товар'})}</Товар>")
        day = (date(2026, 1, 1) + timedelta(days=n % 60)).isoformat()
        body.append(f"<Документ><Ид>{prefix}ord-{n}</Ид><Номер>{prefix}ORD-{n}</Номер><Дата>{day}</Дата>"
                    "<ХозОперация>Заказ товара</ХозОперация><Роль>Продавец</Роль><Валюта>руб</Валюта>"
                    f"<Курс>1</Курс><Сумма>0</Сумма><Контрагенты>{buyer}</Контрагенты><Время>10:15:00</Время>"
                    f"<Товары>{''.join(goods)}</Товары>"
                    f"{requisites({'Проведен': 'true', 'НомерВерсии': '1', 'Дата отгрузки по 1С': day + 'T12:00:00'})}"
                    "</Документ>")
    text = ('<?xml version="1.0" encoding="windows-1251"?>\n<КоммерческаяИнформация ВерсияСхемы="2.08" '
            f'ДатаФормирования="2026-03-02T09:00:00">{"".join(body)}</КоммерческаяИнформация>\n')
    return text.encode("cp1251")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=30_000)
    parser.add_argument("--credit-notes", type=int, default=2_000)
    parser.add_argument("--per-document", type=int, default=300,
                        help="credit notes also imported the per-document way (use_bulk=False), as a baseline")
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--orders-per-document", type=int, default=300,
                        help="1C orders (of their own new cards) also applied the per-document way, as a baseline")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of the timed per-document runs to this file")
    parser.add_argument("--database", default="loyalty_bench_documents",
                        help="the scratch database's name (give each concurrent run its own)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    WORK.mkdir(exist_ok=True)
    customers, invoice_file, credit_file, before_file = write_sap(WORK, args.invoices, args.credit_notes,
                                                                  args.per_document, rng)

    url = scratch_database(args.database + os.environ.get("BENCH_SUFFIX", ""))
    app = make_app(url)
    from sqlalchemy import event

    from engine import imports
    from engine.ledger.check import check
    from engine.onec import ExchangeConfig
    from importers.onec.apply import apply_sale
    from importers.onec.commerceml import parse_exchange
    from importers.sap_b1 import pipeline
    from server.extensions import db, session_factory
    publish_accrual(app, program())
    with app.app_context():
        engine = db.engine
    database = session_factory(app)
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
    profiler = None
    if args.profile:
        import cProfile
        profiler = cProfile.Profile()

    def timed(work, profile: bool = False):
        before, start = statements[0], time.perf_counter()
        if profile and profiler:
            profiler.enable()
        result = work()
        if profile and profiler:
            profiler.disable()
        return result, time.perf_counter() - start, statements[0] - before

    def sap(path: Path, kind: str, profile: bool = False, use_bulk: bool = True):
        with database.new_session() as session:
            run, _ = pipeline.register(session, path, kind=kind, actor="bench")
            session.commit()
            run_id = run.id
        return timed(lambda: pipeline.execute(database, run_id, use_bulk=use_bulk), profile)

    result, seconds, _ = sap(customers, "customers")
    print(f"customers:     {result.applied} cards in {seconds:.1f} s ({result.status})")
    invoices, inv_s, inv_q = sap(invoice_file, "invoices")
    notes, notes_s, notes_q = sap(credit_file, "credit_notes", profile=True)
    before, before_s, before_q = sap(before_file, "credit_notes", use_bulk=False) if args.per_document else \
        (None, 0, 0)

    config = ExchangeConfig()
    data = onec_file(args.orders, max(1, args.orders // 4), rng)
    batch, parse_s, _ = timed(lambda: parse_exchange(data, config, origin_name="orders.xml"))

    slow_data = onec_file(args.orders_per_document, max(1, args.orders_per_document // 4), rng, "p", 913)
    slow_batch = parse_exchange(slow_data, config, origin_name="orders-per-document.xml")

    def onec(batch, sha256: str, chunked: bool):
        with database.new_session() as session:
            run, _ = imports.begin_run(session, source="1c", kind="sale", filename="orders.xml", sha256=sha256,
                                       size=len(data), actor="bench", now=datetime.now(UTC))
            report = apply_sale(session, run, batch, actor="bench", checkpoint=lambda d, t: session.commit(),
                                chunked=chunked)
            session.commit()
            return report
    report, onec_s, onec_q = timed(lambda: onec(batch, "bench", True), profile=True)
    slow_report, slow_s, slow_q = timed(lambda: onec(slow_batch, "bench-per-document", False)) \
        if args.orders_per_document else (None, 0, 0)

    set_based = invoices.applied / inv_s
    print(f"invoices:      {invoices.status}, {invoices.applied} documents in {inv_s:6.2f} s  "
          f"{set_based:8,.0f} documents/s  ({inv_q / max(invoices.applied, 1):.1f} statements/document)"
          "   <- baseline: the set-based path")
    rate = notes.applied / notes_s
    print(f"credit notes:  {notes.status}, {notes.applied} documents in {notes_s:6.2f} s  {rate:8,.0f} documents/s"
          f"  ({notes_q / max(notes.applied, 1):.1f} statements/document, {notes.quarantined} quarantined)"
          f"   ratio to set-based {rate / set_based:.2f}")
    if before is not None:
        before_rate = before.applied / before_s
        print(f"  per-document path, same run: {before.applied} documents in {before_s:6.2f} s  "
              f"{before_rate:8,.0f} documents/s  ({before_q / max(before.applied, 1):.1f} statements/document)"
              f"   chunk path / per-document path {rate / before_rate:.1f}x")
    applied = report.counts["documents_applied"]
    onec_rate = applied / onec_s
    print(f"1C orders:     {applied} documents (+{report.counts['customers']} cards) in {onec_s:6.2f} s  "
          f"{onec_rate:8,.0f} documents/s  ({onec_q / max(applied, 1):.1f} statements/document, "
          f"{report.counts['quarantined']} quarantined; parsing {parse_s:.2f} s apart)"
          f"   ratio to set-based {onec_rate / set_based:.2f}")
    if slow_report is not None:
        slow_applied = slow_report.counts["documents_applied"]
        slow_rate = slow_applied / slow_s
        print(f"  per-document path, same run: {slow_applied} documents (+{slow_report.counts['customers']} cards) "
              f"in {slow_s:6.2f} s  {slow_rate:8,.0f} documents/s  ({slow_q / max(slow_applied, 1):.1f} "
              f"statements/document)   chunk path / per-document path {onec_rate / slow_rate:.1f}x")
    print(f"target >= 1,000 documents/s: credit notes {'met' if rate >= 1000 else 'MISSED'}, "
          f"1C orders {'met' if onec_rate >= 1000 else 'MISSED'}")
    if profiler:
        profiler.dump_stats(args.profile)
    with database.new_session() as session:
        violations = check(session)
        print(f"ledger check: {len(violations)} violations")
    ok = notes.status == "done" and not violations and applied == args.orders and notes.applied == args.credit_notes
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
