"""`members.resolve` on each backend: every kind of reference, merges followed, what the session holds
refreshed as a query's loading refreshes it, and on PostgreSQL one statement (the driver's cursor)."""
from __future__ import annotations

from sqlalchemy import event, update

from engine import members
from engine.models import Member
from engine.models.bulk import is_postgres


def _statements(session, run):
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        return run(), seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_each_kind_of_reference_finds_its_member(session):
    ola = members.create(session, {"name": "Ola", "ext_id": "shop-7", "erp_code": "C0042",
                                   "phone": "+48 601 234 567"})
    members.create(session, {"name": "Ewa"})
    session.commit()
    for ref in (ola.loyalty_id, "ext:shop-7", "erp:C0042", "phone:601234567", "phone:+48601234567"):
        assert members.resolve(session, ref) is ola, ref
    for ref in ("", "L000000000", "ext:nobody", "erp:", "phone:12", "nonsense:shop-7"):
        assert members.resolve(session, ref) is None, ref


def test_a_merged_away_member_answers_for_the_one_it_was_merged_into(session):
    source = members.create(session, {"name": "Old card", "ext_id": "old"})
    middle = members.create(session, {"name": "Middle"})
    target = members.create(session, {"name": "Target"})
    session.flush()
    source.merged_into_id, middle.merged_into_id = middle.id, target.id
    session.commit()
    session.expunge_all()
    found = members.resolve(session, "ext:old")
    assert (found.id, found.name) == (target.id, "Target")
    if is_postgres(session):  # resolve_with leaves a merged-away member to the caller's one-at-a-time path
        assert members.resolve_with(session, "ext:old", (), {}) is None


def test_the_sessions_member_is_refreshed_where_expired_and_kept_where_changed(session):
    ola = members.create(session, {"name": "Ola", "email": "ola@example.com"})
    session.commit()
    loyalty_id = ola.loyalty_id
    # Changed behind the session's back, then expired there: the lookup's row is what the object shows.
    session.execute(update(Member).where(Member.id == ola.id).values(name="Aleksandra"))
    session.commit()
    found = members.resolve(session, loyalty_id)
    assert found is ola and found.name == "Aleksandra"
    # A change in the session that is not flushed yet is flushed first and kept (autoflush).
    ola.email = "a@example.com"
    assert members.resolve(session, loyalty_id).email == "a@example.com"
    session.rollback()
    assert members.resolve(session, loyalty_id).email == "ola@example.com"


def test_one_statement_a_lookup(session):
    ola = members.create(session, {"name": "Ola", "erp_code": "C7"})
    session.commit()
    found, seen = _statements(session, lambda: members.resolve(session, "erp:C7"))
    assert found is ola
    assert len(seen) == 1, seen
    assert "members.erp_code" in seen[0]
