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

    def send(self, to: str, subject: str, body: str, *, delivery_key: str) -> Outcome:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        # The delivery key as Message-ID: a resend after a crash is recognisable as the same mail.
        domain = self.sender.rpartition("@")[2] or "localhost"
        message["Message-ID"] = f"<{delivery_key}@{domain}>"
        message.set_content(body)
        try:
            if self.security == "tls":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=self._context())
                if self.user:
                    client.login(self.user, self.password)
                refused = client.send_message(message)
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
