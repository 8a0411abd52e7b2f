"""The HTTP API (JSON and XML): blueprints registered on the app and the OpenAPI document."""
from __future__ import annotations

from flask import Flask

from server.api import (
    companies,
    events,
    health,
    imports,
    members,
    missions,
    orders,
    outbox,
    policies,
    promo_codes,
    redemptions,
    reward_orders,
    rewards,
    tiers,
)
from server.extensions import api
from server.onec import views as onec_views


def register(app: Flask) -> None:
    app.register_blueprint(health.blp)
    promo_codes.init_app(app)  # the rate limiter and the promo answers
    for module in (members, companies, orders, redemptions, events, promo_codes, rewards, reward_orders, missions,
                   tiers, policies, imports, outbox):
        api.register_blueprint(module.blp)
    onec_views.register(app)
