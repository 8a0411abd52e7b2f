"""Phone numbers as merge keys: E.164 via `phonenumbers`, never guessed.

A number is accepted only if `phonenumbers` says it is valid for the region it
was parsed with; the source's region is tried first, then the program's other
regions. Extensions (``wew. 12``, ``доб. 12``) are dropped from the key, and
toll-free or premium numbers never become a merge key.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from phonenumbers import PhoneNumberType

_EXTENSION = re.compile(r"(?i)\s*(?:wew\.?|доб\.?|ext\.?|x)\s*\d+\s*$")
_NOT_PERSONAL = {PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE,
                 PhoneNumberType.SHARED_COST, PhoneNumberType.UAN}


def normalize_phone(raw: str | None, regions: Iterable[str] = ("PL",)) -> str | None:
    """Return the E.164 form of ``raw`` or None when it is not a personal number.

    ``regions`` is the source's default region first, then the fallbacks.
    """
    if raw is None:
        return None
    text = _EXTENSION.sub("", str(raw)).strip()
    if not text or not any(ch.isdigit() for ch in text):
        return None
    candidates = [None] if text.startswith("+") else []
    candidates += [r.upper() for r in regions if r]
    for region in candidates:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        if phonenumbers.number_type(number) in _NOT_PERSONAL:
            return None
        number.extension = None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None
