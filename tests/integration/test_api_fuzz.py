"""Schemathesis against our own OpenAPI document: no generated request gets a 500."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from engine import members
from server.app import create_app
from server.auth import create_key
from server.extensions import db, upgrade


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    os.environ.setdefault("LOYALTY_INSTANCE", str(root / "instance"))
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{root / 'fuzz.db'}",
                      "SECRET_KEY": "fuzz", "SECRET_KEY_IS_EPHEMERAL": False})
    upgrade(app)
    with app.app_context():
        _row, key = create_key(db.session(), "fuzz", "admin")
        members.create(db.session(), {"name": "Fuzz", "ext_id": "u1"})
        db.session().commit()
    app.config["FUZZ_KEY"] = key
    return app


def test_no_generated_request_gets_a_server_error(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    auth = {"Authorization": f"Bearer {fuzz_app.config['FUZZ_KEY']}"}
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case):
            response = case.call(headers=auth)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            if response.status_code >= 400 and case.method != "HEAD":
                headers = {k.lower(): v for k, v in response.headers.items()}
                content_type = headers.get("content-type", "")
                content_type = content_type[0] if isinstance(content_type, list) else content_type
                assert content_type.startswith(("application/json", "application/xml")), \
                    f"{case.method} {case.formatted_path}: {response.status_code} {content_type}"
        check()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /api/v1/orders" in tested and len(tested) >= 20
