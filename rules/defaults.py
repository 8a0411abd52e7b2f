"""The default policies shipped as JSON in ``rules/defaults/`` (a demo [000] program)."""
from __future__ import annotations

import json
from importlib import resources
from typing import Any


def default_policies() -> dict[str, dict[str, Any]]:
    """Policy name → document, for every ``rules/defaults/*.json`` (``settings`` included).

    Each call reads the files again and returns fresh dicts, so callers may
    modify them. Every default validates (``tests/unit/rules/test_defaults.py``).
    """
    out: dict[str, dict[str, Any]] = {}
    folder = resources.files(__package__).joinpath("defaults")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            out[entry.name[:-5]] = json.loads(entry.read_text(encoding="utf-8"))
    return out
