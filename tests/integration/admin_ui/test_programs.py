"""The Programs pages of the admin UI (PostgreSQL and SQLite): promo batches generated, exported and
deactivated; the reward catalog edited and a reward order moved on and cancelled (the points come back);
tiers with a pin; missions with their counts. Viewers read only; a write without its CSRF token is refused."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

import rules
from engine import clock
from engine.models import Member, PromoBatch, PromoCode, Reward, TierChange
from server.extensions import db
from tests.integration.test_rewards import balance, catalog_file, enrol, order, stock, upload


def test_generate_export_and_deactivate_a_promo_batch(app, as_role):
    marketer = as_role("marketer")
    page = marketer.get("/admin/programs/promo-codes")
    assert page.status_code == 200 and "No batches yet." in page.text and 'for="count"' in page.text
    made = marketer.post("/admin/programs/promo-codes", {"name": "Farby 2026", "pattern": "FRB-####", "count": "25",
                                                         "points": "50"}, follow_redirects=True)
    assert made.status_code == 200 and "holds 25 codes" in made.text
    assert "Farby 2026" in made.text and "<code>FRB-####</code>" in made.text
    with app.app_context():
        batch = db.session().execute(select(PromoBatch)).scalar_one()
        batch_id = batch.id
        assert (batch.code_count, batch.active, batch.created_by) == (25, True, "admin:marketer@example.com")

    exported = marketer.get(f"/admin/programs/promo-codes/{batch_id}/codes.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    lines = exported.text.splitlines()
    assert lines[0] == "code,batch,redeemed" and len(lines) == 26
    assert all(line.startswith("FRB-") and line.endswith(',"Farby 2026",no') for line in lines[1:])

    assert marketer.client.post(f"/admin/programs/promo-codes/{batch_id}/deactivate").status_code == 400  # no CSRF
    with app.app_context():
        assert db.session().get(PromoBatch, batch_id).active is True
    done = marketer.post(f"/admin/programs/promo-codes/{batch_id}/deactivate", follow_redirects=True)
    assert "is deactivated" in done.text and 'class="badge blocked"' in done.text
    with app.app_context():
        assert db.session().get(PromoBatch, batch_id).active is False


def test_a_refused_generate_shows_the_engines_message_at_the_field_and_changes_nothing(app, as_role):
    marketer = as_role("marketer")
    marketer.get("/admin/programs/promo-codes")
    refused = marketer.post("/admin/programs/promo-codes", {"name": "Za mało", "pattern": "A-#", "count": "100"})
    assert refused.status_code == 422
    assert 'id="count-error"' in refused.text and "can hold only" in refused.text
    assert 'aria-describedby="count-error"' in refused.text
    bad = marketer.post("/admin/programs/promo-codes", {"name": "Zły", "pattern": "AB!#", "count": "1"})
    assert bad.status_code == 422 and 'id="pattern-error"' in bad.text
    backwards = marketer.post("/admin/programs/promo-codes", {"name": "Wstecz", "pattern": "W-####", "count": "1",
                                                              "valid_from": "2026-06-02T00:00",
                                                              "valid_until": "2026-06-01T00:00"})
    assert backwards.status_code == 422 and 'id="valid_until-error"' in backwards.text
    with app.app_context():
        assert db.session().execute(select(func.count()).select_from(PromoBatch)).scalar_one() == 0
        assert db.session().execute(select(func.count()).select_from(PromoCode)).scalar_one() == 0
    summer = marketer.post("/admin/programs/promo-codes", {"name": "Lato", "pattern": "L-####", "count": "2",
                                                           "valid_from": "2026-06-01T00:00",
                                                           "valid_until": "2026-09-01T00:00"})
    assert summer.status_code == 302
    with app.app_context():
        batch = db.session().execute(select(PromoBatch)).scalar_one()
        # Read in the program's time zone (Europe/Warsaw, CEST in summer), stored in UTC.
        assert (batch.valid_from.isoformat(), batch.valid_until.isoformat()) == (
            "2026-05-31T22:00:00+00:00", "2026-08-31T22:00:00+00:00")


def test_viewer_reads_the_programs_and_gets_403_on_every_write(app, as_role):
    with app.app_context():
        from engine.engagement import promo_codes
        batch = promo_codes.generate(db.session(), "B", "B-###", 3, actor="test", now=clock.now())
        db.session().commit()
        batch_id = batch.id
    viewer = as_role("viewer")
    for url in ("/admin/programs/promo-codes", "/admin/programs/rewards", "/admin/programs/reward-orders",
                "/admin/programs/tiers", "/admin/programs/missions"):
        page = viewer.get(url)
        assert page.status_code == 200, url
        assert "<form method=\"post\" action=\"/admin/programs" not in page.text, url
    assert 'href="/admin/programs/promo-codes"' in viewer.get("/admin/").text  # the nav entry
    for url, data in (("/admin/programs/promo-codes", {"name": "x", "pattern": "X-###", "count": "1"}),
                      (f"/admin/programs/promo-codes/{batch_id}/deactivate", {}),
                      ("/admin/programs/rewards/1", {"stock": "1"}),
                      ("/admin/programs/reward-orders/RO-1/status", {"status": "cancelled"}),
                      ("/admin/programs/tiers/assign", {"member": "x", "tier": "gold"})):
        assert viewer.post(url, data).status_code == 403, url
    assert viewer.get(f"/admin/programs/promo-codes/{batch_id}/codes.csv").status_code == 403
    assert viewer.get("/admin/programs/reward-orders/export.csv").status_code == 403
    with app.app_context():
        assert db.session().execute(select(func.count()).select_from(PromoBatch)).scalar_one() == 1
        assert db.session().get(PromoBatch, batch_id).active is True


def test_rewards_edited_and_an_order_moved_on_then_cancelled_refunds(app, client, keys, as_role):
    upload(client, keys["erp"], catalog_file("R1;Kubek;900;;PLN;;100", "R2;Plecak;900;;PLN;;250"))
    stock(client, keys, "R1", 5)
    anna = enrol(client, keys, "anna", points="1000")
    assert order(client, keys, "RO-1", anna, [("R1", 2)]).status_code == 201
    assert order(client, keys, "RO-2", anna, [("R2", 1)]).status_code == 201
    assert balance(client, keys, anna) == "550"

    with app.app_context():
        from engine.models import RewardPicture
        backpack = db.session().execute(select(Reward).where(Reward.sku == "R2")).scalar_one()
        db.session().add(RewardPicture(reward_id=backpack.id, source_url="https://cdn.example/p.png", state="stored",
                                       content_type="image/png", data=b"\x89PNG fake", sha256="ab" * 32))
        db.session().commit()
        backpack_id = backpack.id
    marketer = as_role("marketer")
    catalog = marketer.get("/admin/programs/rewards")
    thumb = f'src="/api/v1/rewards/{backpack_id}/picture?v=abababababab"'
    assert thumb in catalog.text and catalog.text.count('class="thumb"') == 1  # our own copy, never the source's URL
    assert marketer.client.get(f"/api/v1/rewards/{backpack_id}/picture").data == b"\x89PNG fake"
    assert catalog.status_code == 200 and "Kubek" in catalog.text and "Plecak" in catalog.text
    with app.app_context():
        mug = db.session().execute(select(Reward).where(Reward.sku == "R1")).scalar_one()
        mug_id = mug.id
    assert f'id="stock-{mug_id}"' in catalog.text and 'for="price-' in catalog.text
    saved = marketer.post(f"/admin/programs/rewards/{mug_id}", {"points_price": "120", "stock": "7"},
                          follow_redirects=True)
    assert saved.status_code == 200 and "Kubek is saved." in saved.text
    refused = marketer.post(f"/admin/programs/rewards/{mug_id}", {"points_price": "0.5", "stock": "7"})
    assert refused.status_code == 422 and "decimal places" in refused.text
    negative = marketer.post(f"/admin/programs/rewards/{mug_id}", {"points_price": "120", "stock": "-1"})
    assert negative.status_code == 422
    with app.app_context():
        mug = db.session().get(Reward, mug_id)
        assert (mug.points_price, mug.stock, mug.points_manual) == (120, 7, True)

    listed = marketer.get("/admin/programs/reward-orders?status=placed")
    assert listed.status_code == 200 and "RO-1" in listed.text and "RO-2" in listed.text
    for status in ("confirmed", "shipped"):
        moved = marketer.post("/admin/programs/reward-orders/RO-1/status", {"status": status}, follow_redirects=True)
        assert f"RO-1 is {status}" in moved.text
    assert "RO-1" not in marketer.get("/admin/programs/reward-orders?status=placed").text
    late = marketer.post("/admin/programs/reward-orders/RO-1/status", {"status": "cancelled"}, follow_redirects=True)
    assert "cannot become cancelled" in late.text  # shipped: the engine refuses

    assert marketer.client.post("/admin/programs/reward-orders/RO-2/status",
                                data={"status": "cancelled"}).status_code == 400  # no CSRF token
    assert balance(client, keys, anna) == "550"
    cancelled = marketer.post("/admin/programs/reward-orders/RO-2/status", {"status": "cancelled"},
                              follow_redirects=True)
    assert "RO-2 is cancelled" in cancelled.text
    assert balance(client, keys, anna) == "800"  # the 250 points are back
    again = marketer.post("/admin/programs/reward-orders/RO-2/status", {"status": "cancelled"})
    assert again.status_code == 302 and balance(client, keys, anna) == "800"  # refunded once

    shipping = marketer.get("/admin/programs/reward-orders/export.csv?status=shipped")
    assert shipping.status_code == 200 and shipping.mimetype == "text/csv"
    assert "RO-1" in shipping.text and "RO-2" not in shipping.text
    assert marketer.get("/admin/programs/reward-orders?status=nope").status_code == 400
    assert marketer.post("/admin/programs/reward-orders/RO-9/status", {"status": "confirmed"}).status_code == 404
    assert marketer.post("/admin/programs/reward-orders/RO-2/status", {"status": "lost"}).status_code == 400
    assert marketer.post("/admin/programs/rewards/999999", {"stock": "1"}).status_code == 404


def test_tiers_page_counts_changes_and_an_admin_pin(app, client, keys, publish, as_role, monkeypatch):
    publish(rules.default_policies()["tier"])
    anna = enrol(client, keys, "anna")
    admin = as_role("admin")
    page = admin.get("/admin/programs/tiers")
    assert page.status_code == 200 and "partner" in page.text and "No tier changes recorded yet." in page.text
    until = (clock.now() + timedelta(days=30)).date().isoformat()
    no_date = admin.post("/admin/programs/tiers/assign", {"member": anna, "tier": "gold"})
    assert no_date.status_code == 422 and 'id="until-error"' in no_date.text
    unknown = admin.post("/admin/programs/tiers/assign", {"member": "L999", "tier": "gold", "until": until})
    assert unknown.status_code == 422 and 'id="member-error"' in unknown.text
    pinned = admin.post("/admin/programs/tiers/assign", {"member": anna, "tier": "gold", "until": until,
                                                          "note": "negotiated"}, follow_redirects=True)
    assert pinned.status_code == 200 and f"{anna} is now in the tier gold" in pinned.text
    assert "negotiated" in pinned.text and "pinned by an admin" in pinned.text
    invited = admin.post("/admin/programs/tiers/assign", {"member": anna, "tier": "partner"}, follow_redirects=True)
    assert "partner" in invited.text and "invitation" in invited.text
    with app.app_context():
        session = db.session()
        assert session.execute(select(Member.tier).where(Member.loyalty_id == anna)).scalar_one() == "partner"
        assert [c.reason for c in session.execute(select(TierChange).order_by(TierChange.id)).scalars()] == [
            "pin", "invitation"]
    holders = admin.get("/admin/programs/tiers/partner")
    assert holders.status_code == 200 and "1 members" in holders.text
    assert anna in holders.text.split('id="tier-members"')[1] and "admin:admin@example.com" in holders.text
    assert "Nobody holds this tier." in admin.get("/admin/programs/tiers/gold").text
    bob = enrol(client, keys, "bob")
    admin.post("/admin/programs/tiers/assign", {"member": bob, "tier": "partner"})
    from admin_ui import tiers_admin
    monkeypatch.setattr(tiers_admin, "PER_PAGE", 1)
    first = admin.get("/admin/programs/tiers/partner").text
    assert "2 members" in first and 'href="/admin/programs/tiers/partner?page=2" rel="next"' in first
    second = admin.get("/admin/programs/tiers/partner?page=2").text.split('id="tier-members"')[1]
    assert max(anna, bob) in second and min(anna, bob) not in second and 'rel="prev"' in second
    assert 'href="/admin/programs/tiers/partner"' in admin.get("/admin/programs/tiers").text
    marketer = as_role("marketer")
    assert "Pin a member" not in marketer.get("/admin/programs/tiers").text
    assert marketer.post("/admin/programs/tiers/assign", {"member": anna, "tier": ""}).status_code == 403


def test_missions_page_lists_participants_and_completions(app, client, keys, publish, as_role):
    from engine.engagement import missions
    publish(rules.default_policies()["mission"])
    anna = enrol(client, keys, "anna")
    now = clock.now()
    with app.app_context():
        session = db.session()
        mission = missions.define(session, {"code": "tools-5", "name": "Five tools", "rule_id": "tools-count",
                                            "metric": "quantity", "target": 5, "reward_points": 50,
                                            "period": "fixed", "enrolment": "join",
                                            "starts_at": now - timedelta(days=1), "ends_at": None}, now=now)
        missions.join(session, mission, session.execute(select(Member).where(Member.loyalty_id == anna)).scalar_one(),
                      now=now)
        session.commit()
    page = as_role("viewer").get("/admin/programs/missions")
    assert page.status_code == 200 and "Five tools" in page.text and "members join" in page.text
    row = page.text.split("tools-5")[1].split("</tr>")[0]
    assert [cell.split("</td>")[0] for cell in row.split('<td class="num">')[3:]] == ["1", "0", "0"]


def test_the_programs_pages_speak_polish(app, as_role):
    marketer = as_role("marketer")
    marketer.get("/admin/programs/promo-codes")
    marketer.post("/admin/locale", {"locale": "pl"})
    page = marketer.get("/admin/programs/promo-codes")
    assert "Partie kodów promocyjnych" in page.text and "Wygeneruj partię" in page.text and ">Programy<" in page.text
    assert "Zamówienia nagród" in marketer.get("/admin/programs/reward-orders").text
