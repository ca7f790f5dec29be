"""Uploaded instrument exports kept between the preview and the confirm of an import.

The bytes are stored under ``MEDIA_ROOT/uploads/<sha256>``: named by their digest, so the name
says nothing a client chose and two uploads of one file share one copy. What the preview showed
(file, instrument, method, format, batch log) travels in a token signed with the secret key and
bound to the user, so a confirm can only import what that user previewed, and never reads a path
a client sent. Uploads older than ``UPLOAD_TTL`` are removed on the next upload.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing

UPLOAD_TTL_SECONDS = 24 * 3600
_SALT = "assays.web.runs.upload"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UploadExpiredError(Exception):
    """The token is forged, someone else's, too old, or its file is gone."""


def _folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "uploads"


def store_upload(data: bytes) -> str:
    """Keep ``data`` until it is confirmed (or expires); returns its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder)
    target = folder / digest
    if not target.exists():
        # Written beside and renamed: a concurrent reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    else:
        target.touch()
    return digest


def read_upload(digest: str) -> bytes:
    if not _SHA256.match(digest):
        raise UploadExpiredError("not an upload")
    try:
        data = (_folder() / digest).read_bytes()
    except OSError as error:
        raise UploadExpiredError("the uploaded file is no longer kept") from error
    # The name is the digest: a file changed on disk since is not what was previewed.
    if hashlib.sha256(data).hexdigest() != digest:
        raise UploadExpiredError("the uploaded file changed on disk")
    return data


def discard_upload(digest: str) -> None:
    if _SHA256.match(digest):
        with contextlib.suppress(OSError):
            (_folder() / digest).unlink()


def _prune(folder: Path) -> None:
    cutoff = time.time() - UPLOAD_TTL_SECONDS
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


@dataclass(frozen=True, slots=True)
class PendingImport:
    """What one preview shows and its confirm imports."""

    user_id: int
    sha256: str
    file_name: str
    instrument: str  # code
    method: str  # code
    format: str = ""  # "" = detect
    batch_log_sha256: str = ""
    batch_log_name: str = ""

    def token(self) -> str:
        return signing.dumps(asdict(self), salt=_SALT, compress=True)

    @classmethod
    def from_token(cls, token: str, *, user_id: int) -> PendingImport:
        try:
            payload: Any = signing.loads(token, salt=_SALT, max_age=UPLOAD_TTL_SECONDS)
            pending = cls(**payload)
        except (signing.BadSignature, TypeError, ValueError) as error:
            raise UploadExpiredError("this upload has expired or is not yours") from error
        if pending.user_id != user_id:
            raise UploadExpiredError("this upload has expired or is not yours")
        return pending
