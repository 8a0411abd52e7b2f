"""Full 1C exchange sessions over real HTTP: upload, import, query, success, and the log."""
from __future__ import annotations

import requests
from sqlalchemy import func, select

from engine.models import Document, LedgerEntry, Member, MemberCard
from tests.conftest import auth
from tests.integration.onec import cml
from tests.integration.onec.cml import OneC, card, commerce, item, operations, order, profiles

IVANOV = card("c-001", "Иванов Иван Иванович", "8 (912) 345-67-89", "ivanov@example.ru")
COFFEE = item("coffee-1", "Кофе зерновой «Арабика» 1 кг", "2", "1250.50")


def orders_file(*docs: str) -> bytes:
    return commerce("".join(docs))


def test_full_session_in_chunks_then_nothing_is_sent_twice(onec, app, keys):
    data = orders_file(order("ord-1", IVANOV, [COFFEE], version="1", shipped=True))
    assert len(data) > 900
    client = onec()
    body = client.exchange({"orders-2026.xml": data}, chunk=300)
    assert body.startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
    ops = operations(body)
    assert [(o["kind"], o["accrued"], o["basis"], o["card"]) for o in ops] == \
        [("accrual", "250", "ord-1", "c-001")]
    assert ops[0]["balance"] == "250"
    people = profiles(body)
    assert [(p["id"], p["name"], p["balance"]) for p in people] == \
        [("c-001", "Иванов Иван Иванович", "250")]
    # The next session owes nothing: everything was confirmed.
    again = onec()
    assert again.checkauth()[0] == "success"
    again.init()
    assert operations(again.query()) == [] and profiles(again.query()) == []
    assert again.success() == ["success"]
    # The exchange log shows the session, its file, hash, run and counts.
    sessions = requests.get(again.base + "/api/v1/exchange/1c/sessions",
                            headers=auth(keys["admin"])).json()["sessions"]
    first = sessions[-1]
    assert first["state"] == "done" and first["counts"]["documents_applied"] == 1
    detail = requests.get(f"{again.base}/api/v1/exchange/1c/sessions/{first['id']}",
                          headers=auth(keys["onec"])).json()
    file = detail["files"][0]
    assert (file["name"], file["size"], file["status"]) == ("orders-2026.xml", len(data), "done")
    assert len(file["sha256"]) == 64 and file["import_run_id"]
    assert detail["deliveries"][0]["status"] == "confirmed"
    assert detail["deliveries"][0]["operations"] == 1
    xml = requests.get(f"{again.base}/api/v1/exchange/1c/sessions/{first['id']}?format=xml",
                       headers=auth(keys["admin"]))
    assert xml.headers["Content-Type"].startswith("application/xml")
    assert b"<exchange_session>" in xml.content and b"orders-2026.xml" in xml.content


def test_zipped_upload_in_chunks(onec, app):
    data = orders_file(order("ord-z", IVANOV, [COFFEE], shipped=True))
    client = onec()
    body = client.exchange({"orders.xml": data}, zipped_as="orders.zip", chunk=200)
    assert [o["accrued"] for o in operations(body)] == ["250"]


def test_wrong_password_and_no_session(onec, live, keys, app):
    client = onec()
    assert client.checkauth(password=keys["onec"] + "x")[0] == "failure"
    assert client.checkauth(password=keys["shop"])[0] == "failure"  # another integration's key
    bare = requests.get(live + "/exchange/1c", params={"type": "sale", "mode": "checkauth"})
    assert bare.status_code == 401 and bare.text.startswith("failure\n")
    assert "Basic" in bare.headers["WWW-Authenticate"]
    # Without a session nothing else works, and the answers are failure lines, never HTML.
    for mode in ("init", "query", "success"):
        answer = cml.lines(client.call(mode))
        assert answer[0] == "failure" and "checkauth" in answer[1]
    assert cml.lines(client.call("nonsense"))[0] == "failure"
    assert requests.get(live + "/exchange/1c?type=get_catalog&mode=init").text.startswith("failure")


def test_a_wrong_sessid_is_refused(onec, app):
    client = onec()
    assert client.checkauth()[0] == "success"
    right, client.sessid = client.sessid, "0" * 32
    answer = cml.lines(client.call("init"))
    assert answer[0] == "failure" and "sessid" in answer[1]
    # sessid travels in URLs: on its own (without the cookie) it opens nothing.
    client.sessid, client.cookie = right, None
    answer = cml.lines(client.call("init"))
    assert answer[0] == "failure" and "cookie" in answer[1]


def test_a_session_dropped_before_success_gets_the_same_operations_again(onec, app):
    first = onec()
    body = first.exchange({"o1.xml": orders_file(order("ord-1", IVANOV, [COFFEE], shipped=True))},
                          confirm=False)  # the connection dies: no success
    sent = operations(body)
    assert len(sent) == 1
    second = onec()
    body = second.exchange({"o2.xml": orders_file(order("ord-2", IVANOV, [COFFEE],
                                                        shipped=True))}, confirm=False)
    again = operations(body)
    assert [o["id"] for o in again][:1] == [sent[0]["id"]] and len(again) == 2
    assert second.success() == ["success"]
    third = onec()
    assert third.checkauth()[0] == "success"
    assert operations(third.query()) == []


def test_a_repeated_upload_changes_nothing(onec, app):
    data = orders_file(order("ord-1", IVANOV, [COFFEE], version="2", shipped=True))
    onec().exchange({"orders.xml": data})
    client = onec()
    body = client.exchange({"orders-again.xml": data})
    assert operations(body) == []
    from server.extensions import db
    with app.app_context():
        session = db.session()
        assert session.execute(select(func.count(LedgerEntry.id))).scalar_one() == 1
        assert session.execute(select(func.count(Document.id))).scalar_one() == 1
    log = requests.get(client.base + "/api/v1/exchange/1c/sessions",
                       headers=auth(client.password)).json()["sessions"][0]
    assert log["counts"].get("documents_applied", 0) == 0


def test_windows_1251_bytes_both_ways(onec, app):
    name = "Щукина Ёлка Эдуардовна"
    data = orders_file(order("ord-ё", card("c-ё", name, "+7 912 000-11-22"), [COFFEE],
                             shipped=True))
    assert name.encode("cp1251") in data
    body = onec().exchange({"заказы.xml": data})
    assert name.encode("cp1251") in body  # the answer is windows-1251 too, as declared
    assert profiles(body)[0]["name"] == name
    from server.extensions import db
    with app.app_context():
        member = db.session().execute(select(Member)).scalar_one()
        assert (member.name, member.phone) == (name, "+79120001122")
        assert db.session().execute(select(MemberCard.card_id)).scalar_one() == "c-ё"


def test_progress_via_a_real_worker_then_success(pg_app, redis_url, keys, program, tmp_path):
    """With Redis, `import` answers progress until a worker has imported the file."""
    import os
    import subprocess
    import sys
    import threading
    from pathlib import Path

    from redis import Redis
    from werkzeug.serving import make_server

    from server.app import create_app
    Redis.from_url(redis_url).flushdb()
    queued = create_app({"TESTING": True, "DATABASE_URL": pg_app.config["DATABASE_URL"],
                         "REDIS_URL": redis_url, "SECRET_KEY": "t"})
    server = make_server("127.0.0.1", 0, queued, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = OneC(f"http://127.0.0.1:{server.server_port}", "test-onec", keys["onec"])
        assert client.checkauth()[0] == "success"
        client.init()
        client.upload("orders.xml", orders_file(order("ord-q", IVANOV, [COFFEE], shipped=True)))
        answer = cml.lines(client.call("import", filename="orders.xml"))
        assert answer[0] == "progress" and "waiting for a worker" in answer[1]
        # Redis loses the job (flushed, restarted without persistence): the next
        # `import` call queues it again instead of answering progress forever.
        Redis.from_url(redis_url).flushdb()
        answer = cml.lines(client.call("import", filename="orders.xml"))
        assert answer[0] == "progress" and "waiting for a worker" in answer[1]
        assert Redis.from_url(redis_url).keys("rq:job:onec-import-*")
        root = Path(__file__).resolve().parents[3]
        env = {**os.environ, "DATABASE_URL": pg_app.config["DATABASE_URL"],
               "REDIS_URL": redis_url, "LOYALTY_INSTANCE": str(tmp_path / "worker")}
        worker = subprocess.run([str(Path(sys.executable).with_name("loyalty")), "worker",
                                 "--burst", "-q", "exchange"], cwd=root, env=env,
                                capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stdout + worker.stderr
        answer = cml.lines(client.call("import", filename="orders.xml"))
        assert answer[0] == "success", answer
        assert [o["accrued"] for o in operations(client.query())] == ["250"]
        assert client.success() == ["success"]
    finally:
        server.shutdown()


def test_a_stale_session_is_refused(onec, app):
    from datetime import timedelta

    from engine import clock
    client = onec()
    assert client.checkauth()[0] == "success"
    client.init()
    with clock.travel(timedelta(hours=3)):
        answer = cml.lines(client.call("query"))
    assert answer[0] == "failure" and "expired" in answer[1]
    assert cml.lines(client.call("init"))[0] == "failure"  # and it stays expired


def test_the_classic_order_uploads_after_success_and_is_applied_next_time(onec, app):
    """Older 1C: checkauth → init → query → success → file, and no import call."""
    client = onec()
    assert client.checkauth()[0] == "success"
    client.init()
    assert operations(client.query()) == []
    assert client.success() == ["success"]
    client.upload("orders.xml", orders_file(order("ord-1", IVANOV, [COFFEE], shipped=True)))
    # The next exchange starts by applying what the last one left behind.
    following = onec()
    assert following.checkauth()[0] == "success"
    following.init()
    assert [o["accrued"] for o in operations(following.query())] == ["250"]
    assert following.success() == ["success"]


def test_an_internal_error_is_a_failure_line_not_a_500_page(onec, app, monkeypatch):
    from exporters import onec_outbound

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(onec_outbound, "prepare", broken)  # a fault injected into the server
    client = onec()
    assert client.checkauth()[0] == "success"
    client.init()
    response = client.call("query")
    assert response.headers["Content-Type"].startswith("text/plain")
    answer = cml.lines(response)
    assert answer[0] == "failure" and "logged" in answer[1] and "fire" not in answer[1]
    from engine.models import ExchangeSession
    from server.extensions import db
    with app.app_context():
        row = db.session().execute(select(ExchangeSession)).scalar_one()
        assert row.errors[-1]["mode"] == "query" and "logged" in row.errors[-1]["reason"]
