"""Trust is checked, never switched off: FTPS certificates, SFTP pinned host keys, secrets kept out of logs."""
import logging
import subprocess
from dataclasses import replace

import pytest

from importers.transports import HostKeyMismatch, TransportError, UntrustedCertificate
from importers.transports.sftp import fingerprint, load_host_key
from importers.transports.sources import SourceConfigError, open_transport, source_from_dict
from tests.support.servers import SSH_KEYGEN, make_tls_files, start_ftp_server
from tests.support.sources import source_for


def test_ftps_protects_the_data_channel(ftps_server):
    (ftps_server.root / "INV_1.csv").write_bytes(b"secret payload")
    with open_transport(source_for(ftps_server)) as transport:
        assert transport.ftp.sock.version().startswith("TLS")
        assert transport.ftp._prot_p  # PROT P: transfers are encrypted too
        assert [f.name for f in transport.list()] == ["INV_1.csv"]


def test_ftps_refuses_a_certificate_from_an_untrusted_ca(ftps_server, other_tls_files):
    config = replace(source_for(ftps_server), cafile=other_tls_files.ca_cert)
    with pytest.raises(UntrustedCertificate) as caught:
        open_transport(config).connect()
    assert "not trusted" in str(caught.value) and "cafile" in str(caught.value)


def test_ftps_refuses_a_self_made_ca_with_the_system_trust_store(ftps_server):
    with pytest.raises(UntrustedCertificate):
        open_transport(replace(source_for(ftps_server), cafile=None)).connect()


def test_ftps_refuses_a_certificate_for_another_host_name(tmp_path):
    elsewhere = make_tls_files(tmp_path / "tls", dns_names=("ftp.example.invalid",), ips=())
    server = start_ftp_server(tmp_path / "root", tls=elsewhere)
    try:
        with pytest.raises(UntrustedCertificate, match="mismatch"):
            open_transport(source_for(server)).connect()  # trusted CA, but the certificate names another host
    finally:
        server.stop()


def test_plain_ftp_client_cannot_log_in_where_tls_is_required(ftps_server):
    config = replace(source_for(ftps_server), protocol="ftp")
    with pytest.raises(TransportError):
        open_transport(config).connect()


def test_sftp_with_a_known_hosts_file_for_a_non_standard_port(sshd_server, sftp_dir):
    (sftp_dir / "INV_1.csv").write_bytes(b"x")
    config = source_for(sshd_server, sftp_dir, host_key=sshd_server.known_hosts)
    with open_transport(config) as transport:
        assert [f.name for f in transport.list()] == ["INV_1.csv"]


def test_sftp_with_a_known_hosts_line(sshd_server, sftp_dir):
    line = f"[127.0.0.1]:{sshd_server.port} {sshd_server.host_key_line} comment"
    with open_transport(source_for(sshd_server, sftp_dir, host_key=line)) as transport:
        assert transport.list() == []


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_sftp_refuses_a_server_whose_key_is_not_the_pinned_one(sshd_server, sftp_dir, tmp_path, kind):
    subprocess.run([SSH_KEYGEN, "-q", "-t", kind, "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    (sftp_dir / "INV_1.csv").write_bytes(b"x")
    with pytest.raises(HostKeyMismatch) as caught:
        open_transport(source_for(sshd_server, sftp_dir, host_key=other)).connect()
    message = str(caught.value)
    pinned = fingerprint(load_host_key(other, "127.0.0.1"))
    assert pinned in message and "Nothing was downloaded" in message
    if kind == "ed25519":  # same type: the server's real key is shown for the operator to compare
        real = fingerprint(load_host_key(sshd_server.host_key_line, "127.0.0.1"))
        assert real in message


def test_sftp_known_hosts_without_the_port_entry_is_refused(sshd_server, sftp_dir, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(f"127.0.0.1 {sshd_server.host_key_line}\n")  # port 22 entry only
    with pytest.raises(TransportError, match=rf"no key for \[127.0.0.1\]:{sshd_server.port}"):
        open_transport(source_for(sshd_server, sftp_dir, host_key=str(known))).connect()


def test_sftp_source_without_a_host_key_is_refused_at_configuration():
    with pytest.raises(SourceConfigError, match="host_key is missing"):
        source_from_dict({"name": "s", "protocol": "sftp", "host": "h", "username": "u", "password": "p",
                          "patterns": {"invoices": "*.csv"}})


def test_sftp_with_a_wrong_key_passphrase(sshd_server, sftp_dir):
    config = replace(source_for(sshd_server, sftp_dir), private_key_passphrase="wrong")
    with pytest.raises(TransportError, match="Cannot load the private key") as caught:
        open_transport(config).connect()
    assert "wrong" not in str(caught.value).replace("wrong password", "")


def test_secrets_never_reach_logs_reprs_or_errors(ftp_server, sshd_server, sftp_dir, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, including paramiko's and pyftpdlib's
    ftp_config = source_for(ftp_server)
    sftp_config = source_for(sshd_server, sftp_dir)
    secrets = [ftp_server.password, sshd_server.client_key_passphrase]
    (ftp_server.root / "INV_1.csv").write_bytes(b"x")
    (sftp_dir / "INV_1.csv").write_bytes(b"x")
    texts = []
    for config in (ftp_config, sftp_config):
        with open_transport(config) as transport:
            transport.fetch("INV_1.csv", tmp_path / f"{config.protocol}.csv")
            texts += [repr(transport), str(transport)]
        texts += [repr(config), str(config), str(config.public_dict())]
    bad_login = replace(ftp_config, password="another-Secret-99")
    secrets.append("another-Secret-99")
    with pytest.raises(TransportError) as caught:
        open_transport(bad_login).connect()
    texts += [str(caught.value), repr(bad_login)]
    logging.getLogger("importers").info("source: %s %r", ftp_config, ftp_config)
    assert "530" in str(caught.value) or "Login" in str(caught.value)
    assert caplog.records, "the servers and clients did log something"
    everything = caplog.text + "\n".join(texts)
    for secret in secrets:
        assert secret not in everything
    assert "password" not in repr(ftp_config).lower() or "password=" not in repr(ftp_config)
    assert ftp_config.public_dict()["password"] == "set"


def test_ftp_listing_without_mlsd_falls_back_to_size_and_mdtm(tmp_path):
    server = start_ftp_server(tmp_path / "old-ftp", without_mlsd=True)
    try:
        (server.root / "INV_1.csv").write_bytes(b"12345")
        (server.root / "sub").mkdir()
        with open_transport(source_for(server)) as transport:
            [item] = transport.list()
        assert (item.name, item.size) == ("INV_1.csv", 5) and item.mtime is not None
    finally:
        server.stop()
