"""A file still being uploaded is not picked up: settle time, empty files, done-markers, over real servers."""
import threading
import time

import pytest

from importers.transports import stable_files
from importers.transports.sources import SourceConfigError, finish_file, open_transport, ready_files
from tests.support.sources import source_for


def test_a_growing_file_is_held_back_until_it_stops_changing(remote):
    config, folder = remote
    (folder / "INV_done.csv").write_bytes(b"a;b\n1;2\n")
    growing = folder / "INV_growing.csv"
    growing.write_bytes(b"a;b\n")

    def keep_uploading(seconds):  # the settle wait, during which the upload goes on
        with open(growing, "ab") as handle:
            handle.write(b"1;2\n" * 100)
        time.sleep(seconds)

    with open_transport(config) as transport:
        held = stable_files(transport, "INV_*.csv", 0.05, sleep=keep_uploading)
        assert [f.name for f in held] == ["INV_done.csv"]
        later = stable_files(transport, "INV_*.csv", 0.05)
    assert sorted(f.name for f in later) == ["INV_done.csv", "INV_growing.csv"]
    assert {f.name: f.size for f in later}["INV_growing.csv"] == growing.stat().st_size


def test_a_real_upload_in_progress_is_not_picked_up(remote):
    config, folder = remote
    target = folder / "INV_live.csv"
    target.write_bytes(b"header\n")
    stop = threading.Event()

    def upload():
        with open(target, "ab") as handle:
            while not stop.is_set():
                handle.write(b"x" * 512 + b"\n")
                handle.flush()
                time.sleep(0.02)

    writer = threading.Thread(target=upload)
    writer.start()
    try:
        with open_transport(config) as transport:
            assert stable_files(transport, "INV_*.csv", 0.3) == []
            stop.set()
            writer.join()
            [item] = stable_files(transport, "INV_*.csv", 0.3)
        assert item.name == "INV_live.csv" and item.size == target.stat().st_size
    finally:
        stop.set()
        writer.join()


def test_empty_files_are_not_picked_up(remote):
    config, folder = remote
    (folder / "INV_empty.csv").write_bytes(b"")
    with open_transport(config) as transport:
        assert stable_files(transport, "INV_*.csv", 0) == []


def test_done_markers_are_required_and_moved_with_the_file(remote):
    config, folder = remote
    from dataclasses import replace
    config = replace(config, done_marker="{name}.done")
    (folder / "INV_1.csv").write_bytes(b"a\n")
    (folder / "INV_2.csv").write_bytes(b"b\n")
    (folder / "INV_2.csv.done").write_bytes(b"")
    (folder / "INV_3.csv.done").write_bytes(b"")  # a marker whose file was already archived
    with open_transport(config) as transport:
        [item] = stable_files(transport, "INV_*", 0, config.done_marker)
        assert (item.name, item.marker) == ("INV_2.csv", "INV_2.csv.done")
        finish_file(transport, config, item)
    assert sorted(p.name for p in (folder / "archive").iterdir()) == ["INV_2.csv", "INV_2.csv.done"]
    assert (folder / "INV_1.csv").exists()


def test_stem_markers(remote):
    config, folder = remote
    (folder / "OCRD_7.csv").write_bytes(b"a\n")
    (folder / "OCRD_7.ok").write_bytes(b"")
    with open_transport(config) as transport:
        [item] = stable_files(transport, "OCRD_*", 0, "{stem}.ok")
    assert (item.name, item.marker) == ("OCRD_7.csv", "OCRD_7.ok")


def test_ready_files_sorts_files_into_kinds_with_one_wait(remote):
    config, folder = remote
    (folder / "INV_1.csv").write_bytes(b"a\n")
    (folder / "OCRD_1.csv").write_bytes(b"b\n")
    (folder / "README.txt").write_bytes(b"c\n")
    waits = []
    with open_transport(config) as transport:
        found = ready_files(transport, config, sleep=lambda s: (waits.append(s), time.sleep(s)))
        only = ready_files(transport, config, kinds=("invoices",), sleep=lambda s: None)
    assert [(kind, f.name) for kind, f in found] == [("customers", "OCRD_1.csv"), ("invoices", "INV_1.csv")]
    assert waits == [config.settle_seconds]
    assert [(kind, f.name) for kind, f in only] == [("invoices", "INV_1.csv")]


def test_a_file_matching_two_kinds_is_a_configuration_error(ftp_server):
    config = source_for(ftp_server, patterns={"invoices": "*.csv", "credit_notes": "*.csv"})
    (ftp_server.root / "X.csv").write_bytes(b"a\n")
    with open_transport(config) as transport, pytest.raises(SourceConfigError, match="both"):
        ready_files(transport, config, sleep=lambda s: None)
