"""Shared test helpers: real FTP/FTPS and SFTP servers (servers.py)."""
