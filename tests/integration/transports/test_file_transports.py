"""List, fetch, archive and delete over real FTP, FTPS (pyftpdlib) and SFTP (OpenSSH) servers."""
import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest

from importers.transports import TransportError
from importers.transports.sources import finish_file, open_transport

CP1250 = ("DocEntry;DocNum;DocDate;CardCode;DocCur;LineNum;ItemCode;Dscription;ItmsGrpCod;Quantity;Price;"
          "LineTotal\r\n1;1;20240115;C1;PLN;0;A;\"Złączka; mosiądz\";110;2;1 234,50;2 469,00\r\n").encode("cp1250")


def put(folder, name, data=CP1250, mtime=None):
    path = folder / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_list_matches_patterns_with_size_and_time(remote):
    config, folder = remote
    put(folder, "INV_20240115.csv", mtime=1_700_000_000)
    put(folder, "inv_20240116.CSV", b"x" * 10)
    put(folder, "OCRD_1.csv", b"c")
    (folder / "INV_folder.csv").mkdir()
    with open_transport(config) as transport:
        listed = transport.list("INV_*.csv")
        everything = transport.list()
    assert [f.name for f in listed] == ["INV_20240115.csv", "inv_20240116.CSV"]
    assert (listed[0].size, listed[1].size) == (len(CP1250), 10)
    assert listed[0].mtime == datetime.fromtimestamp(1_700_000_000, UTC)
    assert abs(listed[1].mtime - datetime.now(UTC)) < timedelta(minutes=5)
    assert {f.name for f in everything} == {"INV_20240115.csv", "inv_20240116.CSV", "OCRD_1.csv"}


def test_fetch_streams_exact_bytes_with_their_hash(remote, tmp_path):
    config, folder = remote
    big = os.urandom(3 * 1024 * 1024 + 17)  # several chunks
    put(folder, "INV_big.csv", big)
    put(folder, "INV_small.csv")
    with open_transport(config) as transport:
        fetched = transport.fetch("INV_big.csv", tmp_path / "big.csv")
        small = transport.fetch("INV_small.csv", tmp_path / "small.csv")
    assert (tmp_path / "big.csv").read_bytes() == big
    assert (fetched.size, fetched.sha256) == (len(big), hashlib.sha256(big).hexdigest())
    assert (tmp_path / "small.csv").read_bytes() == CP1250 and small.path == str(tmp_path / "small.csv")
    assert not list(tmp_path.glob("*.part"))


def test_fetch_of_a_missing_file_fails_cleanly(remote, tmp_path):
    config, _ = remote
    with open_transport(config) as transport, pytest.raises(TransportError, match="INV_missing.csv"):
        transport.fetch("INV_missing.csv", tmp_path / "x.csv")
    assert not list(tmp_path.glob("x.csv*"))


def test_archive_creates_the_folder_and_never_overwrites(remote):
    config, folder = remote
    put(folder, "INV_1.csv", b"first")
    with open_transport(config) as transport:
        assert transport.archive("INV_1.csv", "archive") == "archive/INV_1.csv"
        put(folder, "INV_1.csv", b"second")  # the same name uploaded again the next day
        second = transport.archive("INV_1.csv", "archive")
        assert transport.list("INV_*") == []
    assert second.startswith("archive/INV_1.csv.") and second != "archive/INV_1.csv"
    assert (folder / "archive" / "INV_1.csv").read_bytes() == b"first"
    assert (folder / second).read_bytes() == b"second"


def test_delete_and_finish_file_by_policy(remote):
    config, folder = remote
    put(folder, "INV_1.csv")
    put(folder, "INV_2.csv")
    with open_transport(config) as transport:
        transport.delete("INV_1.csv")
        assert [f.name for f in transport.list("INV_*")] == ["INV_2.csv"]
        [item] = transport.list("INV_*")
        assert finish_file(transport, config, item) == "archive/INV_2.csv"
    assert (folder / "archive" / "INV_2.csv").exists() and not (folder / "INV_2.csv").exists()


def test_leave_policy_keeps_the_file(remote):
    config, folder = remote
    from dataclasses import replace
    put(folder, "INV_1.csv")
    with open_transport(config) as transport:
        [item] = transport.list("INV_*")
        assert finish_file(transport, replace(config, after_processing="leave"), item) is None
        assert [f.name for f in transport.list("INV_*")] == ["INV_1.csv"]


def test_using_a_transport_outside_its_with_block_is_an_error(remote):
    config, _ = remote
    with pytest.raises(TransportError, match="with-block"):
        open_transport(config).list()
