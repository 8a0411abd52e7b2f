"""The HTTP API (JSON and XML): blueprints registered on the app and the OpenAPI document."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from server.extensions import api
    from server.api import companies, health, members, orders, policies, redemptions
    app.register_blueprint(health.blp)
    for module in (members, companies, orders, redemptions, policies):
        api.register_blueprint(module.blp)
    from server.onec import views as onec_views; onec_views.register(app)  # noqa: E702 - 1C exchange
    from server.api import imports; api.register_blueprint(imports.blp)  # noqa: E702 - ERP file imports
