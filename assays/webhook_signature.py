"""Signing webhook deliveries, and checking a signature as a receiver does (docs/webhooks.md).

Pure: no Django. The header is Stripe's scheme, ``t=<unix seconds>,v1=<hex HMAC-SHA256>``, with
the MAC over ``b"<t>." + body``. The timestamp is inside the MAC, so a receiver that refuses
timestamps far from its clock refuses a delivery replayed later, and a captured signature
cannot be moved to another body.
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def _mac(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-LIMS-Signature`` header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    if not secret:
        raise ValueError("a webhook secret is needed to sign")
    return f"t={int(timestamp)},{SCHEME}={_mac(secret=secret, timestamp=int(timestamp), body=body)}"


def parse(header: str) -> tuple[int, list[str]] | None:
    """The timestamp and the v1 signatures of a header, or None when it is not one of ours.

    Several ``v1=`` entries are allowed (a sender may sign with an old and a new secret while a
    receiver switches); unknown schemes are ignored, as Stripe's receivers do.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                return None
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify(*, secret: str, header: str, body: bytes, now: int | float, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs exactly ``body`` with ``secret``, at a time within ``tolerance_seconds``
    of ``now`` (either side: a receiver's clock may be behind the sender's). Constant-time compare."""
    if not secret or not header:
        return False
    parsed = parse(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _mac(secret=secret, timestamp=timestamp, body=body)
    # Every candidate is compared (no early exit), each in constant time.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii", "replace"))
    return matched
