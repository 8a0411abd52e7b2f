"""The house rules that a test can hold: lint clean, models in one place, ledger tables written by one room."""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LEDGER_TABLES = ("ledger_entries", "lots", "allocations")
SOURCES = ("server", "engine", "rules", "importers", "exporters", "bench", "tests")


def _python_files(*folders: str):
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations/versions" not in path.as_posix():
                yield path


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff") or str(pathlib.Path(sys.executable).with_name("ruff"))
    if not pathlib.Path(ruff).exists():
        pytest.fail("ruff is not installed (it is a dev dependency: pip install -e '.[dev]')")
    result = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_models_are_defined_only_in_engine_models():
    declared = re.compile(r"__tablename__\s*=")
    outside = [str(path.relative_to(ROOT)) for path in _python_files("server", "engine", "rules", "importers",
                                                                       "exporters")
               if declared.search(path.read_text(encoding="utf-8"))
               and not path.is_relative_to(ROOT / "engine" / "models")]
    assert outside == []
def test_only_engine_ledger_writes_ledger_tables():
    names = "|".join(LEDGER_TABLES)
    writes = re.compile(r"(INSERT\s+INTO|COPY|UPDATE)\s+(" + names + r")\b|[\"'](" + names + r")[\"']", re.I)
    orm_adds = re.compile(r"\b(LedgerEntry|Lot|Allocation)\((?!\))")
    offenders = []
    for path in _python_files("server", "engine", "importers", "exporters"):
        text = path.read_text(encoding="utf-8")
        if path.is_relative_to(ROOT / "engine" / "ledger") or path.is_relative_to(ROOT / "engine" / "models"):
            continue
        if writes.search(text) or orm_adds.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
