"""Real FTP, FTPS and SFTP servers as fixtures (written so they can move to a top-level conftest later)."""
import pytest

from tests.support.servers import make_tls_files, start_ftp_server, start_sshd
from tests.support.sources import source_for


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A test CA and a server certificate for 127.0.0.1 signed by it."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def other_tls_files(tmp_path_factory):
    """Another CA: clients trusting only this one must refuse the server's certificate."""
    return make_tls_files(tmp_path_factory.mktemp("tls-other"), common_name="Someone else's CA")


@pytest.fixture
def ftp_server(tmp_path):
    server = start_ftp_server(tmp_path / "ftp-root")
    yield server
    server.stop()


@pytest.fixture
def ftps_server(tmp_path, tls_files):
    server = start_ftp_server(tmp_path / "ftps-root", tls=tls_files)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory):
    """One OpenSSH sshd for the session; tests use their own folder under ``root`` (see ``sftp_dir``)."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"), client_key_passphrase="k3y-passphrase-x")
    yield server
    server.stop()


@pytest.fixture
def sftp_dir(sshd_server, request):
    folder = sshd_server.root / request.node.name.replace("[", "_").replace("]", "_")
    folder.mkdir()
    return folder


@pytest.fixture(params=["ftp", "ftps", "sftp"])
def remote(request):
    """(SourceConfig, local folder behind the remote folder) for each protocol."""
    if request.param == "sftp":
        server, folder = request.getfixturevalue("sshd_server"), request.getfixturevalue("sftp_dir")
        return source_for(server, folder), folder
    server = request.getfixturevalue("ftps_server" if request.param == "ftps" else "ftp_server")
    return source_for(server), server.root
