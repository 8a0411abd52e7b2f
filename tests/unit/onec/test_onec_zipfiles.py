"""safe_unzip: real archives, zip bombs (ratio, entries, total), zip-slip names, lying headers."""
from __future__ import annotations

import io
import stat
import zipfile

import pytest
from onec_samples import orders_file

from engine.onec import ZipLimits
from importers.onec import ZipRefused, safe_unzip

MiB = 1024 * 1024


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]],
             compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buffer.getvalue()


def test_real_upload_unpacks_in_memory_and_to_a_folder(tmp_path):
    archive = make_zip([("orders.xml", orders_file()), ("import_files/ab/pic.jpg", b"\xff\xd8")])
    assert safe_unzip(archive) == [("orders.xml", orders_file()),
                                   ("import_files/ab/pic.jpg", b"\xff\xd8")]
    path = tmp_path / "upload.zip"
    path.write_bytes(archive)
    out = tmp_path / "out"
    written = safe_unzip(path, ZipLimits(), dest=out)
    assert [name for name, _ in written] == ["orders.xml", "import_files/ab/pic.jpg"]
    assert (out / "orders.xml").read_bytes() == orders_file()


def test_cp866_entry_names_from_old_windows_archivers():
    # Old archivers write cp866 bytes without the UTF-8 flag; zipfile reads them as cp437.
    archive = make_zip([("ZZZZZZ.xml", b"<r/>")])
    archive = archive.replace(b"ZZZZZZ", "заказы".encode("cp866"))
    assert safe_unzip(archive)[0][0] == "заказы.xml"


def test_ratio_bomb_is_refused():
    archive = make_zip([("bomb.xml", b"\0" * (8 * MiB))])
    with pytest.raises(ZipRefused, match="compressed more than 200 times"):
        safe_unzip(archive)


def test_too_many_entries_are_refused():
    archive = make_zip([(f"f{i}.xml", b"<r/>") for i in range(11)])
    with pytest.raises(ZipRefused, match="11 entries, over the limit of 10"):
        safe_unzip(archive, ZipLimits(max_entries=10))
    assert len(safe_unzip(archive, ZipLimits(max_entries=11))) == 11


def test_total_and_per_entry_declared_sizes_are_refused():
    archive = make_zip([(f"f{i}.xml", bytes(range(256)) * 40) for i in range(4)],
                       zipfile.ZIP_STORED)
    with pytest.raises(ZipRefused, match="would unpack to 40960 bytes"):
        safe_unzip(archive, ZipLimits(max_total_bytes=40000))
    with pytest.raises(ZipRefused, match="over the limit of 10000"):
        safe_unzip(archive, ZipLimits(max_entry_bytes=10000))
    with pytest.raises(ZipRefused, match="archive is"):
        safe_unzip(archive, ZipLimits(max_archive_bytes=1000))


def test_lying_header_is_caught_while_reading():
    with pytest.raises(ZipRefused):
        safe_unzip(lying_zip([("small.xml", b"A" * 5000)], 5000, 100))


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/cron.d/evil", "C:\\Windows\\evil.xml",
                                  "a/../../evil.xml", "..\\..\\evil.xml"])
def test_zip_slip_names_are_refused(name, tmp_path):
    archive = make_zip([(zipfile.ZipInfo(name), b"<r/>")])
    with pytest.raises(ZipRefused):
        safe_unzip(archive, dest=tmp_path / "out")
    assert not (tmp_path / "evil.xml").exists()


def test_symlinks_encrypted_and_duplicate_entries_are_refused():
    link = zipfile.ZipInfo("link.xml")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(ZipRefused, match="symbolic link"):
        safe_unzip(make_zip([(link, b"/etc/passwd")]))
    locked = bytearray(make_zip([("locked.xml", b"<r/>")], zipfile.ZIP_STORED))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        locked[locked.index(signature) + flags_at] |= 0x1  # the "encrypted" flag bit
    with pytest.raises(ZipRefused, match="encrypted"):
        safe_unzip(bytes(locked))
    with pytest.warns(UserWarning):
        twice = make_zip([("a.xml", b"1"), ("a.xml", b"2")])
    with pytest.raises(ZipRefused, match="twice"):
        safe_unzip(twice)


def lying_zip(entries: list[tuple[str, bytes]], liar_size: int, declared: int) -> bytes:
    """A stored zip whose entry of ``liar_size`` bytes declares only ``declared`` bytes."""
    archive = make_zip(entries, zipfile.ZIP_STORED)
    real, fake = liar_size.to_bytes(4, "little"), declared.to_bytes(4, "little")
    assert archive.count(real + real) == 2  # compressed size + size, local and central header
    return archive.replace(real + real, real + fake)


def test_not_a_zip_and_cleanup_after_a_refusal_while_reading(tmp_path):
    with pytest.raises(ZipRefused, match="not a readable zip"):
        safe_unzip(b"PK\x03\x04 definitely not")
    out = tmp_path / "out"
    archive = lying_zip([("good.xml", b"<r/>"), ("liar.xml", b"B" * 7000)], 7000, 70)
    with pytest.raises(ZipRefused):
        safe_unzip(archive, dest=out)
    assert not (out / "good.xml").exists() and not (out / "liar.xml").exists()


def test_existing_files_are_never_overwritten(tmp_path):
    (tmp_path / "orders.xml").write_bytes(b"mine")
    with pytest.raises(ZipRefused, match="overwrite"):
        safe_unzip(make_zip([("orders.xml", b"<r/>")]), dest=tmp_path)
    assert (tmp_path / "orders.xml").read_bytes() == b"mine"
