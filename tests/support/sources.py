"""SourceConfigs that point at the test servers of servers.py."""
from __future__ import annotations

from importers.transports.sources import SourceConfig, source_from_dict
from tests.support.servers import FtpServer


def source_for(server, folder=None, **overrides) -> SourceConfig:
    """A validated SourceConfig pointing at a test server (``folder``: the SFTP remote folder)."""
    if isinstance(server, FtpServer):
        data = {"name": "test-ftps" if server.tls else "test-ftp", "protocol": "ftps" if server.tls else "ftp",
                "host": server.host, "port": server.port, "username": server.user, "password": server.password,
                "cafile": server.tls.ca_cert if server.tls else None}
        if not server.tls:
            data.pop("cafile")
    else:
        data = {"name": "test-sftp", "protocol": "sftp", "host": server.host, "port": server.port,
                "username": server.user, "private_key_path": server.client_key,
                "private_key_passphrase": server.client_key_passphrase, "host_key": server.host_key_line,
                "remote_dir": str(folder)}
    data.update({"patterns": {"invoices": "INV_*.csv", "customers": "OCRD_*.csv"}, "settle_seconds": 0.2})
    data.update(overrides)
    return source_from_dict(data)
