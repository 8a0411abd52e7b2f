"""Uploaded import files: copied into the upload folder in blocks and hashed on the way (API and admin UI)."""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from flask import current_app

from server.errors import ApiError

_BLOCK = 1 << 20


def store(stream, filename: str) -> tuple[Path, str, int]:
    """Copy ``stream`` into the upload folder in blocks, hashing as it goes: (path, sha256, size)."""
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{uuid.uuid4().hex}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as out:
            for block in iter(lambda: stream.read(_BLOCK), b""):
                digest.update(block)
                size += len(block)
                out.write(block)
        if size == 0:
            raise ApiError(422, "empty_file", "The uploaded file is empty; nothing was imported.")
        sha256 = digest.hexdigest()
        final = folder / f"{sha256[:16]}_{filename}"
        os.replace(partial, final)
        return final, sha256, size
    finally:
        if partial.exists():
            partial.unlink()
