"""SAP B1 sample files for the import tests: cp1250, decimal commas, quoted ``;``, blank lines, bad rows.

Dates are a few days back from today, so the points are available (no
holding period) and not yet expired when the tests read balances.
"""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

CUSTOMERS_HEADER = "CardCode;CardName;LicTradNum;Phone1;Cellular;E_Mail;GroupCode;CreateDate"
INVOICES_HEADER = ("DocEntry;DocNum;DocDate;CardCode;DocCur;LineNum;ItemCode;Dscription;ItmsGrpCod;Quantity;Price;"
                   "LineTotal")
CREDIT_HEADER = INVOICES_HEADER + ";BaseType;BaseEntry;BaseLine"


def day(days_ago: int) -> str:
    return (date.today() - timedelta(days=days_ago)).strftime("%Y%m%d")


def write(path: Path, header: str, rows: list[str], encoding: str = "cp1250") -> Path:
    path.write_bytes((header + "\r\n" + "".join(r + "\r\n" for r in rows)).encode(encoding))
    return path


CUSTOMER_ROWS = [
    'C001;"Hurtownia Łódź; Sp. z o.o.";7251234567;;601 234 567;biuro@lodz.pl;100;20230115',
    "C002;Zakład Hydrauliczny Żółw;;+48 22 123 45 67;;zolw@example.pl;100;15.03.2023",
    "",
    "C003;Instalacje Śląsk;;;;;200;20230301",
    ";Bez kodu;;;;;100;20230101",
    "C005;Zła data;;;;;100;20231340",
]
# file line numbers (the header is line 1): C001=2, C002=3, blank=4, C003=5, no key=6, bad date=7


def invoice_rows() -> list[str]:
    """Points with ACCRUAL_BASIC (1 per full 10 PLN of a line, group 110 ×2, rounded down per document):
    C001: doc 1 = 246×2 + 10 = 502; C002: doc 4 = 199 + 1×2 = 201; C003: doc 6 = 0."""
    d1, d2, d3 = day(9), day(8), day(7)
    return [
        f'1;1001;{d1};C001;PLN;0;RM-15;"Rura miedziana; 15 mm";110;2;1 234,50;2 469,00',  # line 2
        f'1;1001;{d1};C001;PLN;1;ZK-12;"Zawór kulowy 1/2"" mosiądz";120;3;34,80;104,40',  # line 3
        "",  # line 4
        f"2;1002;{d2};C002;PLN;0;KL-1;Kolano;120;12,3,4;1,00;1,00",  # line 5: unparseable number
        f"2;1002;{d2};C002;PLN;1;KL-2;Kolano 2;120;1;55,00;55,00",  # line 6: held back with its document
        f"3;1003;{d2};C009;PLN;0;KL-1;Kolano;120;1;99,99;99,99",  # line 7: unknown customer
        f"4;1004;{d3};C002;PLN;0;GR-9;Grzejnik łazienkowy;130;1;1 999,99;1 999,99",  # line 8
        f"5;1005;{d3};;PLN;0;GR-9;Grzejnik;130;1;1,00;1,00",  # line 9: missing key CardCode
        "   ",  # line 10: blank
        f"4;1004;{d3};C002;PLN;1;GR-10;Zawór;110;1;15,50;15,50",  # line 11: doc 4 again, not next to it
        f"6;1006;{d3};C003;PLN;0;X-1;Drobne;110;1;9,99;9,99",  # line 12: earns 0
    ]


def overlapping_rows() -> list[str]:
    """Documents 1 and 4 again (same content) and a new document 7 for C003 (4 points)."""
    rows = [r for r in invoice_rows() if r.startswith(("1;", "4;"))]
    return rows + [f"7;1007;{day(3)};C003;PLN;0;RM-15;Rura;120;4;10,25;41,00"]
