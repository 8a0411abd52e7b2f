"""Polling the configured sources: fetch each finished file once, register its import run, tidy the source after.

Flask-free: the caller (the job in ``server.jobs``) passes the parsed source
settings, the database binding, a folder per source and ``queue_run``, which
queues a run's import after the run is committed. Credentials never appear
in what is logged or returned.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from importers.sap_b1 import pipeline
from importers.transports import sources
from importers.transports.base import RemoteFile

log = logging.getLogger(__name__)


def configured(raw: str | Iterable[Any] | None) -> list[sources.SourceConfig]:
    """The ``IMPORT_SOURCES`` setting: JSON text, or a list of source objects (dicts or `SourceConfig`s)."""
    if isinstance(raw, str):
        return sources.sources_from_json(raw)
    return [item if isinstance(item, sources.SourceConfig) else sources.source_from_dict(item)
            for item in raw or []]


def poll(configs: list[sources.SourceConfig], database: pipeline.Database, folder_for: Callable[[str], Path],
         queue_run: Callable[[int], object], names: list[str] | None = None) -> list[dict]:
    """Fetch every finished file of ``configs`` (or only ``names``) and queue its import.

    A file whose bytes were imported already is only archived (or left, as
    configured); one whose run was interrupted is queued again to finish.
    """
    report = []
    for config in configs:
        if names and config.name not in names:
            continue
        try:
            report.extend(_poll(config, database, folder_for(config.name), queue_run))
        except Exception as exc:  # one unreachable source must not stop the others
            log.error("polling %s failed: %s", config, exc.__class__.__name__)
            report.append({"source": config.name, "error": f"{exc.__class__.__name__}: {exc}"})
    return report


def _poll(config: sources.SourceConfig, database: pipeline.Database, folder: Path,
          queue_run: Callable[[int], object]) -> list[dict]:
    report = []
    with sources.open_transport(config) as transport:
        for kind, item in sources.ready_files(transport, config):
            fetched = transport.fetch(item.name, folder / f".{item.name}.incoming")
            # Named by content: a file of the same name tomorrow never overwrites one still being imported.
            local = folder / f"{fetched.sha256[:16]}_{item.name}"
            os.replace(fetched.path, local)
            with database.new_session() as session:
                run, _created = pipeline.register(
                    session, local, kind=kind, actor=f"import:{config.name}", filename=item.name,
                    sha256=fetched.sha256, size=fetched.size,
                    origin={"via": config.protocol, "source": config.name, "remote": item.name,
                            "marker": item.marker},
                    profile=config.profile_for(kind).to_dict())
                status, run_id = run.status, run.id
                session.commit()
            if status == "done":  # the same bytes again: nothing to import, only tidy the folder
                sources.finish_file(transport, config, item)
                report.append({"source": config.name, "file": item.name, "run": run_id, "status": "known"})
                continue
            queue_run(run_id)
            report.append({"source": config.name, "file": item.name, "run": run_id, "status": "queued"})
    return report


def tidy_source(details: Mapping[str, Any] | None, configs: list[sources.SourceConfig]) -> None:
    """Archive (or delete, or leave) a finished run's file on the source it came from (``details`` of the run)."""
    origin = (details or {}).get("origin") or {}
    if origin.get("via") not in sources.PROTOCOLS:
        return
    config = next((c for c in configs if c.name == origin.get("source")), None)
    if config is None or config.after_processing == "leave":
        return
    try:
        with sources.open_transport(config) as transport:
            present = {f.name: f for f in transport.list("*")}
            item = present.get(origin.get("remote"))
            if item is not None:
                marker = origin.get("marker")
                sources.finish_file(transport, config, RemoteFile(item.name, item.size, item.mtime,
                                                                  marker if marker in present else None))
    except Exception as exc:  # the next poll finds the file, sees it is known, and tries again
        log.warning("could not tidy %s on %s: %s", origin.get("remote"), config, exc.__class__.__name__)
