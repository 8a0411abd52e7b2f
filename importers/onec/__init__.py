"""1C CommerceML exchange, the pure side: safe parsing, domain documents, zips, settings.

The HTTP protocol endpoint and the database work live elsewhere and call these.
"""
from importers.onec.catalog import CatalogBatch, ProductGroup, parse_catalog
from importers.onec.commerceml import ExchangeBatch, is_newer_version, parse_exchange, version_key
from importers.onec.config import ConfigError, ExchangeConfig, RequisiteNames, ZipLimits
from importers.onec.safexml import BadXML, HostileXML, XMLError, XMLTooDeep, XMLTooLarge, parse_xml
from importers.onec.uploads import UnsafeName, UploadTooLarge, append_upload, safe_basename, upload_path
from importers.onec.zipfiles import ZipRefused, safe_unzip

__all__ = [
    "BadXML", "CatalogBatch", "ConfigError", "ExchangeBatch", "ExchangeConfig", "HostileXML",
    "ProductGroup", "RequisiteNames", "UnsafeName", "UploadTooLarge", "XMLError", "XMLTooDeep",
    "XMLTooLarge", "ZipLimits", "ZipRefused", "append_upload", "is_newer_version",
    "parse_catalog", "parse_exchange", "parse_xml", "safe_basename", "safe_unzip",
    "upload_path", "version_key",
]
