"""Source configuration: validation with every problem listed, secrets never shown (importers/transports/sources.py)."""
import json
import logging

import pytest

from importers.transports import FtpTransport, SftpTransport, TransportError
from importers.transports.base import marker_for, marker_pattern, matches
from importers.transports.sftp import load_host_key
from importers.transports.sources import SourceConfigError, open_transport, source_from_dict, sources_from_json

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
SFTP = {"name": "sap", "protocol": "sftp", "host": "erp.example.pl", "username": "loyalty",
        "private_key_path": "/etc/loyalty/key", "private_key_passphrase": "Pass-Phrase-42", "host_key": ED25519,
        "remote_dir": "/exports", "patterns": {"invoices": "INV_*.csv"}}
FTPS = {"name": "sap-ftp", "protocol": "ftps", "host": "ftp.example.pl", "username": "loyalty",
        "password": "Very-Secret-Pw", "cafile": "/etc/ssl/ca.pem", "patterns": {"customers": "OCRD_*.csv"},
        "profiles": {"customers": {"phone_regions": ["PL", "DE"]}}, "settle_seconds": 5}


def test_a_full_sftp_source():
    config = source_from_dict(SFTP)
    assert (config.protocol, config.port, config.remote_dir, config.after_processing, config.archive_dir,
            config.settle_seconds) == ("sftp", 22, "/exports", "archive", "archive", 30.0)
    assert isinstance(open_transport(config), SftpTransport)


def test_ftps_source_with_profile_overrides():
    config = source_from_dict(FTPS)
    assert config.port == 21 and config.settle_seconds == 5.0
    assert config.profile_for("customers").phone_regions == ("PL", "DE")
    assert config.profile_for("invoices").decimal_separator == ","  # defaults for kinds not overridden
    transport = open_transport(config)
    assert isinstance(transport, FtpTransport) and transport.tls and transport.cafile == "/etc/ssl/ca.pem"


def test_secrets_are_not_in_repr_str_public_dict_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for data, secret in ((SFTP, "Pass-Phrase-42"), (FTPS, "Very-Secret-Pw")):
        config = source_from_dict(data)
        logging.getLogger("importers.transports.sources").info("source %s %r %s", config, config, config.public_dict())
        shown = " ".join([repr(config), str(config), json.dumps(config.public_dict()),
                          repr(open_transport(config))])
        assert secret not in shown
        assert config.username in shown
    assert "Pass-Phrase-42" not in caplog.text and "Very-Secret-Pw" not in caplog.text
    assert source_from_dict(FTPS).public_dict()["password"] == "set"


def test_password_from_the_environment():
    config = source_from_dict({**FTPS, "password": None, "password_env": "SAP_PW"}, environ={"SAP_PW": "x1"})
    assert config.password == "x1"
    with pytest.raises(SourceConfigError, match="SAP_PW"):
        source_from_dict({**FTPS, "password_env": "SAP_PW"}, environ={})


def test_every_problem_is_listed():
    with pytest.raises(SourceConfigError) as caught:
        source_from_dict({"name": "bad", "protocol": "sftp", "port": 70000, "patterns": {"orders": "*.csv",
                          "invoices": "in/*.csv"}, "after_processing": "shred", "settle_seconds": -1,
                          "done_marker": "{name}", "colour": "red", "cafile": "/x",
                          "profiles": {"invoices": {"decimal_separator": ";"}}})
    message = str(caught.value)
    for fragment in ('Source "bad"', "unknown setting(s) colour", "host is missing", "port must be",
                     "username is missing", "host_key is missing", "give a password or a private_key_path",
                     '"orders" is not a file kind', "without folders", "after_processing must be",
                     "settle_seconds must be", "done_marker must be", "cafile is for FTPS only",
                     "profiles.invoices: The import profile is not valid: decimal_separator"):
        assert fragment in message, fragment


def test_sources_from_json_list_object_and_empty():
    assert sources_from_json("") == [] and sources_from_json(None) == []
    [one] = sources_from_json(json.dumps([FTPS]))
    assert one.name == "sap-ftp"
    [named] = sources_from_json(json.dumps({"daily": {k: v for k, v in FTPS.items() if k != "name"}}))
    assert named.name == "daily"
    with pytest.raises(SourceConfigError, match="same name"):
        sources_from_json(json.dumps([FTPS, FTPS]))
    with pytest.raises(SourceConfigError, match="not valid JSON"):
        sources_from_json("[{")


@pytest.mark.parametrize("spec", [
    ED25519, ED25519 + " comment", f"[erp.example.pl]:2222 {ED25519}", f"erp.example.pl {ED25519} c"])
def test_host_key_lines(spec):
    assert load_host_key(spec, "erp.example.pl", 2222).get_name() == "ssh-ed25519"


@pytest.mark.parametrize("spec, fragment", [
    ("", "never switched off"), ("ssh-ed25519 not-base64!", "not a valid"), ("hello world", "must look like"),
    ("/nonexistent/known_hosts", "does not exist")])
def test_bad_host_keys(spec, fragment):
    with pytest.raises(TransportError, match=fragment):
        load_host_key(spec, "h", 22)


def test_name_patterns_and_markers():
    assert matches("INV_20240115.CSV", "inv_*.csv") and not matches("RIN_1.csv", "INV_*.csv")
    assert marker_for("{name}.done", "INV_1.csv") == "INV_1.csv.done"
    assert marker_for("{stem}.ok", "INV_1.csv") == "INV_1.ok"
    assert marker_pattern("{name}.done").fullmatch("INV_1.csv.done")
    assert not marker_pattern("{name}.done").fullmatch("INV_1.csv")
