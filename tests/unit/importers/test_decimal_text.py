"""The import's COPY text and fingerprints write Decimals with ``!s``: it must be the text ``format(d, "")`` gave."""
import random
from decimal import Decimal

from importers.sap_b1.values import make_decimal_parser

QUANT = Decimal("0.0001")


def _values():
    rng = random.Random(7)
    parse = make_decimal_parser(",")
    fixed = ["0", "-0", "0,00", "1", "-1", "12,5", "1 234,50", "99999999999999,9999", "0,0001", "0,00001", "1e3",
             "2,5E-7", "-3E+2", "100000000000000000000000"]
    texts = fixed + [f"{rng.randint(-10**9, 10**9)},{rng.randint(0, 99):02d}" for _ in range(2000)]
    for text in texts:
        value = parse(text, "LineTotal")
        yield value
        yield value.quantize(QUANT)
    for _ in range(2000):
        yield Decimal(rng.randint(-10**20, 10**20)).scaleb(rng.randint(-30, 30))


def test_str_is_the_text_format_gives():
    values = list(_values())
    assert len(values) > 6000
    mismatched = [v for v in values if f"{v!s}" != f"{v}"]
    assert mismatched == []
