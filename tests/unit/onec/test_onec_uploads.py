"""Upload names from 1C's `filename=` and chunked appends that never leave the folder."""
from __future__ import annotations

import os

import pytest

from importers.onec import UnsafeName, UploadTooLarge, append_upload, safe_basename, upload_path


@pytest.mark.parametrize("raw, expected", [
    ("orders.xml", "orders.xml"),
    ("/tmp/1c_exchange/webdata/000000001/orders-2b3c.xml", "orders-2b3c.xml"),
    ("C:\\Users\\1c\\AppData\\Local\\Temp\\import.xml", "import.xml"),
    ("C:import.xml", "import.xml"),
    ("import_files/ab/abcdef.jpg", "abcdef.jpg"),
    ("../../etc/passwd", "passwd"),
    ("  заказы.xml ", "заказы.xml"),
])
def test_safe_basename_keeps_only_the_base_name(raw, expected):
    assert safe_basename(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "/", "dir/", ".", "..", "/tmp/..", "...", ".htaccess",
                                 "a\x00b.xml", "line\nbreak.xml", "x" * 300])
def test_unusable_names_are_refused(raw):
    with pytest.raises(UnsafeName):
        safe_basename(raw)


def test_upload_path_stays_in_the_folder(tmp_path):
    assert upload_path(tmp_path, "/etc/passwd") == (tmp_path / "passwd").resolve()
    assert upload_path(tmp_path, "..\\..\\boot.ini").parent == tmp_path.resolve()


def test_chunks_are_appended_in_order_and_capped(tmp_path):
    path, size = append_upload(tmp_path, "/abs/orders.xml", b"<r>", 10)
    path, size = append_upload(tmp_path, "orders.xml", b"12345", 10)
    assert path.read_bytes() == b"<r>12345" and size == 8
    with pytest.raises(UploadTooLarge, match="over the limit of 10 bytes"):
        append_upload(tmp_path, "orders.xml", b"</r>", 10)
    assert path.read_bytes() == b"<r>12345"  # nothing written past the limit


def test_append_refuses_to_follow_a_symlink(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_bytes(b"keep")
    folder = tmp_path / "uploads"
    folder.mkdir()
    os.symlink(target, folder / "orders.xml")
    with pytest.raises(UnsafeName):
        append_upload(folder, "orders.xml", b"evil", 100)
    assert target.read_bytes() == b"keep"
