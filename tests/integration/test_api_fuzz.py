"""Schemathesis against our own OpenAPI document: no generated request gets a 500.

The fuzzer can only be as good as the bounds the document declares, so a
second test requires one on every input: a new field without a range or a
length fails here before it can overflow something below the schema.
"""
from __future__ import annotations

import contextlib
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from engine import members
from server.app import create_app
from server.auth import create_key
from server.extensions import db, session_factory, upgrade
from tests.conftest import scratch_database

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))  # per operation; raise it to hunt


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def fuzz_app(request, tmp_path_factory):
    """A committed app of its own: on PostgreSQL (which enforces column lengths and
    integer widths that SQLite ignores) in its own scratch database, and on SQLite."""
    root = tmp_path_factory.mktemp("fuzz")
    os.environ.setdefault("LOYALTY_INSTANCE", str(root / "instance"))
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{root / 'fuzz.db'}"
        if request.param == "postgresql":
            url = stack.enter_context(scratch_database("loyalty_fuzz"))
        app = create_app({"TESTING": True, "DATABASE_URL": url, "UPLOAD_FOLDER": str(root / "uploads"),
                          "SECRET_KEY": "fuzz", "SECRET_KEY_IS_EPHEMERAL": False})
        upgrade(app)
        with app.app_context():
            _row, key = create_key(db.session(), "fuzz", "admin")
            members.create(db.session(), {"name": "Fuzz", "ext_id": "u1"})
            db.session().commit()
        app.config["FUZZ_KEY"] = key
        yield app
        session_factory(app).engine.dispose()  # before the scratch database is dropped


def _unbounded(spec: dict, schema: dict, path: str) -> list[str]:
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    kind, problems = schema.get("type"), []
    if "enum" in schema:
        return []
    if kind == "integer" and not {"minimum", "maximum"} <= schema.keys():
        problems.append(path)
    if kind == "number" and not {"minimum", "maximum"} <= schema.keys():
        problems.append(path)
    if kind == "string" and "maxLength" not in schema and schema.get("format") not in ("date", "date-time"):
        problems.append(path)
    if kind == "array":
        problems += [path + "[]"] if "maxItems" not in schema else []
        problems += _unbounded(spec, schema.get("items", {}), path + "[]")
    for name, field in schema.get("properties", {}).items():
        problems += _unbounded(spec, field, f"{path}.{name}")
    return problems


def test_every_input_field_declares_its_bounds(fuzz_app):
    spec = fuzz_app.test_client().get("/api/v1/openapi.json").get_json()
    problems, inputs = [], 0
    for url, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # the path's own parameters (path segments)
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    inputs += 1
                    problems += _unbounded(spec, parameter["schema"], f"{method} {url} ?{parameter['name']}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                inputs += 1
                problems += _unbounded(spec, content["schema"], f"{method} {url} body")
    assert inputs >= 15
    assert problems == [], "inputs without a range or a length: " + ", ".join(problems)
    dates = spec["components"]["schemas"]["OrderIn"]["properties"]["placed_at"]
    assert "1900–2200" in dates["description"]  # date bounds live in the field; the document says so


def test_no_generated_request_gets_a_server_error(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    auth = {"Authorization": f"Bearer {fuzz_app.config['FUZZ_KEY']}"}
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
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
