"""A program's refusal as data: a stable ``code``, the HTTP status the API answers with, and details.

Promo codes and rewards raise subclasses; the API maps every one the same way
(`server.errors`), so a new program needs no error handler of its own.
"""
from __future__ import annotations


class Refusal(Exception):
    code, status = "refused", 422

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: dict | None = None):
        super().__init__(message)
        self.code = code or self.code
        self.status = status or self.status
        self.details = details
