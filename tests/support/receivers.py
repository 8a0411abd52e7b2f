"""Real receivers on loopback for outbox tests: an HTTP server in a thread, an SMTP server (aiosmtpd).

The HTTP receiver records every request (path, headers, body) and answers
from a script of status codes (then 200); it can also run a hook before it
answers — the crash test kills the sending worker there. Like an SMS
gateway with idempotency, it can count distinct delivery keys.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tests.support.servers import free_port, require


@dataclass
class Request:
    path: str
    headers: dict
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived (the pacing tests measure spacing)

    @property
    def form(self) -> dict:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    statuses: list[int] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    before_answer: object = None  # callable(Request), run before the answer is written
    answer: object = None  # callable(Request) -> (status, body dict)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length))
                receiver.requests.append(request)
                if receiver.before_answer:
                    receiver.before_answer(request)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                body = {"ok": True}
                if receiver.answer and status == 200:
                    status, body = receiver.answer(request)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the sender was killed while waiting (the crash test)
                    pass

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def smsapi_answer(request: Request):
    """SMSAPI.pl's answer to ``/sms.do`` (one message queued)."""
    form = request.form
    return 200, {"count": 1, "list": [{"id": form.get("idx") or "1", "points": 0.16,
                                       "number": form.get("to"), "status": "QUEUE"}]}


@dataclass
class SmtpReceiver:
    controller: object
    messages: list

    @property
    def port(self) -> int:
        return self.controller.port

    def stop(self) -> None:
        self.controller.stop()


def _tls_context(folder):
    """A self-signed certificate for 127.0.0.1, as a server-side SSL context."""
    import datetime as dt
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False).sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "smtp.crt", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def start_smtp(*, starttls_folder=None, users: dict | None = None) -> SmtpReceiver:
    """aiosmtpd on loopback; with ``starttls_folder`` it offers STARTTLS, with ``users`` it
    requires a login (over TLS)."""
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult
    except ImportError:
        require(False, "aiosmtpd is not installed (pip install -e .[dev])")
    received: list = []

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("nobody@"):
                return "550 5.1.1 no such mailbox"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    def authenticator(_server, _session, _envelope, mechanism, auth_data):
        ok = users is not None and users.get(auth_data.login.decode()) == auth_data.password.decode()
        return AuthResult(success=ok)

    options = {}
    if starttls_folder is not None:
        options.update(tls_context=_tls_context(starttls_folder), require_starttls=True)
    if users is not None:
        options.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return SmtpReceiver(controller, received)
