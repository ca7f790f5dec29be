"""File names sent by clients (browser uploads, API multipart), as labels for what they name.

PURE. A client's file name is the user's word for the file: it names a run and appears in error
messages. It is never a path on this server.
"""

from __future__ import annotations

MAX_LENGTH = 200


def clean_file_name(name: str | None, *, default: str = "upload.csv") -> str:
    """Printable characters only (PostgreSQL refuses a NUL in text), no folders, at most 200."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(char for char in base if char.isprintable()).strip()
    return printable[:MAX_LENGTH] or default
