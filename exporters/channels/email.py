"""E-mail over SMTP with the standard library: plain, STARTTLS or TLS, with or without login."""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from exporters.channels import Outcome

SECURITY = ("none", "starttls", "tls")


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int = 587
    security: str = "starttls"
    user: str = ""
    password: str = ""
    sender: str = "loyalty@localhost"
    timeout: float = 15.0
    verify_tls: bool = True

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify_tls:  # a test server's self-signed certificate, only when configured so
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def message(self, to: str, subject: str, body: str, delivery_key: str) -> EmailMessage:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        # The delivery key as Message-ID: a resend after a crash is recognisable as the same mail.
        domain = self.sender.rpartition("@")[2] or "localhost"
        message["Message-ID"] = f"<{delivery_key}@{domain}>"
        message.set_content(body)
        return message

    def connect(self) -> smtplib.SMTP:
        """A connection ready to send: TLS as configured, logged in when there is a user."""
        if self.security == "tls":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                client.starttls(context=self._context())
            if self.user:
                client.login(self.user, self.password)
        except BaseException:
            client.close()
            raise
        return client

    def send(self, to: str, subject: str, body: str, *, delivery_key: str) -> Outcome:
        """One mail over a connection of its own."""
        def over_own_connection(message):
            with self.connect() as client:
                return client.send_message(message)
        return _outcome(over_own_connection, self.message(to, subject, body, delivery_key), to)


class SmtpSession:
    """One SMTP connection for a worker's batch: opened at the first mail, reused for the next ones,
    opened again once when the server dropped it while idle (nothing was sent then); `close` at the end."""

    def __init__(self, sender: SmtpSender):
        self.sender, self.client = sender, None

    def send(self, to: str, subject: str, body: str, *, delivery_key: str) -> Outcome:
        return _outcome(self._send, self.sender.message(to, subject, body, delivery_key), to)

    def _send(self, message: EmailMessage):
        if self.client is not None:
            try:
                self.client.noop()  # a server that timed the idle connection out answers here, before MAIL
            except (OSError, smtplib.SMTPException):
                self.close()
        if self.client is None:
            self.client = self.sender.connect()
        try:
            return self.client.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException):
            raise  # the server answered (and smtplib reset the transaction): the connection is still good
        except OSError:  # SMTPException is one too: disconnected, or a network error
            self.close()
            raise

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                self.client.close()
            self.client = None


def _outcome(send, message: EmailMessage, to: str) -> Outcome:
    try:
        refused = send(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return Outcome(False, detail=f"the server refused {to}: {exc.recipients}", retry=False)
    except smtplib.SMTPResponseException as exc:
        # 5xx is permanent in SMTP; 4xx (greylisting, a full mailbox) is worth another try.
        return Outcome(False, status_code=exc.smtp_code, detail=str(exc.smtp_error)[:500],
                       retry=exc.smtp_code < 500)
    except (OSError, smtplib.SMTPException) as exc:
        return Outcome(False, detail=f"{exc.__class__.__name__}: {exc}"[:500])
    if refused:
        return Outcome(False, detail=f"refused: {refused}", retry=False)
    return Outcome(True, status_code=250)
