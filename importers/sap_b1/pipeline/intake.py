"""Registering a file's bytes as an SAP B1 import run, once: the same bytes again find their earlier run."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy.orm import Session

from engine import clock, imports
from engine.models import ImportRun
from importers.sap_b1 import KINDS, SOURCE, default_profile, profile_from_dict


def sha256_of(path: str | os.PathLike) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def register(session: Session, path: str | os.PathLike, *, kind: str, actor: str, filename: str | None = None,
             sha256: str | None = None, size: int | None = None, origin: dict | None = None,
             profile: dict | None = None, chunk_lines: int | None = None) -> tuple[ImportRun, bool]:
    """Find or create the run of this file's bytes; returns (run, created). The caller commits.

    ``chunk_lines`` fixes the run's chunk size for whichever worker stages it (else the worker's setting).
    """
    if kind not in KINDS:
        raise ValueError(f'Unknown file kind "{kind}"; use one of: {", ".join(KINDS)}.')
    chosen = profile_from_dict(profile, kind) if profile else default_profile(kind)
    if sha256 is None or size is None:
        sha256, size = sha256_of(path)
    run, created = imports.begin_run(session, source=SOURCE, kind=kind, filename=filename or Path(path).name,
                                     sha256=sha256, size=size, actor=actor, now=clock.now(),
                                     stored_path=str(path))
    if created:
        run.details = {"origin": origin or {}, "profile": chosen.to_dict()}
        if chunk_lines:
            run.details["chunk_lines"] = int(chunk_lines)
    elif run.status != "done" and not os.path.exists(run.stored_path or ""):
        run.stored_path = str(path)  # the earlier copy is gone: continue from this one
    session.flush()
    return run, created
