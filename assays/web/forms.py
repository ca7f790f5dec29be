"""Forms of the web UI: they validate what a user typed before any selector sees it."""

from __future__ import annotations

from django import forms

from assays.models import LotKind, LotStatus


class LotFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *LotStatus.choices], required=False)
    kind = forms.ChoiceField(choices=[("", "Any kind"), *LotKind.choices], required=False)
    q = forms.CharField(
        label="Lot code",
        max_length=40,
        required=False,
        strip=True,
        widget=forms.SearchInput(attrs={"placeholder": "Part of a lot code", "autocomplete": "off"}),
    )

    def filters(self) -> dict[str, str]:
        """The valid filters only: a tampered value drops that one filter, never the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {"status": data.get("status", ""), "kind": data.get("kind", ""), "code_contains": data.get("q", "")}
