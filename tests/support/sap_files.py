"""Generated SAP Business One exports for tests and benchmarks (cp1250, decimal commas, quoted fields)."""
from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

INVOICE_HEADER = ("DocEntry;DocNum;DocDate;CardCode;DocCur;LineNum;ItemCode;Dscription;ItmsGrpCod;Quantity;Price;"
                  "LineTotal;CANCELED")
_NAMES = ("Rura miedziana 15 mm", 'Zawór kulowy 1/2"', "Kolano ocynkowane", "Złączka PEX; 16 mm",
          "Grzejnik łazienkowy", "Uszczelka gumowa")


def _money(cents: int, thousands: str) -> str:
    whole = f"{cents // 100:,}".replace(",", thousands)
    return f"{whole},{cents % 100:02d}"


def write_invoices(path: Path, lines: int, *, seed: int = 1, customers: int = 50_000, thousands: str = " ",
                   encoding: str = "cp1250", max_lines_per_document: int = 19) -> Decimal:
    """Write an invoice export of ``lines`` document lines (CRLF, ``;``); return the sum of LineTotal.

    Names with ``;`` or ``"`` are quoted as SAP/Excel do; totals use ``thousands``
    as the grouping separator (" " by default, "" for none).
    """
    rng = random.Random(seed)
    total = 0
    written = 0
    entry = 0
    with open(path, "w", encoding=encoding, newline="") as out:
        out.write(INVOICE_HEADER + "\r\n")
        while written < lines:
            entry += 1
            day = f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            card = f"C{rng.randint(1, customers):05d}"
            for line_num in range(min(rng.randint(1, max_lines_per_document), lines - written)):
                quantity, price = rng.randint(1, 50), rng.randint(100, 500_000)
                name = rng.choice(_NAMES)
                if ";" in name or '"' in name:
                    name = '"' + name.replace('"', '""') + '"'
                total += quantity * price
                out.write(f"{entry};{100000 + entry};{day};{card};PLN;{line_num};IT{rng.randint(1, 9999):04d};"
                          f"{name};{rng.randint(100, 130)};{quantity};{_money(price, thousands)};"
                          f"{_money(quantity * price, thousands)};N\r\n")
                written += 1
    return Decimal(total) / 100


def documents_of(rows) -> list:
    """Rows gathered by document key, as the pipeline's staging does, then each made whole (`grouping`).

    Rows without a document key (skipped rows, unreadable records) stay where
    they came; a document stands where its first row came.
    """
    from engine.domain import RowError
    from importers.sap_b1 import InvoiceRow
    from importers.sap_b1.grouping import whole_document

    order, keyed = [], {}
    for row in rows:
        if isinstance(row, InvoiceRow):
            key = row.doc_key
        elif isinstance(row, RowError):
            key = row.extra.get("doc_key")
        else:
            key = None
        if key is None:
            order.append(row)
            continue
        if key not in keyed:
            keyed[key] = ([], [])
            order.append(key)
        keyed[key][0 if isinstance(row, InvoiceRow) else 1].append(row)
    return [out for item in order
            for out in (whole_document(item, *keyed[item]) if isinstance(item, str) else (item,))]
