"""Prometheus metrics: request counts and latencies per endpoint, served at /metrics."""
from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("loyalty_http_requests_total", "HTTP requests", ["endpoint", "method", "status"],
                   registry=REGISTRY)
LATENCY = Histogram("loyalty_http_request_seconds", "HTTP request latency", ["endpoint"],
                    registry=REGISTRY)
POSTINGS = Counter("loyalty_ledger_postings_total", "Ledger entries posted", ["kind"],
                   registry=REGISTRY)


def init_app(app: Flask) -> None:
    @app.before_request
    def _start():
        g._metrics_start = time.perf_counter()

    @app.after_request
    def _record(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        start = g.pop("_metrics_start", None)
        if start is not None:
            LATENCY.labels(endpoint).observe(time.perf_counter() - start)
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        return response

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)
