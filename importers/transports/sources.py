"""Configured ERP file sources (FTP, FTPS, SFTP): validated from JSON, opened as transports, secrets kept out of sight.

The app reads a JSON list of sources (``IMPORT_SOURCES``), for example::

    [{"name": "sap", "protocol": "sftp", "host": "erp.example.pl", "username": "loyalty",
      "private_key_path": "/etc/loyalty/sftp_key", "host_key": "ssh-ed25519 AAAA…",
      "remote_dir": "/exports", "patterns": {"invoices": "INV_*.csv", "customers": "OCRD_*.csv"},
      "after_processing": "archive", "archive_dir": "archive",
      "profiles": {"invoices": {"decimal_separator": ","}}, "settle_seconds": 30}]

A password can come from the environment (``"password_env": "SAP_FTP_PASSWORD"``)
instead of the JSON. ``repr``, ``str`` and ``public_dict`` never show the
password or the key passphrase.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from importers.sap_b1.profiles import KINDS, Profile, ProfileError, profile_from_dict
from importers.transports import FtpTransport, SftpTransport, Transport, stable_files
from importers.transports.base import RemoteFile

log = logging.getLogger(__name__)

PROTOCOLS = {"ftp": 21, "ftps": 21, "sftp": 22}
AFTER_PROCESSING = ("archive", "leave", "delete")
_KEYS = {"name", "protocol", "host", "port", "username", "password", "password_env", "private_key_path",
         "private_key_passphrase", "host_key", "cafile", "remote_dir", "patterns", "after_processing",
         "archive_dir", "profiles", "settle_seconds", "done_marker", "timeout"}


class SourceConfigError(ValueError):
    """A source configuration that cannot be used; the message lists every problem."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    protocol: str  # ftp | ftps | sftp
    host: str
    port: int
    username: str
    password: str | None = field(default=None, repr=False)
    private_key_path: str | None = None  # SFTP
    private_key_passphrase: str | None = field(default=None, repr=False)
    host_key: str | None = field(default=None, repr=False)  # SFTP: public key line, known_hosts line or path
    cafile: str | None = None  # FTPS: CA bundle; None = the system's trust store
    remote_dir: str = "."
    patterns: Mapping[str, str] = field(default_factory=dict)  # kind → glob, e.g. {"invoices": "INV_*.csv"}
    after_processing: str = "archive"  # archive | leave | delete
    archive_dir: str = "archive"
    profiles: Mapping[str, Profile] = field(default_factory=dict, repr=False)  # kind → profile (overrides)
    settle_seconds: float = 30.0
    done_marker: str | None = None  # e.g. "{name}.done" or "{stem}.ok"
    timeout: float = 30.0

    def __str__(self) -> str:
        return f"{self.name} ({self.protocol}://{self.username}@{self.host}:{self.port}/{self.remote_dir})"

    def profile_for(self, kind: str) -> Profile:
        """The source's profile for ``kind`` (SAP defaults unless the source overrides them)."""
        return self.profiles.get(kind) or profile_from_dict({}, kind=kind)

    def public_dict(self) -> dict[str, Any]:
        """For admin screens and run records: everything but the secrets (shown as set / not set)."""
        return {
            "name": self.name, "protocol": self.protocol, "host": self.host, "port": self.port,
            "username": self.username, "password": "set" if self.password else "not set",
            "private_key_path": self.private_key_path, "host_key": "set" if self.host_key else "not set",
            "cafile": self.cafile, "remote_dir": self.remote_dir, "patterns": dict(self.patterns),
            "after_processing": self.after_processing, "archive_dir": self.archive_dir,
            "profiles": {kind: p.to_dict() for kind, p in self.profiles.items()},
            "settle_seconds": self.settle_seconds, "done_marker": self.done_marker, "timeout": self.timeout,
        }


def source_from_dict(data: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> SourceConfig:
    """Validate one source; every problem is listed in a single `SourceConfigError`."""
    if not isinstance(data, Mapping):
        raise SourceConfigError("A source must be a JSON object.")
    environ = os.environ if environ is None else environ
    name = str(data.get("name") or "").strip()
    label = f'Source "{name}"' if name else "A source"
    problems: list[str] = []
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        problems.append(f"unknown setting(s) {', '.join(unknown)}")
    if not name:
        problems.append("name is missing")
    protocol = str(data.get("protocol", "")).lower()
    if protocol not in PROTOCOLS:
        problems.append(f'protocol must be one of {", ".join(PROTOCOLS)} (got "{data.get("protocol", "")}")')
    host = str(data.get("host") or "").strip()
    if not host:
        problems.append("host is missing")
    port = data.get("port", PROTOCOLS.get(protocol, 0))
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        problems.append("port must be a whole number between 1 and 65535")
    username = str(data.get("username") or "").strip()
    if not username:
        problems.append("username is missing")
    password = data.get("password")
    if data.get("password_env"):
        password = environ.get(str(data["password_env"]))
        if password is None:
            problems.append(f"the environment variable {data['password_env']} (password_env) is not set")
    if protocol == "sftp":
        if not data.get("host_key"):
            problems.append("host_key is missing: give the server's public key line or a known_hosts file "
                            "(host-key checking is never switched off)")
        if password is None and not data.get("private_key_path"):
            problems.append("give a password or a private_key_path")
    elif protocol in ("ftp", "ftps") and data.get("private_key_path"):
        problems.append("private_key_path is for SFTP only")
    if data.get("cafile") and protocol != "ftps":
        problems.append("cafile is for FTPS only")
    patterns = data.get("patterns") or {}
    if not isinstance(patterns, Mapping) or not patterns:
        problems.append(f"patterns must map file kinds ({', '.join(KINDS)}) to name patterns like \"INV_*.csv\"")
        patterns = {}
    for kind, pattern in patterns.items():
        if kind not in KINDS:
            problems.append(f'patterns: "{kind}" is not a file kind ({", ".join(KINDS)})')
        elif not isinstance(pattern, str) or not pattern.strip() or "/" in pattern:
            problems.append(f"patterns: the pattern for {kind} must be a file name pattern without folders")
    after = data.get("after_processing", "archive")
    if after not in AFTER_PROCESSING:
        problems.append(f"after_processing must be one of {', '.join(AFTER_PROCESSING)}")
    profiles: dict[str, Profile] = {}
    given_profiles = data.get("profiles") or {}
    if not isinstance(given_profiles, Mapping):
        problems.append("profiles must map file kinds to profile settings")
        given_profiles = {}
    for kind, overrides in given_profiles.items():
        try:
            profiles[kind] = profile_from_dict(overrides, kind=kind)
        except ProfileError as exc:
            problems.append(f"profiles.{kind}: {exc}")
    marker = data.get("done_marker")
    if marker is not None and (not isinstance(marker, str) or not ("{name}" in marker or "{stem}" in marker)
                               or marker in ("{name}", "{stem}") or "/" in marker):
        problems.append('done_marker must be a name pattern such as "{name}.done" or "{stem}.ok"')
    numbers = {}
    for key, default in (("settle_seconds", 30.0), ("timeout", 30.0)):
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(f"{key} must be a number of seconds, 0 or more")
        numbers[key] = float(value) if isinstance(value, (int, float)) else default
    if problems:
        raise SourceConfigError(f"{label} is not configured correctly: " + "; ".join(problems) + ".")
    return SourceConfig(
        name=name, protocol=protocol, host=host, port=port, username=username, password=password,
        private_key_path=data.get("private_key_path"), private_key_passphrase=data.get("private_key_passphrase"),
        host_key=data.get("host_key"), cafile=data.get("cafile"), remote_dir=str(data.get("remote_dir") or "."),
        patterns=dict(patterns), after_processing=after, archive_dir=str(data.get("archive_dir") or "archive"),
        profiles=profiles, settle_seconds=numbers["settle_seconds"], done_marker=marker,
        timeout=numbers["timeout"])


def sources_from_json(text: str | None, environ: Mapping[str, str] | None = None) -> list[SourceConfig]:
    """``IMPORT_SOURCES``: a JSON list of sources (or an object of name → source). Empty → []."""
    if not text or not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceConfigError(f"The import sources are not valid JSON: {exc}") from None
    if isinstance(data, Mapping):
        data = [{"name": name, **(value if isinstance(value, Mapping) else {})} for name, value in data.items()]
    if not isinstance(data, list):
        raise SourceConfigError("The import sources must be a JSON list of source objects.")
    sources = [source_from_dict(item, environ) for item in data]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise SourceConfigError("Two import sources have the same name; names identify sources in run records.")
    return sources


def open_transport(config: SourceConfig) -> Transport:
    """A transport for ``config``, not yet connected: use it as ``with open_transport(c) as t:``."""
    if config.protocol == "sftp":
        return SftpTransport(config.host, config.port, config.username, config.password,
                             config.private_key_path, config.private_key_passphrase, config.host_key or "",
                             config.remote_dir, config.timeout)
    return FtpTransport(config.host, config.port, config.username, config.password or "", config.remote_dir,
                        tls=config.protocol == "ftps", cafile=config.cafile, timeout=config.timeout)


def ready_files(transport: Transport, config: SourceConfig, kinds: tuple[str, ...] | None = None,
                sleep: Callable[[float], None] = time.sleep) -> list[tuple[str, RemoteFile]]:
    """(kind, file) for every finished upload of the source, oldest first within a kind.

    One settle wait covers all kinds. A file matching two kinds' patterns is an
    error of the configuration, not something to guess about.
    """
    wanted = [k for k in KINDS if k in config.patterns and (kinds is None or k in kinds)]
    if not wanted:
        return []
    found: dict[str, str] = {}
    result = []
    settled = _settled(transport, config, sleep)
    for kind in wanted:
        for item in stable_files(transport, config.patterns[kind], 0, config.done_marker):
            if item.name in found:
                raise SourceConfigError(f"{item.name} on {config} matches the patterns of both {found[item.name]} "
                                        f"and {kind}; make the patterns distinct.")
            found[item.name] = kind
            if settled.get(item.name) == (item.size, item.mtime):
                result.append((kind, item))
    return result


def _settled(transport: Transport, config: SourceConfig, sleep) -> dict[str, tuple]:
    """Names whose size and time did not change over ``settle_seconds`` (one wait for every kind)."""
    before = {f.name: (f.size, f.mtime) for f in transport.list("*")}
    if config.settle_seconds > 0 and before:
        sleep(config.settle_seconds)
    after = {f.name: (f.size, f.mtime) for f in transport.list("*")}
    return {name: state for name, state in after.items() if before.get(name) == state}


def finish_file(transport: Transport, config: SourceConfig, item: RemoteFile) -> str | None:
    """After a file was processed: archive it (and its marker), delete it, or leave it. Returns the new path."""
    if config.after_processing == "leave":
        return None
    names = [item.name] + ([item.marker] if item.marker else [])
    if config.after_processing == "delete":
        for name in names:
            transport.delete(name)
        log.info("deleted %s from %s", item.name, config)
        return None
    moved = transport.archive(item.name, config.archive_dir)
    if item.marker:
        transport.archive(item.marker, config.archive_dir)
    log.info("archived %s on %s as %s", item.name, config, moved)
    return moved
