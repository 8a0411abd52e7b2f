"""Benchmark: what the list words cost: ``line_tags`` and ``order_codes`` conditions against scalar ones.

Two 12-rule accrual programs of the same shape over the same random documents (1-10 lines, each
product with 0-3 tags, orders with 0-2 codes): one tests tags and codes (``line_tags``
shares_at_least_one_element_with / contains_all / shares_no_elements_with, ``order_codes`` contains),
the baseline tests one text per line and per order (``brand`` / ``store`` equal_to_case_insensitive, the
same case-blind comparison). Prints lines per second of the compiled evaluator for both and the ratio
(1.0 = the lists cost nothing more), and the business-rules reference on the list program (its points
must be identical). Usage:

    .venv/bin/python bench/bench_vocab.py [--lines 20000] [--seed 1] [--rounds 3]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import rules  # noqa: E402
from rules.facts import DocumentFacts, LineFacts, MemberFacts  # noqa: E402

TAGS = ["eco", "new", "sale", "bestseller", "pro", "outlet", "energy-saving", "bundle"]
CODES = ["LATO2026", "VIP10", "FREESHIP", "BLACKFRIDAY"]


def _rule(rule_id, scope, condition, action):
    return {"id": rule_id, "scope": scope, "conditions": {"all": [condition]}, "actions": [action]}


def programs() -> tuple[dict, dict]:
    """(list program, scalar baseline) with the same rules, actions and priorities."""
    earn = {"name": "earn_per_amount", "params": {"points": 1, "amount": 10}}
    base = {"id": "base", "scope": "line", "priority": 100, "actions": [earn]}
    lists, scalars = [base], [base]
    for n, tag in enumerate(TAGS):
        action = {"name": "earn_per_unit", "params": {"points": n + 1}}
        operator, value = [("shares_at_least_one_element_with", [tag, TAGS[n - 1]]), ("contains_all", [tag]),
                           ("shares_no_elements_with", [tag])][n % 3]
        lists.append(_rule(f"tag-{n}", "line", {"name": "line_tags", "operator": operator, "value": value}, action))
        scalars.append(_rule(f"tag-{n}", "line", {"name": "brand", "operator": "equal_to_case_insensitive",
                                                  "value": tag}, action))
    for n, code in enumerate(CODES[:3]):
        action = {"name": "earn_fixed", "params": {"points": 10 * (n + 1)}}
        lists.append(_rule(f"code-{n}", "document", {"name": "order_codes", "operator": "contains", "value": code},
                           action))
        scalars.append(_rule(f"code-{n}", "document", {"name": "store", "operator": "equal_to_case_insensitive",
                                                       "value": code}, action))
    return {"policy": "accrual", "rules": lists}, {"policy": "accrual", "rules": scalars}


def documents(lines: int, rng: random.Random) -> list[DocumentFacts]:
    out, made = [], 0
    while made < lines:
        count = min(rng.randint(1, 10), lines - made)
        doc_lines = []
        for i in range(count):
            tags = tuple(rng.sample(TAGS, rng.randint(0, 3)))
            quantity = Decimal(rng.randint(1, 5))
            price = Decimal(rng.randint(100, 50_000)) / 100
            doc_lines.append(LineFacts(line_id=str(i + 1), sku=f"S{rng.randint(1, 500)}", brand=rng.choice(TAGS),
                                       quantity=quantity, unit_price=price, line_total=quantity * price,
                                       line_tags=tags))
        codes = tuple(rng.sample(CODES, rng.randint(0, 2)))
        out.append(DocumentFacts(lines=tuple(doc_lines), store=rng.choice(CODES), codes=codes,
                                 placed_at=datetime(2026, 3, 2, 10, tzinfo=UTC)))
        made += count
    return out


def _matches_per_line(compiled, docs, member, settings) -> float:
    """Rules matched per line (document rules counted too): the work the actions do besides the conditions."""
    matched = lines = 0
    for doc in docs:
        result = rules.evaluate_accrual(compiled, doc, member, settings)
        lines += len(result.lines)
        matched += sum(len(line.rules) for line in result.lines) + len(result.document_rules)
    return matched / lines


def _rate(evaluate, docs, lines: int, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for doc in docs:
            evaluate(doc)
        best = max(best, lines / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    docs = documents(args.lines, random.Random(args.seed))
    member, settings = MemberFacts(), rules.DEFAULT_SETTINGS
    list_doc, scalar_doc = programs()
    list_policy, scalar_policy = rules.validate_policy(list_doc), rules.validate_policy(scalar_doc)
    compiled_lists = rules.compile_policy(list_policy, version=1)
    compiled_scalars = rules.compile_policy(scalar_policy, version=1)
    lists = _rate(lambda d: rules.evaluate_accrual(compiled_lists, d, member, settings), docs, args.lines,
                  args.rounds)
    scalars = _rate(lambda d: rules.evaluate_accrual(compiled_scalars, d, member, settings), docs, args.lines,
                    args.rounds)
    sample = docs[: max(1, len(docs) // 10)]
    sample_lines = sum(len(d.lines) for d in sample)
    reference = _rate(lambda d: rules.reference_accrual(list_policy, d, member, settings), sample, sample_lines, 1)
    same = all(rules.evaluate_accrual(compiled_lists, d, member, settings).points
               == rules.reference_accrual(list_policy, d, member, settings) for d in sample)
    print(f"documents: {len(docs)}, lines: {args.lines}")
    print(f"compiled, tags and codes:    {lists:,.0f} lines/s ({1e6 / lists:.1f} µs/line)")
    print(f"compiled, one text (baseline): {scalars:,.0f} lines/s ({1e6 / scalars:.1f} µs/line)")
    print(f"ratio lists / baseline: {lists / scalars:.2f} (rules matched per line: "
          f"{_matches_per_line(compiled_lists, docs, member, settings):.1f} vs "
          f"{_matches_per_line(compiled_scalars, docs, member, settings):.1f})")
    print(f"business-rules reference, tags and codes: {reference:,.0f} lines/s "
          f"(compiled {lists / reference:.1f}× it); identical points on {len(sample)} documents: {same}")
    if not same:
        raise SystemExit("the compiled evaluator and the reference disagree")


if __name__ == "__main__":
    main()
