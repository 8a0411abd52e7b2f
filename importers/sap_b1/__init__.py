"""SAP Business One CSV exports → domain documents: per-file profiles, one row reader, whole-document checks.

`profiles` says where a source's columns, encoding and formats differ from
SAP's defaults; `reader` opens a file and refuses a bad one up-front;
`rows` and `values` map one record; `grouping` makes whole documents;
`pipeline` stages and applies a file exactly once. Typical use::

    profile = profile_from_dict({"decimal_separator": ","}, kind="invoices")
    with open_file(path, profile) as f:          # refuses a bad file up-front
        for row in f:                            # InvoiceRow | RowError | SkippedRow
            ...
"""
from importers.sap_b1.profiles import KINDS, SOURCE, Profile, ProfileError, default_profile, profile_from_dict
from importers.sap_b1.reader import BadHeader, Row, SapFile, open_file
from importers.sap_b1.rows import InvoiceRow, SkippedRow
from importers.textio import MalformedFile, TextFileError, UndecodableFile

__all__ = [
    "KINDS", "SOURCE", "BadHeader", "InvoiceRow", "MalformedFile", "Profile", "ProfileError", "Row", "SapFile",
    "SkippedRow", "TextFileError", "UndecodableFile", "default_profile", "open_file", "profile_from_dict",
]
