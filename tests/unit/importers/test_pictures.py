"""The picture fetcher's SSRF guard: what it refuses before any connection, and what an operator may allow."""
from __future__ import annotations

import pytest

from importers import pictures


@pytest.mark.parametrize("url", ["http://10.1.2.3/a.png", "http://192.168.0.1/a.png", "http://127.0.0.1:8080/a.png",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]/a.png",
                                 "http://[::ffff:127.0.0.1]/a.png", "http://0.0.0.0/a.png", "http://100.64.0.1/"])
def test_non_global_addresses_are_refused(url):
    with pytest.raises(pictures.Refused, match="private or loopback"):
        pictures.resolve(url)


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "gopher://x/", "http:///a.png",
                                 "http://example.com:99999/a.png"])
def test_only_http_urls_with_a_host_and_a_valid_port(url):
    with pytest.raises(pictures.Refused):
        pictures.resolve(url)


def test_the_operator_allows_a_host_an_address_or_a_network():
    assert pictures.resolve("http://10.1.2.3/a.png", ("10.0.0.0/8",))[3] == ["10.1.2.3"]
    assert pictures.resolve("http://127.0.0.1/a.png", ("127.0.0.1",))[3] == ["127.0.0.1"]
    assert set(pictures.resolve("http://localhost/a.png", ("localhost",))[3]) <= {"127.0.0.1", "::1"}
    with pytest.raises(pictures.Refused):
        pictures.resolve("http://10.1.2.3/a.png", ("192.168.0.0/16", "cdn.example"))


def test_a_type_is_taken_only_when_the_bytes_agree():
    assert pictures._content_type("image/png; q=1", b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert pictures._content_type("IMAGE/WEBP", b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    for header, head in (("image/svg+xml", b"<svg"), ("image/webp", b"RIFF\x00\x00\x00\x00WAVE"),
                         ("image/jpeg", b"\x89PNG"), (None, b"\xff\xd8\xff")):
        with pytest.raises(pictures.Refused):
            pictures._content_type(header, head)
