"""SFTP with pysftp 0.2.9 (paramiko < 4), the server's host key always pinned and checked.

pysftp looks host keys up by the bare host name, so a ``[host]:port`` entry of
a known_hosts file never matches on a port other than 22 and the usual advice
is to switch checking off. We never do: the pinned key (a public key line, a
known_hosts line, or a known_hosts file searched for ``[host]:port``) is put
into ``CnOpts().hostkeys`` under the very name pysftp looks up, and paramiko
refuses any other key. pysftp 0.2.9 also only loads RSA/DSS key files, so the
client key is loaded by paramiko (Ed25519, ECDSA, RSA) and handed over.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import posixpath
import socket
import stat
import tempfile
import warnings
from datetime import UTC, datetime

import paramiko
import pysftp

from importers.transports.base import HostKeyMismatch, RemoteFile, Transport, TransportError, _HashingWriter

log = logging.getLogger(__name__)


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style ``SHA256:…`` fingerprint, for messages."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def load_host_key(spec: str, host: str, port: int = 22) -> paramiko.PKey:
    """The pinned key from a public key line, a known_hosts line, or a known_hosts file path."""
    spec = (spec or "").strip()
    if not spec:
        raise TransportError("An SFTP source needs the server's host key (host_key): host-key checking is "
                             "never switched off.")
    if "\n" not in spec and " " not in spec or os.path.isfile(os.path.expanduser(spec)):
        return _from_known_hosts(os.path.expanduser(spec), host, port)
    parts = spec.split()
    if len(parts) >= 3 and not _is_key_type(parts[0]) and _is_key_type(parts[1]):
        parts = parts[1:]  # a known_hosts line: the host part is the operator's business
    if len(parts) < 2 or not _is_key_type(parts[0]):
        raise TransportError('The SFTP host key must look like "ssh-ed25519 AAAA…" (a public key line), a '
                             "known_hosts line, or the path of a known_hosts file.")
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1], validate=True))
    except (binascii.Error, ValueError, paramiko.SSHException) as exc:
        raise TransportError(f"The SFTP host key is not a valid {parts[0]} public key ({exc}).") from None


def _is_key_type(word: str) -> bool:
    return word.startswith(("ssh-", "ecdsa-", "sk-"))


def _from_known_hosts(path: str, host: str, port: int) -> paramiko.PKey:
    if not os.path.isfile(path):
        raise TransportError(f"The SFTP host key file {path} does not exist.")
    known = paramiko.HostKeys(path)
    name = host if port == 22 else f"[{host}]:{port}"
    keys = known.lookup(name)
    if not keys:
        raise TransportError(f"The known_hosts file {path} has no key for {name}; add the server's key "
                             f"(ssh-keyscan -p {port} {host}) after checking its fingerprint.")
    return next(iter(keys.values()))


class _Connection(pysftp.Connection):
    """pysftp.Connection with a connect timeout, any paramiko key type, and no leak on failure."""

    def __init__(self, *args, timeout: float = 30.0, **kwargs):
        self._timeout = timeout
        try:
            super().__init__(*args, **kwargs)
        except BaseException as exc:
            transport = getattr(self, "_transport", None)
            if transport is not None:
                try:  # keep what the server offered, for the mismatch message
                    exc.offered_key = transport.get_remote_server_key()
                except Exception:
                    pass
                transport.close()
            self._sftp_live = False
            self._transport = None
            raise

    def _start_transport(self, host, port):
        sock = socket.create_connection((host, port), timeout=self._timeout)
        self._transport = paramiko.Transport(sock)
        self._transport.banner_timeout = self._transport.auth_timeout = self._timeout

    def _set_authentication(self, password, private_key, private_key_pass):
        if password is None and isinstance(private_key, paramiko.PKey):
            self._tconnect["pkey"] = private_key
            return
        super()._set_authentication(password, private_key, private_key_pass)


class SftpTransport(Transport):
    def __init__(self, host: str, port: int = 22, username: str = "", password: str | None = None,
                 private_key_path: str | None = None, private_key_passphrase: str | None = None,
                 host_key: str = "", remote_dir: str = ".", timeout: float = 30.0):
        self.host, self.port, self.username = host, port, username
        self._password, self._key_path, self._key_passphrase = password, private_key_path, private_key_passphrase
        self._host_key_spec = host_key
        self.remote_dir, self.timeout = remote_dir or ".", timeout
        self._conn: _Connection | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} sftp://{self.username}@{self.host}:{self.port}/{self.remote_dir}>"

    def _where(self) -> str:
        return f"SFTP server {self.host}:{self.port}"

    def connect(self) -> None:
        pinned = load_host_key(self._host_key_spec, self.host, self.port)
        with warnings.catch_warnings(), tempfile.TemporaryDirectory() as empty:
            warnings.simplefilter("ignore")  # "no known_hosts here": we load the pinned key ourselves
            options = pysftp.CnOpts(knownhosts=os.path.join(empty, "known_hosts"))
        options.hostkeys = paramiko.HostKeys()
        options.hostkeys.add(self.host, pinned.get_name(), pinned)  # the bare name pysftp looks up
        key = None
        if self._password is None:
            if not self._key_path:
                raise TransportError(f"The {self._where()} source has neither a password nor a private key.")
            try:
                passphrase = self._key_passphrase.encode() if self._key_passphrase is not None else None
                key = paramiko.PKey.from_path(os.path.expanduser(self._key_path), passphrase)
            except (OSError, paramiko.SSHException, ValueError, TypeError) as exc:
                raise TransportError(f"Cannot load the private key {self._key_path}: {exc}") from None
        try:
            self._conn = _Connection(self.host, port=self.port, username=self.username, password=self._password,
                                     private_key=key, cnopts=options, timeout=self.timeout)
        except paramiko.AuthenticationException:
            raise TransportError(f"The {self._where()} refused the login of {self.username} (wrong password or "
                                 "key).") from None
        except paramiko.SSHException as exc:
            if "host key" in str(exc).lower():
                raise self._mismatch(pinned, getattr(exc, "offered_key", None)) from None
            raise TransportError(f"Cannot open the {self._where()}: {exc}") from None
        except (OSError, pysftp.ConnectionException) as exc:
            raise TransportError(f"Cannot reach the {self._where()}: {exc}") from None
        log.info("connected to %r", self)

    def _mismatch(self, pinned: paramiko.PKey, offered: paramiko.PKey | None) -> HostKeyMismatch:
        got = f" It presented {offered.get_name()} {fingerprint(offered)}." if offered is not None else ""
        return HostKeyMismatch(
            f"The {self._where()} did not prove it holds the pinned host key {pinned.get_name()} "
            f"{fingerprint(pinned)}.{got} Nothing was downloaded. If the server's key was changed on purpose, "
            "update host_key in the source's configuration; otherwise someone may be impersonating it.")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._conn is None:
            raise TransportError("The SFTP connection is not open (use the transport in a with-block).")
        return self._conn.sftp_client

    def _path(self, name: str) -> str:
        return name if name.startswith("/") else posixpath.join(self.remote_dir, name)

    def _call(self, what: str, func, *args):
        try:
            return func(*args)
        except (OSError, paramiko.SSHException) as exc:
            raise TransportError(f"{what} on the {self._where()} failed: {exc}") from None

    def _list_all(self) -> list[RemoteFile]:
        entries = self._call("Listing", self.sftp.listdir_attr, self.remote_dir)
        return [RemoteFile(e.filename, e.st_size or 0,
                           datetime.fromtimestamp(e.st_mtime, UTC) if e.st_mtime is not None else None)
                for e in entries if e.st_mode is not None and stat.S_ISREG(e.st_mode)]

    def _download(self, name: str, sink: _HashingWriter) -> None:
        self._call(f"Downloading {name}", self.sftp.getfo, self._path(name), sink)

    def _exists(self, path: str) -> bool:
        try:
            self.sftp.stat(self._path(path))
        except FileNotFoundError:
            return False
        except (OSError, paramiko.SSHException) as exc:
            raise TransportError(f"Checking {path} on the {self._where()} failed: {exc}") from None
        return True

    def _make_dir(self, folder: str) -> None:
        if not self._exists(folder):
            self._call(f"Creating {folder}", self.sftp.mkdir, self._path(folder))

    def _rename(self, name: str, target: str) -> None:
        self._call(f"Moving {name} to {target}", self.sftp.rename, self._path(name), self._path(target))

    def delete(self, name: str) -> None:
        self._call(f"Deleting {name}", self.sftp.remove, self._path(name))
