"""What can go wrong with a document: each error carries a stable code the API maps to a status."""
from __future__ import annotations


class DocumentError(Exception):
    code = "document_error"


class DocumentConflict(DocumentError):
    code = "document_conflict"


class UnknownDocument(DocumentError, LookupError):
    code = "unknown_document"


class UnknownReference(DocumentError):
    code = "unknown_reference"


class InvalidTransition(DocumentError):
    code = "invalid_transition"


class InvalidCorrection(DocumentError):
    code = "invalid_correction"


class UnknownLine(InvalidCorrection):
    code = "unknown_line"
