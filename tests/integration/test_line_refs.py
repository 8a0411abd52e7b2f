"""Document lines' document and lots' account and entry exist (PostgreSQL: statement triggers, not per-row
foreign keys), and the documents and accounts they refer to stay while referred to (0020)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine import ledger, members
from engine.ledger.check import check
from engine.models import Document, DocumentLine
from tests.conftest import T0, D


def _written(session):
    """A member with a document of one line and a credited lot: (account, document, line, lot, entry) ids."""
    member = members.create(session, {"name": "Line refs"}, now=T0)
    document = Document(source="test", external_id="refs-1", document_type="invoice", member_id=member.id,
                        account_id=member.account_id, currency="PLN", placed_at=T0, status="fulfilled")
    session.add(document)
    session.flush()
    line = DocumentLine(document_id=document.id, line_no=1, sku="SKU-1", quantity=D("1"), unit_price=D("2"),
                        line_total=D("2"))
    session.add(line)
    account = ledger.lock_account(session, member.account_id)
    ledger.credit(session, account, kind="adjustment", key="line-refs:1", actor="test", now=T0,
                  lots=[ledger.LotSpec(D("10"), T0, None)], member_id=member.id)
    session.commit()
    lot, entry = session.execute(sa.text("SELECT l.id, l.entry_id FROM lots l JOIN ledger_entries e ON e.id = "
                                         "l.entry_id WHERE e.idempotency_key = 'line-refs:1'")).one()
    return member.account_id, document.id, line.id, lot, entry


def _violations(session, invariant):
    return [v.subject for v in check(session) if v.invariant == invariant]


def test_written_lines_and_lots_pass_and_the_check_finds_nothing(pg_session):
    _written(pg_session)
    assert _violations(pg_session, "lot_refs") == _violations(pg_session, "document_line_refs") == []
    foreign_keys = pg_session.execute(sa.text(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid IN "
        "('document_lines'::regclass, 'lots'::regclass)")).scalars().all()
    assert foreign_keys == []  # the statement triggers check them instead


def test_a_line_of_a_missing_document_is_refused_by_its_statement(pg_session):
    _written(pg_session)
    with pytest.raises(IntegrityError, match=r"refers to a row that does not exist \(document 1000000000000\)"):
        pg_session.execute(sa.text(
            "INSERT INTO document_lines (document_id, line_no, sku, name, product_group, brand, quantity, unit_price, "
            "line_total, is_promo, returned_quantity, returned_total) "
            "VALUES (10^12, 1, 'X', '', '', '', 1, 1, 1, false, 0, 0)"))


def test_one_missing_document_among_many_lines_of_a_statement_is_refused(pg_session):
    _account, document, *_ = _written(pg_session)
    with pytest.raises(IntegrityError, match=r"\(document 1000000000000\)"):
        pg_session.execute(sa.text(
            "INSERT INTO document_lines (document_id, line_no, sku, name, product_group, brand, quantity, unit_price, "
            "line_total, is_promo, returned_quantity, returned_total) "
            "SELECT CASE WHEN g = 500 THEN 10^12 ELSE :d END, g + 1, 'X', '', '', '', 1, 1, 1, false, 0, 0 "
            "FROM generate_series(1, 1000) g"), {"d": document})


@pytest.mark.parametrize("column", ["account_id", "entry_id"])
def test_a_lot_of_a_missing_account_or_entry_is_refused_by_its_statement(pg_session, column):
    account, _document, _line, _lot, entry = _written(pg_session)
    values = {"account_id": account, "entry_id": entry, column: 10**12}
    with pytest.raises(IntegrityError, match="refers to a row that does not exist"):
        pg_session.execute(sa.text("INSERT INTO lots (account_id, entry_id, amount, remaining, available_at) "
                                   "VALUES (:account_id, :entry_id, 1, 1, now())"), values)


@pytest.mark.parametrize(("statement", "message"), [
    ("UPDATE document_lines SET document_id = 10^12 WHERE id = :line", "document_lines row .* documents row"),
    ("UPDATE lots SET account_id = 10^12 WHERE id = :lot", "lots row .* accounts row"),
    ("UPDATE lots SET entry_id = 10^12 WHERE id = :lot", "lots row .* ledger_entries row"),
])
def test_a_line_or_lot_moved_to_a_missing_row_is_refused(pg_session, statement, message):
    _account, _document, line, lot, _entry = _written(pg_session)
    with pytest.raises(IntegrityError, match=message):
        pg_session.execute(sa.text(statement), {"line": line, "lot": lot})


def test_updates_that_keep_the_references_pass(pg_session):
    account, document, line, lot, entry = _written(pg_session)
    pg_session.execute(sa.text("UPDATE lots SET matured_at = now(), account_id = :a, entry_id = :e WHERE id = :lot"),
                       {"a": account, "e": entry, "lot": lot})
    pg_session.execute(sa.text("UPDATE document_lines SET returned_quantity = 1, document_id = :d WHERE id = :line"),
                       {"d": document, "line": line})
    pg_session.commit()


def test_a_document_with_lines_is_not_deleted_and_one_without_is(pg_session):
    account, document, line, _lot, _entry = _written(pg_session)
    with pytest.raises(IntegrityError, match="documents rows are referred to by document_lines row"):
        pg_session.execute(sa.text("DELETE FROM documents WHERE id = :d"), {"d": document})
    pg_session.rollback()
    pg_session.execute(sa.text("DELETE FROM document_lines WHERE id = :line"), {"line": line})
    pg_session.execute(sa.text("DELETE FROM documents WHERE id = :d"), {"d": document})
    pg_session.commit()


def test_an_account_with_lots_is_not_deleted(pg_session):
    _account, _document, _line, _lot, entry = _written(pg_session)
    bare = pg_session.execute(sa.text("INSERT INTO accounts (owner_type, debt, created_at) "
                                      "VALUES ('company', 0, now()) RETURNING id")).scalar_one()
    pg_session.execute(sa.text("INSERT INTO lots (account_id, entry_id, amount, remaining, available_at) "
                               "VALUES (:a, :e, 1, 1, now())"), {"a": bare, "e": entry})
    with pytest.raises(IntegrityError, match="accounts rows are referred to by lots row"):
        pg_session.execute(sa.text("DELETE FROM accounts WHERE id = :a"), {"a": bare})


def test_the_check_names_a_line_and_a_lot_whose_reference_is_missing(pg_session):
    _account, _document, line, lot, _entry = _written(pg_session)
    pg_session.execute(sa.text("ALTER TABLE document_lines DISABLE TRIGGER document_line_refs_update"))
    pg_session.execute(sa.text("ALTER TABLE lots DISABLE TRIGGER lot_refs_update"))
    pg_session.execute(sa.text("UPDATE document_lines SET document_id = 10^12 WHERE id = :line"), {"line": line})
    pg_session.execute(sa.text("UPDATE lots SET entry_id = 10^12 WHERE id = :lot"), {"lot": lot})
    assert _violations(pg_session, "document_line_refs") == [f"document line {line}"]
    assert _violations(pg_session, "lot_refs") == [f"lot {lot}"]
    pg_session.rollback()  # the triggers are enabled again with the rollback
