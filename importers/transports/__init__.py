"""How ERP files arrive: FTP, FTPS and SFTP behind one interface (list, fetch, archive, delete).

`sources` validates the configured sources and opens them as transports;
`polling` fetches their finished files once and registers each as an import run.
"""
from importers.transports.base import (
                                       FetchedFile,
                                       HostKeyMismatch,
                                       RemoteFile,
                                       Transport,
                                       TransportError,
                                       UntrustedCertificate,
                                       stable_files,
)
from importers.transports.ftp import FtpTransport
from importers.transports.sftp import SftpTransport, load_host_key

__all__ = ["FetchedFile", "FtpTransport", "HostKeyMismatch", "RemoteFile", "SftpTransport", "Transport",
           "TransportError", "UntrustedCertificate", "load_host_key", "stable_files"]
