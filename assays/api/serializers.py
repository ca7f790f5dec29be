"""Read-only representations of lots and samples, and the query parameters that filter them.

Codes, not database ids, name every record (a lot, site, product, partner or sample code is what people
write on paper and in e-mails). Masses are decimal strings, so 0.1000 stays 0.1000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assays.models import Lot, LotAllocation, LotInput, LotKind, LotStatus, Sample, SampleStatus, SampleType
from assays.models.lots import FeedstockType, MagnetChemistry

# Longer than any code the models store: a longer value cannot match, so it is refused as malformed.
_CODE_MAX = 40


@dataclass(frozen=True)
class Viewer:
    """Who reads, for the fields whose visibility depends on it beyond the selectors' row scope."""

    is_lab: bool
    partner_id: int | None


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


# --- Filters (query parameters) ------------------------------------------------------------------


class LotFilterSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=LotStatus.choices, required=False, help_text="Lot status.")
    kind = serializers.ChoiceField(choices=LotKind.choices, required=False, help_text="Lot kind.")
    site = serializers.CharField(required=False, max_length=_CODE_MAX, help_text="Site code, e.g. UK1.")
    product = serializers.CharField(required=False, max_length=_CODE_MAX, help_text="Product code.")


class SampleFilterSerializer(serializers.Serializer[Any]):
    lot = serializers.CharField(required=False, max_length=_CODE_MAX, help_text="Lot code.")
    status = serializers.ChoiceField(choices=SampleStatus.choices, required=False, help_text="Sample status.")


# --- Lots ------------------------------------------------------------------------------------------


class ScopedSupplierField(serializers.CharField):
    """The supplier's code, or null when there is none or when the reader is a partner user and the
    supplier is another partner (a customer must not learn who supplied a lot it bought)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def get_attribute(self, instance: Lot) -> str | None:
        supplier = instance.supplier
        viewer: Viewer = self.context["viewer"]
        if supplier is None or not (viewer.is_lab or supplier.pk == viewer.partner_id):
            return None
        return supplier.code


class LotSerializer(serializers.Serializer[Lot]):
    code = serializers.CharField(read_only=True)
    site = serializers.CharField(source="site.code", read_only=True, help_text="Site code.")
    kind = serializers.ChoiceField(choices=LotKind.choices, read_only=True)
    status = serializers.ChoiceField(choices=LotStatus.choices, read_only=True)
    product = serializers.CharField(source="product.code", read_only=True, allow_null=True, help_text="Product code (product lots).")
    mass_kg = serializers.DecimalField(max_digits=14, decimal_places=4, read_only=True, allow_null=True)
    supplier = ScopedSupplierField(help_text="Supplier's partner code; null if none or not yours to see.")
    is_recycled = serializers.BooleanField(read_only=True)
    received_on = serializers.DateField(read_only=True, allow_null=True)
    produced_on = serializers.DateField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class LotInputSerializer(serializers.Serializer[LotInput]):
    lot = serializers.CharField(source="input_lot.code", read_only=True, help_text="Code of the input lot.")
    kind = serializers.ChoiceField(source="input_lot.kind", choices=LotKind.choices, read_only=True)
    site = serializers.CharField(source="input_lot.site.code", read_only=True)
    mass_used_kg = serializers.DecimalField(max_digits=14, decimal_places=4, read_only=True)


class LotAllocationSerializer(serializers.Serializer[LotAllocation]):
    customer = serializers.CharField(source="customer.code", read_only=True, help_text="Customer's partner code.")
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    mass_kg = serializers.DecimalField(max_digits=14, decimal_places=4, read_only=True)
    reference = serializers.CharField(read_only=True)
    allocated_at = serializers.DateTimeField(read_only=True)


class LotDetailSerializer(LotSerializer):
    """One lot with its samples, genealogy inputs and allocations.

    The related rows come already scoped by the selectors (through the serializer context): a partner
    user gets only its own allocation and only the inputs it may see.
    """

    feedstock_type = serializers.ChoiceField(choices=FeedstockType.choices, read_only=True)
    magnet_chemistry = serializers.ChoiceField(choices=MagnetChemistry.choices, read_only=True)
    country_of_collection = serializers.CharField(read_only=True)
    country_of_separation = serializers.CharField(read_only=True)
    country_of_oxide_production = serializers.CharField(read_only=True)
    samples = serializers.SerializerMethodField(help_text="Codes of the lot's samples that you may see.")
    inputs = serializers.SerializerMethodField(help_text="Genealogy: the lots consumed to make this one, with the mass used.")
    allocations = serializers.SerializerMethodField(help_text="Customer allocations; a partner user sees only its own.")

    def get_samples(self, lot: Lot) -> list[str]:
        return [sample.code for sample in self.context["samples"]]

    @extend_schema_field(LotInputSerializer(many=True))
    def get_inputs(self, lot: Lot) -> Any:
        return LotInputSerializer(self.context["inputs"], many=True, context=self.context).data

    @extend_schema_field(LotAllocationSerializer(many=True))
    def get_allocations(self, lot: Lot) -> Any:
        return LotAllocationSerializer(self.context["allocations"], many=True, context=self.context).data


# --- Samples ---------------------------------------------------------------------------------------


class SampleSerializer(serializers.Serializer[Sample]):
    code = serializers.CharField(read_only=True)
    lot = serializers.CharField(source="lot.code", read_only=True, help_text="Lot code.")
    site = serializers.CharField(source="site.code", read_only=True, help_text="Code of the site holding the sample.")
    sample_type = serializers.ChoiceField(choices=SampleType.choices, read_only=True)
    status = serializers.ChoiceField(choices=SampleStatus.choices, read_only=True)
    sample_mass_g = serializers.DecimalField(max_digits=12, decimal_places=6, read_only=True, allow_null=True)
    final_volume_ml = serializers.DecimalField(max_digits=12, decimal_places=4, read_only=True, allow_null=True)
    dilution_factor = serializers.DecimalField(max_digits=12, decimal_places=4, read_only=True)
    registered_at = serializers.DateTimeField(read_only=True)
