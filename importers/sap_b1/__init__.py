"""SAP Business One CSV exports → domain documents (profiles, one row pipeline, invoice grouping).

Typical use::

    profile = profile_from_dict({"decimal_separator": ","}, kind="invoices")
    with open_file(path, profile) as f:          # refuses a bad file up-front
        for item in group_rows(f):               # PurchaseDoc | RowError | SkippedRow
            ...
"""
from importers.sap_b1.grouping import group_rows
from importers.sap_b1.profiles import KINDS, SOURCE, Profile, ProfileError, default_profile, profile_from_dict
from importers.sap_b1.reader import BadHeader, Row, SapFile, open_file
from importers.sap_b1.rows import InvoiceRow, SkippedRow
from importers.textio import MalformedFile, TextFileError, UndecodableFile

__all__ = [
    "KINDS", "SOURCE", "BadHeader", "InvoiceRow", "MalformedFile", "Profile", "ProfileError", "Row", "SapFile",
    "SkippedRow", "TextFileError", "UndecodableFile", "default_profile", "group_rows", "open_file",
    "profile_from_dict",
]
