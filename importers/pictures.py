"""Product pictures in: one image fetched over HTTP(S) behind an SSRF guard, a size limit and a type allow-list.

The guard resolves the host itself and connects to the very address it
checked (TLS still verifies the host name), so a DNS answer that changes
between the check and the connection cannot point the fetch inward. Any
address that is not global (private, loopback, link-local, reserved) is
refused unless the operator allowed its host name, the address or a network
holding it. Redirects are followed a few times, each hop guarded again. The
body must be one of the allowed image types by its header *and* its first
bytes, and no larger than the limit (the connection is dropped as soon as it
grows past it). `Refused` is final; `Unavailable` (timeouts, connection
errors, 5xx, 429) is worth another try.
"""
from __future__ import annotations

import hashlib
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

TYPES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",),
         "image/gif": (b"GIF87a", b"GIF89a"), "image/webp": (b"RIFF",)}
MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = 10.0
MAX_REDIRECTS = 3


class Refused(ValueError):
    """A picture we will not take from this URL (unsafe address, not an image, too large, gone)."""


class Unavailable(Exception):
    """The source did not answer well this time; another try may work."""


@dataclass(frozen=True)
class Picture:
    url: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _allowed(host: str, address, allow: tuple[str, ...]) -> bool:
    for item in allow:
        item = item.strip()
        if not item:
            continue
        if item.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue  # a host name that is not this one
    return False


def resolve(url: str, allow: tuple[str, ...] = ()) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, the checked addresses to connect to) for a URL the guard accepts."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"{url!r} is not an http(s) URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused(f"{url!r} has an invalid port") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Unavailable(f"the host {parts.hostname!r} does not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    for address in addresses:
        if not address.is_global and not _allowed(parts.hostname, address, allow):
            raise Refused(f"{parts.hostname} resolves to {address}, a private or loopback address; "
                          "the operator can allow the host with PICTURE_ALLOW_HOSTS")
    return parts.scheme, parts.hostname, port, list(dict.fromkeys(str(a) for a in addresses))


def _connect(addresses: list[str], port: int, timeout: float) -> socket.socket:
    """A connection to the first of the checked addresses that answers (never a fresh lookup)."""
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float, cafile: str | None = None):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self):
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float, cafile: str | None = None):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context(cafile=cafile))
        self._addresses = addresses

    def connect(self):
        # The socket goes to a checked address; the certificate must still name the host.
        self.sock = self._context.wrap_socket(_connect(self._addresses, self.port, self.timeout),
                                              server_hostname=self.host)


def _content_type(header: str | None, head: bytes) -> str:
    kind = (header or "").split(";", 1)[0].strip().lower()
    if kind not in TYPES:
        raise Refused(f"the answer is {kind or 'of no type'}, not an image of type {', '.join(TYPES)}")
    if not head.startswith(TYPES[kind]) or (kind == "image/webp" and head[8:12] != b"WEBP"):
        raise Refused(f"the answer says {kind} but its bytes are not such an image")
    return kind


def _read(response, limit: int, deadline: float) -> bytes:
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise Refused(f"the picture is {int(length):,} bytes, more than the limit of {limit:,} bytes")
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise Unavailable("the picture took too long to arrive")
        chunk = response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise Refused(f"the picture is more than the limit of {limit:,} bytes")
        chunks.append(chunk)


def fetch(url: str, *, allow: tuple[str, ...] = (), max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT,
          cafile: str | None = None) -> Picture:
    """The picture at ``url``, or `Refused` / `Unavailable` with a sentence that says why (``cafile``:
    certificate authorities to trust instead of the system's)."""
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        scheme, host, port, addresses = resolve(url, allow)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pinned = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        connection = pinned(host, port, addresses, timeout, cafile)
        try:
            connection.request("GET", target, headers={
                "Host": parts.netloc.rsplit("@", 1)[-1], "Accept": ", ".join(TYPES),
                "User-Agent": "loyalty-server-pictures/1"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location"))
                continue
            if response.status == 429 or response.status >= 500:
                raise Unavailable(f"the source answered HTTP {response.status}")
            if response.status != 200:
                raise Refused(f"the source answered HTTP {response.status}")
            data = _read(response, max_bytes, deadline)
            return Picture(url, _content_type(response.getheader("Content-Type"), data[:16]), data)
        except (OSError, http.client.HTTPException) as exc:
            raise Unavailable(f"{exc.__class__.__name__}: {exc}"[:300]) from None
        finally:
            connection.close()
    raise Refused(f"more than {MAX_REDIRECTS} redirects")
