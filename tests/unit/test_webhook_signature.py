"""The webhook signature header (assays.webhook_signature): what the lab sends and a receiver checks."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.webhook_signature import parse, sign, verify

SECRET = "whsec-test-0123456789"
BODY = b'{"event":"certificate.issued","id":"5d0c"}'
T = 1_790_000_000


def test_the_header_is_the_timestamp_and_the_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(secret=SECRET, timestamp=T, body=BODY) == f"t={T},v1={expected}"


def test_a_fresh_signature_verifies() -> None:
    header = sign(secret=SECRET, timestamp=T, body=BODY)
    assert verify(secret=SECRET, header=header, body=BODY, now=T + 5)
    # A receiver whose clock runs behind the sender's still accepts it within the tolerance.
    assert verify(secret=SECRET, header=header, body=BODY, now=T - 5)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("another-secret", BODY, T),  # wrong secret
        (SECRET, BODY + b" ", T),  # one byte more
        (SECRET, BODY.replace(b"issued", b"revoked"), T),  # altered body
        (SECRET, BODY, T + 301),  # replayed after the tolerance
        (SECRET, BODY, T - 301),  # from too far in the future
    ],
)
def test_anything_else_is_refused(secret: str, body: bytes, now: int) -> None:
    header = sign(secret=SECRET, timestamp=T, body=BODY)
    assert not verify(secret=secret, header=header, body=body, now=now)


def test_the_tolerance_is_the_receivers_choice() -> None:
    header = sign(secret=SECRET, timestamp=T, body=BODY)
    assert not verify(secret=SECRET, header=header, body=BODY, now=T + 61, tolerance_seconds=60)
    assert verify(secret=SECRET, header=header, body=BODY, now=T + 3600, tolerance_seconds=3600)


def test_a_timestamp_moved_to_now_breaks_the_signature() -> None:
    """The timestamp is inside the MAC: a replayer cannot refresh it."""
    header = sign(secret=SECRET, timestamp=T, body=BODY)
    moved = header.replace(f"t={T}", f"t={T + 10_000}")
    assert not verify(secret=SECRET, header=moved, body=BODY, now=T + 10_000)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "t=abc,v1=00",
        f"t={T}",
        "v1=abcdef",
        f"t=-{T},v1=00",
        f"t={T},v0=00",
        "t=\uff11\uff12\uff13,v1=00",
        "t=1" + "0" * 20 + ",v1=00",
    ],
)
def test_malformed_headers_are_refused_never_raise(header: str) -> None:
    assert not verify(secret=SECRET, header=header, body=BODY, now=T)


def test_one_of_several_v1_signatures_is_enough_for_a_secret_rotation() -> None:
    good = sign(secret=SECRET, timestamp=T, body=BODY).split(",")[1]
    old = sign(secret="old-secret", timestamp=T, body=BODY).split(",")[1]
    header = f"t={T},{old},{good},v2=unknown-scheme"
    assert parse(header) == (T, [old.removeprefix("v1="), good.removeprefix("v1=")])
    assert verify(secret=SECRET, header=header, body=BODY, now=T)
    assert not verify(secret="third-secret", header=header, body=BODY, now=T)


def test_signing_needs_a_secret_and_an_empty_one_never_verifies() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(secret="", timestamp=T, body=BODY)
    assert not verify(secret="", header=sign(secret=SECRET, timestamp=T, body=BODY), body=BODY, now=T)


@given(secret=st.text(min_size=1, max_size=64), body=st.binary(max_size=2048), timestamp=st.integers(min_value=0, max_value=10**12 - 1))
def test_any_body_round_trips_and_any_other_body_does_not(secret: str, body: bytes, timestamp: int) -> None:
    header = sign(secret=secret, timestamp=timestamp, body=body)
    assert verify(secret=secret, header=header, body=body, now=timestamp)
    assert not verify(secret=secret, header=header, body=body + b"x", now=timestamp)


def test_the_receivers_snippet_in_the_docs_agrees() -> None:
    """docs/webhooks.md shows partners how to check the header; it must accept ours and refuse a forgery."""
    import time
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own documentation
    check = namespace["lims_signature_ok"]
    assert callable(check)
    now = int(time.time())
    header = sign(secret=SECRET, timestamp=now, body=BODY)
    assert check(SECRET, header, BODY)
    assert not check(SECRET, header, BODY + b"x")
    assert not check("other", header, BODY)
    assert not check(SECRET, sign(secret=SECRET, timestamp=now - 301, body=BODY), BODY)
    assert not check(SECRET, "garbage", BODY)
