"""Read-only representations of lots and samples, and the query parameters that filter them.

Codes, not database ids, name every record (a lot, site, product, partner or sample code is what people
write on paper and in e-mails). Masses are decimal strings, so 0.1000 stays 0.1000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assays.importers.registry import format_names
from assays.models import Lot, LotAllocation, LotInput, LotKind, LotStatus, Run, RunStatus, Sample, SampleStatus, SampleType
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
    sampled_by = serializers.CharField(read_only=True, help_text="Who took the sample (free text); empty when not stated.")
    sampled_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="When the sample was taken.")
    sampling_method = serializers.CharField(read_only=True, help_text="The sampling plan or standard; empty when not stated.")
    registered_at = serializers.DateTimeField(read_only=True)


# --- Sample registration (request and answer shapes, for the schema) --------------------------------
# The rows are validated by assays.importers.sample_sheet, not by these serializers, so that the API,
# the CLI and the web page report exactly the same errors for the same row.


class SampleSheetRowSerializer(serializers.Serializer[Any]):
    sample_id = serializers.CharField(help_text="1-40 letters, digits, '-', '.' or '_'; stored upper-case.")
    lot = serializers.CharField(help_text="Lot code; a lot that does not exist is created.")
    lot_kind = serializers.ChoiceField(choices=LotKind.choices)
    product = serializers.CharField(allow_blank=True, help_text="Product code; required for a product lot.")
    supplier = serializers.CharField(allow_blank=True, help_text="Supplier's partner code, or empty.")
    sample_mass_g = serializers.DecimalField(max_digits=12, decimal_places=6, help_text="Positive; at most 6 decimal places.")
    final_volume_ml = serializers.DecimalField(max_digits=12, decimal_places=4, help_text="Positive; at most 4 decimal places.")
    dilution_factor = serializers.DecimalField(max_digits=12, decimal_places=4, required=False, help_text="At least 1; empty means 1.")
    site = serializers.CharField(required=False, allow_blank=True, help_text="Site code; empty: the `site` parameter or the default site.")
    sample_type = serializers.ChoiceField(choices=SampleType.choices, required=False, help_text="Empty: routine.")
    received_on = serializers.DateField(required=False, allow_null=True, help_text="The lot's receipt date (a lot being created).")
    notes = serializers.CharField(required=False, allow_blank=True, help_text="Kept on the sample's first custody event.")
    sampled_by = serializers.CharField(
        required=False, allow_blank=True, help_text="Who took the sample (free text, at most 120 characters)."
    )
    sampled_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When it was taken: ISO 8601 with its UTC offset (2026-04-29T07:30+02:00 or ...Z)."
    )
    sampling_method = serializers.CharField(
        required=False, allow_blank=True, help_text="The sampling plan or standard (at most 200 characters)."
    )


class SampleSheetUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="A CSV sample sheet (docs/import-formats.md, 'Sample sheet').")


class SampleRegistrationQuerySerializer(serializers.Serializer[Any]):
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Check and report; write nothing.")
    site = serializers.CharField(required=False, max_length=16, help_text="Site code for rows without one (default: the default site).")


class SheetErrorSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(allow_null=True, help_text="CSV line (header = 1) or 1-based position in the JSON list.")
    column = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class SampleRegistrationSerializer(serializers.Serializer[Any]):
    dry_run = serializers.BooleanField()
    committed = serializers.BooleanField(help_text="True when the samples were written.")
    rows = serializers.IntegerField(help_text="Data rows in the sheet.")
    created_lots = serializers.ListField(child=serializers.CharField(), help_text="Lots created (or, on a dry run, to be created).")
    created_samples = serializers.ListField(child=serializers.CharField())
    unchanged_samples = serializers.ListField(child=serializers.CharField(), help_text="Already registered exactly as described.")
    ignored_columns = serializers.ListField(child=serializers.CharField())

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # A declared field named "errors" would shadow Serializer.errors; the answer's key is "errors".
        fields = super().get_fields()
        fields["errors"] = SheetErrorSerializer(many=True)
        return fields


# --- Instrument runs -----------------------------------------------------------------------------------
# The import's answer is ``assays.services.runs.ImportSummary.as_dict()``, the same as the CLI's
# ``--json``; these serializers describe it for the schema and read the upload's fields.


class RunUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="The instrument's export (CSV or XLSX), as exported: docs/import-formats.md.")
    instrument = serializers.CharField(max_length=32, help_text="Instrument code; one in service at a site you work at.")
    method = serializers.CharField(max_length=32, help_text="Method code.")
    format = serializers.ChoiceField(
        choices=format_names(), required=False, allow_blank=True, help_text="Force a format instead of detecting it; empty: detect."
    )
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Check and summarise; write nothing.")
    batch_log = serializers.FileField(required=False, help_text="Agilent BatchLog.csv: dilution factors per acquisition.")


class ImportSummarySerializer(serializers.Serializer[Any]):
    run_id = serializers.IntegerField(allow_null=True, help_text="The run created, or the existing run when `existing`; null on a dry run.")
    existing = serializers.BooleanField(help_text="These bytes (SHA-256) were imported before: nothing was written.")
    dry_run = serializers.BooleanField()
    ok = serializers.BooleanField(help_text="False when `errors` refuse the file.")
    file_name = serializers.CharField()
    sha256 = serializers.CharField()
    format = serializers.CharField(help_text="The format detected or forced, e.g. agilent-masshunter.")
    instrument = serializers.CharField()
    method = serializers.CharField()
    acquisitions = serializers.IntegerField()
    channels = serializers.IntegerField(help_text="Analyte channels.")
    internal_standards = serializers.IntegerField()
    matched_samples = serializers.IntegerField(help_text="Distinct registered samples matched.")
    sample_acquisitions = serializers.IntegerField()
    qc_items = serializers.IntegerField()
    qc_roles = serializers.DictField(child=serializers.IntegerField(), help_text="Acquisitions per QC role.")
    unmatched_acquisitions = serializers.IntegerField()
    unmatched_labels = serializers.DictField(child=serializers.IntegerField(), help_text="Each unmatched label with its count.")
    values = serializers.IntegerField()
    solid_values = serializers.IntegerField(help_text="Stored on the solid (mg/kg, %).")
    solution_values = serializers.IntegerField(help_text="Stored in µg/L of the measured solution (QC items, unprepared samples).")
    censored = serializers.IntegerField(help_text="Stored as < LOD.")
    below_loq = serializers.IntegerField()
    no_lod = serializers.IntegerField(help_text="Values whose channel has no LOD: not censored.")
    not_in_method = serializers.IntegerField()
    internal_standard_readings = serializers.IntegerField()
    created_analytes = serializers.ListField(child=serializers.CharField(), help_text="Channels seen for the first time.")
    warnings = serializers.ListField(child=serializers.CharField())

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # A declared field named "errors" would shadow Serializer.errors; the answer's key is "errors".
        fields = super().get_fields()
        fields["errors"] = serializers.ListField(
            child=serializers.CharField(), help_text="What refuses the file, each naming the file, line and column."
        )
        return fields


class RunFilterSerializer(serializers.Serializer[Any]):
    instrument = serializers.CharField(required=False, max_length=_CODE_MAX, help_text="Instrument code.")
    status = serializers.ChoiceField(choices=RunStatus.choices, required=False, help_text="Run status.")


class RunSerializer(serializers.Serializer[Run]):
    id = serializers.IntegerField(read_only=True)
    site = serializers.CharField(source="site.code", read_only=True, help_text="Site code.")
    instrument = serializers.CharField(source="instrument.code", read_only=True, help_text="Instrument code.")
    method = serializers.CharField(source="method.code", read_only=True, help_text="Method code.")
    analyst = serializers.CharField(source="analyst.username", read_only=True)
    source_filename = serializers.CharField(read_only=True)
    source_sha256 = serializers.CharField(read_only=True)
    source_format = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=RunStatus.choices, read_only=True)
    imported_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="The first acquisition's time, if the file gives it.")
    summary = serializers.SerializerMethodField(help_text="What the import found, as the import answered.")

    @extend_schema_field(ImportSummarySerializer)
    def get_summary(self, run: Run) -> dict[str, Any]:
        return {**(run.import_summary or {}), "run_id": run.pk, "existing": False, "dry_run": False}
