"""Real servers for tests: pyftpdlib FTP/FTPS in a thread, OpenSSH sshd on loopback; nothing mocked.

Each starter returns a handle with host, port, credentials and the local
folder that backs the server, plus ``stop()``. Missing optional parts
(pyftpdlib, pyOpenSSL, sshd) skip the test with the reason on a laptop and
fail it when ``CI=true``, so CI can never go green by skipping.
"""
from __future__ import annotations

import datetime as dt
import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = os.environ.get("SSHD_PATH", "/usr/sbin/sshd")
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


def require(condition: bool, reason: str) -> None:
    """Skip the test (or fail it under CI=true) when a dependency is missing."""
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing test dependency is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- TLS material ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TlsFiles:
    ca_cert: str  # give this to clients as cafile
    cert: str  # server certificate chain (leaf, then CA)
    key: str


def make_tls_files(directory: Path, common_name: str = "Loyalty test CA", dns_names=("localhost",),
                   ips=("127.0.0.1",)) -> TlsFiles:
    """A throw-away CA and a server certificate for ``dns_names`` and ``ips`` signed by it."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        require(False, "the cryptography package is needed to make test certificates")
    import ipaddress

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (list(dns_names) + list(ips))[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    files = TlsFiles(str(directory / "ca.pem"), str(directory / "server.pem"), str(directory / "server.key"))
    Path(files.ca_cert).write_bytes(ca.public_bytes(pem))
    Path(files.cert).write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    Path(files.key).write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    os.chmod(files.key, 0o600)
    return files


# --- FTP / FTPS -----------------------------------------------------------------------------------------------

@dataclass
class FtpServer:
    host: str
    port: int
    root: Path  # the folder the FTP user sees as "/"
    user: str
    password: str
    tls: TlsFiles | None
    _server: object = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _stop: threading.Event = field(repr=False)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def start_ftp_server(root: Path, user: str = "loyalty", password: str = "s3cret-ftp-pass",
                     tls: TlsFiles | None = None, without_mlsd: bool = False) -> FtpServer:
    """pyftpdlib on 127.0.0.1:<random>, serving ``root``; with ``tls``, explicit FTPS that requires TLS."""
    try:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer
    except ImportError:
        require(False, "pyftpdlib is not installed (pip install pyftpdlib)")
    base = FTPHandler
    if tls is not None:
        try:
            from pyftpdlib.handlers import TLS_FTPHandler
        except ImportError:
            TLS_FTPHandler = None
        require(TLS_FTPHandler is not None, "FTPS tests need pyOpenSSL (pip install pyopenssl)")
        base = TLS_FTPHandler
    root.mkdir(parents=True, exist_ok=True)
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, str(root), perm="elradfmwMT")
    attributes = {"authorizer": authorizer, "banner": "loyalty test FTP", "auth_failed_timeout": 0.1}
    if tls is not None:  # a class of its own: pyftpdlib caches the SSL context on the class
        attributes.update(certfile=tls.cert, keyfile=tls.key, ssl_context=None,
                          tls_control_required=True, tls_data_required=True)
    if without_mlsd:
        attributes["proto_cmds"] = {k: v for k, v in base.proto_cmds.items() if k not in ("MLSD", "MLST")}
    handler = type("TestFTPHandler", (base,), attributes)
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        try:
            while not stop.is_set():
                server.ioloop.loop(0.05, blocking=False)
        finally:
            server.close_all()

    thread = threading.Thread(target=serve, name=f"ftp-{port}", daemon=True)
    thread.start()
    return FtpServer("127.0.0.1", port, root, user, password, tls, server, thread, stop)


# --- OpenSSH sshd ---------------------------------------------------------------------------------------------

@dataclass
class SshServer:
    host: str
    port: int
    user: str
    root: Path  # a folder for test files (absolute paths work over SFTP)
    client_key: str  # private key file (Ed25519) authorised for ``user``
    client_key_passphrase: str | None
    host_key_line: str  # "ssh-ed25519 AAAA…": what a source pins
    known_hosts: str  # a known_hosts file with a "[127.0.0.1]:port" entry
    log_file: Path
    process: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


def _keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> None:
    subprocess.run([SSH_KEYGEN, "-q", "-t", kind, "-N", passphrase, "-C", "loyalty-tests", "-f", str(path)],
                   check=True, capture_output=True)


def start_sshd(workdir: Path, client_key_passphrase: str | None = None) -> SshServer:
    """OpenSSH sshd on 127.0.0.1:<random> with its own host key, key-only login for the current user."""
    require(os.path.exists(SSHD) and os.access(SSHD, os.X_OK),
            f"OpenSSH server not found at {SSHD} (apt-get install -y openssh-server)")
    require(os.path.exists(SSH_KEYGEN), "ssh-keygen not found (apt-get install -y openssh-client)")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    require(os.geteuid() != 0 or os.path.isdir("/run/sshd"), "sshd needs /run/sshd")
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / "files"
    root.mkdir(exist_ok=True)
    host_key, client_key = workdir / "ssh_host_ed25519_key", workdir / "client_ed25519"
    _keygen(host_key)
    _keygen(client_key, passphrase=client_key_passphrase or "")
    (workdir / "authorized_keys").write_text((workdir / "client_ed25519.pub").read_text())
    os.chmod(workdir / "authorized_keys", 0o600)
    host_key_line = " ".join((workdir / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    user = getpass.getuser()
    log_file = workdir / "sshd.log"
    last_error = ""
    for _ in range(5):  # the port can be taken between choosing it and sshd binding it
        port = free_port()
        config = workdir / "sshd_config"
        config.write_text("\n".join([
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"PidFile {workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}", "StrictModes no", "PubkeyAuthentication yes",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "PermitRootLogin prohibit-password", f"AllowUsers {user}", "Subsystem sftp internal-sftp",
            "ForceCommand internal-sftp", "AllowTcpForwarding no", "X11Forwarding no", "PermitTTY no",
            "LogLevel VERBOSE", "",
        ]))
        check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
        require(check.returncode == 0, f"sshd refuses the test configuration: {check.stderr.strip()}")
        log = open(log_file, "ab")
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL)
        log.close()
        if _wait_for_banner(port, process):
            known_hosts = workdir / "known_hosts"
            known_hosts.write_text(f"[127.0.0.1]:{port} {host_key_line}\n")
            return SshServer("127.0.0.1", port, user, root, str(client_key), client_key_passphrase,
                             host_key_line, str(known_hosts), log_file, process)
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        last_error = log_file.read_text(errors="replace")[-2000:]
    require(False, f"sshd did not start: {last_error}")
    raise AssertionError("unreachable")


def _wait_for_banner(port: int, process: subprocess.Popen, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False
