"""1C CommerceML exchange, inbound: XML bytes (or zips of them) parsed safely into orders, returns, customers, catalog.

`safexml`, `zipfiles` and `uploads` take the bytes apart safely;
`commerceml`, `documents`, `customers` and `catalog` turn them into domain
documents; `apply` hands those to the engine and `runs` drives one uploaded
file through an import run, committing through its caller (the job in
``server.onec.tasks``). The settings they read live in `engine.onec`, where
the exporters reach them too.
"""
from importers.onec.catalog import CatalogBatch, ProductGroup, parse_catalog
from importers.onec.commerceml import ExchangeBatch, is_newer_version, parse_exchange, version_key
from importers.onec.safexml import BadXML, HostileXML, XMLError, XMLTooDeep, XMLTooLarge, parse_xml
from importers.onec.uploads import UnsafeName, UploadTooLarge, append_upload, safe_basename, upload_path
from importers.onec.zipfiles import ZipRefused, safe_unzip

__all__ = [
    "BadXML", "CatalogBatch", "ExchangeBatch", "HostileXML",
    "ProductGroup", "UnsafeName", "UploadTooLarge", "XMLError", "XMLTooDeep",
    "XMLTooLarge", "ZipRefused", "append_upload", "is_newer_version",
    "parse_catalog", "parse_exchange", "parse_xml", "safe_basename", "safe_unzip",
    "upload_path", "version_key",
]
