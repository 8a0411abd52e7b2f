"""Fixtures of the 1C exchange tests: the app served over real HTTP, a 1C client, a program."""
from __future__ import annotations

import copy
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import ACCRUAL_BASIC
from tests.integration.onec.cml import OneC


@pytest.fixture
def live(target_app):
    """The app on a real HTTP server (werkzeug, threaded) on a random loopback port."""
    server = make_server("127.0.0.1", 0, target_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def program(publish, settings_doc):
    """1 point per full 10 of each line; accrue on fulfilled; Russian phones."""
    publish(ACCRUAL_BASIC)
    doc = copy.deepcopy(settings_doc)
    doc["settings"].update(currency="RUB", phone_regions=["RU"], time_zone="Europe/Moscow")
    publish(doc, "settings")

    def change(**settings):
        changed = copy.deepcopy(doc)
        changed["settings"].update(settings)
        publish(changed, "settings")
    return change


@pytest.fixture
def onec(live, keys, program):
    """onec() → a new 1C client session object for the test's integration key."""
    return lambda kind="sale": OneC(live, "test-onec", keys["onec"], kind=kind)


@pytest.fixture(autouse=True)
def ledger_holds(target_app):
    """After every test (before its tables are emptied): every ledger invariant holds."""
    yield
    from engine.ledger.check import check
    from server.extensions import db
    with target_app.app_context():
        assert check(db.session()) == []
