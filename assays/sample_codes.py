"""The sample id rule. PURE: the sample sheet parser and the registration service share it.

Upper-case letters, digits, '-', '.', '_': prints unambiguously as Code 128 or a QR code and
survives being read back by a scanner in any keyboard layout.
"""

from __future__ import annotations

import re

from assays.errors import DomainError

SAMPLE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,39}$")
SAMPLE_CODE_RULE = "use 1-40 letters, digits, '-', '.' or '_', starting with a letter or digit"


def normalise_sample_code(raw: str) -> str:
    code = raw.strip()
    # ASCII is checked before upper-casing: 'ß'.upper() is 'SS' and 'ﬁ'.upper() is 'FI', which
    # would quietly give a sample an id other than the one typed.
    code = code.upper() if code.isascii() else ""
    if not SAMPLE_CODE.fullmatch(code):
        raise DomainError(f"sample id {raw!r}: {SAMPLE_CODE_RULE}")
    return code
