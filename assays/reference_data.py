"""Reference data every installation needs: elements, their oxides, the role groups, the
default site named by the settings and the shipped QC rule packs. Used by migration 0002 (with historical models) and by
``reference_data_ensure`` (after a test database flush, or to repair an installation)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from assays.chemistry.elements import ELEMENTS
from assays.chemistry.oxides import ALTERNATIVE_OXIDES, CONVENTIONAL_OXIDES, parse_oxide
from assays.roles import Role


def install_reference_data(*, element_model: Any, oxide_model: Any, group_model: Any, site_model: Any) -> None:
    """Idempotent: updates what exists, creates what is missing."""
    elements = {}
    for data in ELEMENTS.values():
        elements[data.symbol], _ = element_model.objects.update_or_create(
            symbol=data.symbol,
            defaults={
                "name": data.name,
                "atomic_number": data.atomic_number,
                # repr() is the shortest decimal form of the table's value: no binary noise.
                "atomic_weight": Decimal(repr(data.atomic_weight)),
                "is_rare_earth": data.is_rare_earth,
            },
        )
    formulas = [(formula, True) for formula in CONVENTIONAL_OXIDES.values()]
    formulas += [(formula, False) for alternatives in ALTERNATIVE_OXIDES.values() for formula in alternatives]
    for formula, conventional in formulas:
        parsed = parse_oxide(formula)
        oxide_model.objects.update_or_create(
            formula=formula,
            defaults={
                "element": elements[parsed.element],
                "metal_atoms": parsed.metal_atoms,
                "oxygen_atoms": parsed.oxygen_atoms,
                "is_conventional": conventional,
            },
        )
    for role in Role:
        group_model.objects.get_or_create(name=role.value)
    if not site_model.objects.filter(is_default=True).exists():
        site_model.objects.update_or_create(
            code=settings.LIMS_DEFAULT_SITE_CODE,
            defaults={"name": settings.LIMS_DEFAULT_SITE_NAME, "country": settings.LIMS_DEFAULT_SITE_COUNTRY, "is_default": True},
        )


def install_shipped_rule_packs(*, rule_pack_model: Any) -> None:
    """Version 1 of every QC rule pack shipped in assays/qc/rule_packs whose code has no version
    yet (a lab's own versions are never touched)."""
    from django.utils import timezone

    from assays.qc.packs import parse_rule_pack, shipped_pack_texts

    for code, text in shipped_pack_texts().items():
        if rule_pack_model.objects.filter(code=code).exists():
            continue
        pack = parse_rule_pack(text, source=code)
        rule_pack_model.objects.create(
            code=code, version=1, title=pack.title, source_text=text, definition=pack.as_dict(), created_at=timezone.now(), note="shipped"
        )


def reference_data_ensure() -> None:
    from django.contrib.auth.models import Group

    from assays.models import Element, Oxide, RulePack, Site

    install_reference_data(element_model=Element, oxide_model=Oxide, group_model=Group, site_model=Site)
    install_shipped_rule_packs(rule_pack_model=RulePack)
