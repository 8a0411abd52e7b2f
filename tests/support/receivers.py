"""Real receivers on loopback for outbox tests: an HTTP server in a thread, an SMTP server (aiosmtpd).

The HTTP receiver records every request (path, headers, body) and answers
from a script of status codes (then 200); it can also run a hook before it
answers — the crash test kills the sending worker there. Like an SMS
gateway with idempotency, it can count distinct delivery keys.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tests.support.servers import free_port, require


@dataclass
class Request:
    path: str
    headers: dict
    body: bytes

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


def start_smtp() -> SmtpReceiver:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        require(False, "aiosmtpd is not installed (pip install -e .[dev])")
    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    return SmtpReceiver(controller, received)
