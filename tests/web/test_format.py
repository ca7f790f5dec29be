"""How quantities read on the pages: the recorded digits, no padding, no rounding away."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assays.templatetags.lims_format import quantity


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1200.0000"), "1,200"),
        (Decimal("612.5000"), "612.5"),
        (Decimal("0.100250"), "0.10025"),
        (Decimal("0E-4"), "0"),
        (Decimal("-0.50"), "-0.5"),
        (Decimal("1234567.2500"), "1,234,567.25"),
        (None, "—"),
        ("", "—"),
        ("not a number", "not a number"),
        (Decimal("NaN"), "NaN"),
    ],
)
def test_a_quantity_shows_its_recorded_digits(value, shown):
    assert quantity(value) == shown
