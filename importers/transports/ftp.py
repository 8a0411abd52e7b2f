"""FTP and explicit FTPS (``AUTH TLS``, protected data channel) with ftplib.

FTPS verifies the server certificate and its host name against the system
trust store or the source's ``cafile``; there is no switch to turn that off.
Listings use MLSD (size and UTC modification time in one round trip) and fall
back to NLST + SIZE + MDTM for servers without it.
"""
from __future__ import annotations

import ftplib
import logging
import posixpath
import ssl
from datetime import UTC, datetime

from importers.transports.base import RemoteFile, Transport, TransportError, UntrustedCertificate, _HashingWriter

log = logging.getLogger(__name__)


def _parse_time(value: str | None) -> datetime | None:
    """MLSD/MDTM time (``YYYYMMDDHHMMSS[.sss]``, UTC by RFC 3659)."""
    if not value:
        return None
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


class _TolerantSSLSocket(ssl.SSLSocket):
    """A data-channel socket whose closing handshake may be cut short after an empty transfer.

    With TLS 1.3, ``unwrap()`` after a transfer that carried no bytes (an empty
    listing) can fail with SHUTDOWN_WHILE_IN_INIT although the transfer is
    fine (cpython bpo-34391); ftplib then still reads the server's 226 reply,
    which is what proves the transfer completed.
    """

    def unwrap(self):
        try:
            return super().unwrap()
        except ssl.SSLError as exc:
            if exc.reason != "SHUTDOWN_WHILE_IN_INIT":
                raise
            return None


class _FTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS that resumes the control channel's TLS session on data channels.

    Servers such as vsftpd (``require_ssl_reuse``) and FileZilla Server refuse
    a data connection that does not, to be sure it comes from the same client.
    """

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


class FtpTransport(Transport):
    def __init__(self, host: str, port: int = 21, username: str = "anonymous", password: str = "",
                 remote_dir: str = ".", tls: bool = False, cafile: str | None = None, timeout: float = 30.0):
        self.host, self.port, self.username = host, port, username
        self._password = password
        self.remote_dir, self.tls, self.cafile, self.timeout = remote_dir, tls, cafile, timeout
        self._ftp: ftplib.FTP | None = None

    def __repr__(self) -> str:
        scheme = "ftps" if self.tls else "ftp"
        return f"<{type(self).__name__} {scheme}://{self.username}@{self.host}:{self.port}/{self.remote_dir}>"

    def _where(self) -> str:
        return f"{'FTPS' if self.tls else 'FTP'} server {self.host}:{self.port}"

    def connect(self) -> None:
        if self.tls:
            context = ssl.create_default_context(cafile=self.cafile)
            context.sslsocket_class = _TolerantSSLSocket
            ftp: ftplib.FTP = _FTP_TLS(context=context, timeout=self.timeout)
        else:
            ftp = ftplib.FTP(timeout=self.timeout)
        try:
            ftp.connect(self.host, self.port)
            ftp.login(self.username, self._password)
            if self.tls:
                ftp.prot_p()  # encrypt file transfers too, not only the login
            if self.remote_dir not in ("", "."):
                ftp.cwd(self.remote_dir)
        except ssl.SSLCertVerificationError as exc:
            _quiet_close(ftp)
            raise UntrustedCertificate(
                f"The {self._where()} presented a certificate that is not trusted ({exc.verify_message}). "
                "Give the source the CA certificate that signed it (cafile), or fix the server's certificate."
            ) from None
        except (*ftplib.all_errors, ssl.SSLError) as exc:
            _quiet_close(ftp)
            raise TransportError(f"Cannot open the {self._where()} as {self.username}: {exc}") from None
        self._ftp = ftp
        log.info("connected to %r", self)

    def close(self) -> None:
        if self._ftp is not None:
            try:
                self._ftp.quit()
            except (*ftplib.all_errors, ssl.SSLError):
                self._ftp.close()
            self._ftp = None

    @property
    def ftp(self) -> ftplib.FTP:
        if self._ftp is None:
            raise TransportError("The FTP connection is not open (use the transport in a with-block).")
        return self._ftp

    def _call(self, what: str, func, *args):
        try:
            return func(*args)
        except (*ftplib.all_errors, ssl.SSLError) as exc:
            raise TransportError(f"{what} on the {self._where()} failed: {exc}") from None

    def _list_all(self) -> list[RemoteFile]:
        try:
            entries = list(self.ftp.mlsd(facts=["type", "size", "modify"]))
        except ftplib.error_perm:
            return self._list_without_mlsd()
        except (*ftplib.all_errors, ssl.SSLError) as exc:
            raise TransportError(f"Listing the {self._where()} failed: {exc}") from None
        return [RemoteFile(name, int(facts.get("size", 0)), _parse_time(facts.get("modify")))
                for name, facts in entries if facts.get("type", "file") == "file"]

    def _list_without_mlsd(self) -> list[RemoteFile]:
        names = self._call("Listing", self.ftp.nlst)
        self._call("Switching to binary mode", self.ftp.voidcmd, "TYPE I")  # SIZE is refused in ASCII mode
        files = []
        for name in names:
            name = posixpath.basename(name)
            try:
                size = self.ftp.size(name)
            except ftplib.error_perm:  # a folder, or a server that does not tell
                continue
            try:
                modified = _parse_time(self.ftp.voidcmd(f"MDTM {name}").split()[-1])
            except ftplib.error_perm:
                modified = None
            files.append(RemoteFile(name, int(size or 0), modified))
        return files

    def _download(self, name: str, sink: _HashingWriter) -> None:
        self._call(f"Downloading {name}", self.ftp.retrbinary, f"RETR {name}", sink.write)

    def _exists(self, path: str) -> bool:
        """Whether a file exists, asked on the control channel (SIZE) without opening a data connection."""
        self._call("Switching to binary mode", self.ftp.voidcmd, "TYPE I")
        try:
            self.ftp.size(path)
        except ftplib.error_perm:
            return False
        except (*ftplib.all_errors, ssl.SSLError) as exc:
            raise TransportError(f"Checking {path} on the {self._where()} failed: {exc}") from None
        return True

    def _make_dir(self, folder: str) -> None:
        try:
            self.ftp.mkd(folder)
        except ftplib.error_perm:
            pass  # it exists already (or cannot be made: the rename will say so)
        except (*ftplib.all_errors, ssl.SSLError) as exc:
            raise TransportError(f"Creating {folder} on the {self._where()} failed: {exc}") from None

    def _rename(self, name: str, target: str) -> None:
        self._call(f"Moving {name} to {target}", self.ftp.rename, name, target)

    def delete(self, name: str) -> None:
        self._call(f"Deleting {name}", self.ftp.delete, name)


def _quiet_close(ftp: ftplib.FTP) -> None:
    try:
        ftp.close()
    except OSError:
        pass
