"""Integration tests for file transports against real FTP, FTPS and SFTP servers."""
