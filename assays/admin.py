"""The Django admin: master data for lab admins; regulated records shown read-only.

Regulated records (lots, genealogy, allocations, samples, custody, runs, results, flags,
assessments, certificates, the audit trail) change only through the services, which audit every
change; here they can be searched and read, never added, changed or deleted, by anyone.

Who sees what follows the permission matrix (``assays.permissions``), not Django's per-model
permissions: master data needs ``manage_master_data``, accounts ``manage_users``, specifications
``manage_specs`` to load a new version. The admin lists records unscoped by site, so regulated records are
shown only to those who may see all sites anyway. ``is_staff`` only opens the door.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from assays.chemistry.channels import channel_code
from assays.chemistry.oxides import parse_oxide
from assays.errors import DomainError
from assays.models import (
    Acquisition,
    Analyte,
    AuditEvent,
    CalibrationNominal,
    Certificate,
    CertificateBatch,
    CertificateCounter,
    CertifiedValue,
    ChannelRole,
    ControlBaseline,
    CustodyEvent,
    Element,
    Flag,
    Instrument,
    InternalStandardReading,
    LabProfile,
    Lot,
    LotAllocation,
    LotAssessment,
    LotInput,
    Measurement,
    Method,
    MethodChannel,
    Oxide,
    Partner,
    PartnerApiKey,
    PartnerMembership,
    PartnerWebhook,
    Product,
    QcCheck,
    QcEvaluation,
    QcLabelPattern,
    QcStandard,
    QcStandardValue,
    QcWaiver,
    ReferenceMaterial,
    RulePack,
    Run,
    Sample,
    Site,
    SiteMembership,
    Specification,
    SpecificationLine,
    SpecificationStatus,
    TotpDevice,
    WebhookDelivery,
    WorkerHeartbeat,
)
from assays.permissions import Capability, can
from assays.services.partner_keys import api_key_revoke
from assays.services.specifications import specification_check, specification_load

if TYPE_CHECKING:
    # django-stubs makes these generic; at runtime they are not subscriptable.
    _ModelAdmin = admin.ModelAdmin[Any]
    _TabularInline = admin.TabularInline[Any, Any]
    _ModelForm = forms.ModelForm[Any]
    _InlineFormSet = BaseInlineFormSet[Any, Any, Any]
    _UserAdmin = UserAdmin[User]
else:
    _ModelAdmin = admin.ModelAdmin
    _TabularInline = admin.TabularInline
    _ModelForm = forms.ModelForm
    _InlineFormSet = BaseInlineFormSet
    _UserAdmin = UserAdmin

admin.site.site_header = "REO assay LIMS administration"
admin.site.site_title = "REO assay LIMS admin"
admin.site.index_title = "Master data (regulated records are read-only here)"


def _allowed(request: HttpRequest, *capabilities: Capability) -> bool:
    """Every capability named, for an active staff user (the admin's own door)."""
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return all(can(user, capability) for capability in capabilities)


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


# --- Base classes -----------------------------------------------------------------------------


class MasterDataAdmin(_ModelAdmin):
    """Editable by whoever holds ``capability``; Django's change log records each edit."""

    capability = Capability.MANAGE_MASTER_DATA

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _allowed(request, self.capability)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, self.capability)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _allowed(request, self.capability)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, self.capability)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Rows that other records rely on are PROTECTed: the admin then lists them instead of deleting.
        return _allowed(request, self.capability)


class MasterDataInline(_TabularInline):
    capability = Capability.MANAGE_MASTER_DATA
    extra = 0

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, self.capability)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, self.capability)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, self.capability)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, self.capability)


# Listed unscoped by site: only for those who may see every site.
REGULATED_VIEW = (Capability.VIEW_ALL_SITE_LOTS,)


class RegulatedRecordAdmin(_ModelAdmin):
    """View only, for everyone: these records change through the services and their audit trail."""

    view_capabilities: tuple[Capability, ...] = REGULATED_VIEW
    show_full_result_count = False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _allowed(request, *self.view_capabilities)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, *self.view_capabilities)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(_TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Non-editable columns (auto timestamps) can only be shown as read-only fields.
        return self.fields or ()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, *REGULATED_VIEW)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Reference data ---------------------------------------------------------------------------


@admin.register(Element)
class ElementAdmin(MasterDataAdmin):
    list_display = ("symbol", "name", "atomic_number", "atomic_weight", "is_rare_earth")
    list_filter = ("is_rare_earth",)
    search_fields = ("symbol", "name")


class OxideForm(_ModelForm):
    class Meta:
        model = Oxide
        fields = ("formula", "element", "metal_atoms", "oxygen_atoms", "is_conventional")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        formula, element = cleaned.get("formula"), cleaned.get("element")
        if not formula:
            return cleaned
        try:
            parsed = parse_oxide(formula)
        except ValueError as error:
            raise ValidationError({"formula": str(error)}) from error
        # The factor is computed from the formula: the stored element and atom counts must agree.
        if element is not None and (parsed.element, parsed.metal_atoms, parsed.oxygen_atoms) != (
            element.symbol,
            cleaned.get("metal_atoms"),
            cleaned.get("oxygen_atoms"),
        ):
            raise ValidationError(
                f"{formula} means element {parsed.element}, {parsed.metal_atoms} metal atom(s), {parsed.oxygen_atoms} oxygen atom(s)."
            )
        return cleaned


@admin.register(Oxide)
class OxideAdmin(MasterDataAdmin):
    form = OxideForm
    list_display = ("formula", "element", "metal_atoms", "oxygen_atoms", "is_conventional", "factor_display")
    list_filter = ("is_conventional", "element__is_rare_earth")
    search_fields = ("formula", "element__symbol")
    list_select_related = ("element",)
    readonly_fields = ("factor_display",)

    @admin.display(description="gravimetric factor (computed)")
    def factor_display(self, obj: Oxide) -> str:
        if not obj.formula:
            return "—"
        try:
            return f"{obj.factor:.6f}"
        except ValueError:
            return "—"


class AnalyteForm(_ModelForm):
    """The code is derived from the channel's parts, so one channel has one spelling."""

    class Meta:
        model = Analyte
        fields = ("element", "technique", "isotope_mass", "cell_mode", "q1_mass", "q2_mass", "wavelength_nm", "view", "name")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.errors:
            return cleaned
        element = cleaned.get("element")
        try:
            code = channel_code(
                element=element.symbol if element is not None else None,
                isotope_mass=cleaned.get("isotope_mass"),
                cell_mode=cleaned.get("cell_mode") or "",
                q1_mass=cleaned.get("q1_mass"),
                q2_mass=cleaned.get("q2_mass"),
                wavelength_nm=cleaned.get("wavelength_nm"),
                view=cleaned.get("view") or "",
                name=cleaned.get("name") or "",
            )
        except ValueError as error:
            raise ValidationError(str(error)) from error
        if len(code) > Analyte._meta.get_field("code").max_length:  # type: ignore[operator]
            raise ValidationError(f"channel code {code!r} is too long")
        if Analyte.objects.filter(code=code).exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"the channel {code!r} exists already")
        self.instance.code = code
        return cleaned


@admin.register(Analyte)
class AnalyteAdmin(MasterDataAdmin):
    form = AnalyteForm
    list_display = ("code", "element", "technique", "isotope_mass", "cell_mode", "wavelength_nm", "view")
    list_filter = ("technique", "element__is_rare_earth", "cell_mode")
    search_fields = ("code", "name", "element__symbol")
    list_select_related = ("element",)
    readonly_fields = ("code",)


@admin.register(Product)
class ProductAdmin(MasterDataAdmin):
    list_display = ("code", "name", "main_oxides_display")
    search_fields = ("code", "name")
    filter_horizontal = ("main_oxides",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return super().get_queryset(request).prefetch_related("main_oxides")

    @admin.display(description="main oxides")
    def main_oxides_display(self, obj: Product) -> str:
        return ", ".join(oxide.formula for oxide in obj.main_oxides.all())


class SpecificationLineInline(_TabularInline):
    """A version's lines, as loaded: never edited (a change is a new version)."""

    model = SpecificationLine
    extra = 0
    max_num = 0
    can_delete = False
    fields = (
        "position",
        "quantity",
        "element",
        "oxide",
        "ratio_oxides",
        "anion",
        "minimum",
        "maximum",
        "unit",
        "comparison",
        "rule",
        "source",
    )
    readonly_fields = fields
    ordering = ("position",)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, Capability.MANAGE_SPECS) or _allowed(request, Capability.MANAGE_MASTER_DATA)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SpecificationLoadForm(_ModelForm):
    """ "Add" takes a specification as JSON (docs/specifications.md) and loads it through the service:
    every problem of the text (field path and message) and of its references shows on the form."""

    spec_json = forms.CharField(
        label="Specification (JSON)",
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "style": "font-family: monospace"}),
        help_text="One specification object, as in docs/specifications.md. A changed specification becomes the next version.",
    )
    activate = forms.BooleanField(
        required=False, initial=True, help_text="Make it the active version (the active one is retired); unticked: a draft."
    )

    class Meta:
        model = Specification
        fields = ()

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        text = cleaned.get("spec_json")
        if not text:
            return cleaned
        try:
            resolved = specification_check(data=text, file_name="the specification")
        except DomainError as error:
            raise ValidationError([line for line in str(error).splitlines() if line]) from error
        latest = resolved.latest
        if resolved.unchanged and latest is not None and (latest.status == SpecificationStatus.ACTIVE or not cleaned.get("activate")):
            raise ValidationError(f"the same content as {latest} ({latest.get_status_display().lower()}): no new version made")
        return cleaned


@admin.register(Specification)
class SpecificationAdmin(_ModelAdmin):
    """Specifications decide what "conforming" means. A version is never edited: its lines are shown
    read-only, and "add" loads a JSON specification through ``specification_load`` (QA managers,
    ``manage_specs``), which makes the next version and audits it. Lab admins read them."""

    list_display = ("product", "version", "grade", "status", "source", "effective_from", "line_count")
    list_filter = ("status", "product")
    search_fields = ("product__code", "grade", "name", "source")
    list_select_related = ("product",)
    inlines = (SpecificationLineInline,)
    readonly_fields = (
        "product",
        "version",
        "name",
        "grade",
        "status",
        "source",
        "effective_from",
        "created_at",
        "main_elements",
        "basis",
        "treo_also_counts",
        "required_analytes",
        "content_sha256",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Specification]:
        queryset: QuerySet[Specification] = super().get_queryset(request)
        return queryset.annotate(lines_total=Count("lines"))

    @admin.display(description="lines", ordering="lines_total")
    def line_count(self, obj: Specification) -> int:
        return int(getattr(obj, "lines_total", 0))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = SpecificationLoadForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ("spec_json", "activate")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else ()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, Capability.MANAGE_SPECS) or _allowed(request, Capability.MANAGE_MASTER_DATA)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _allowed(request, Capability.MANAGE_SPECS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Specification, form: Any, change: Any) -> None:
        result = specification_load(
            actor=_actor(request), data=form.cleaned_data["spec_json"], file_name="the admin form", activate=form.cleaned_data["activate"]
        )
        # The admin's log entry and redirect use the stored version.
        for spec_field in Specification._meta.concrete_fields:
            setattr(obj, spec_field.attname, getattr(result.specification, spec_field.attname))
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: Any) -> None:
        # The service stored the lines; the form has no relations of its own to save.
        return None


# --- Instruments, methods, reference materials ------------------------------------------------


class QcLabelPatternInline(MasterDataInline):
    """How this instrument's sequences name QC items beyond the defaults (ICV, CCV, CCB, BLK, LCS,
    CRM <name>, DUP <sample>, SPK <sample>); tried in position order, before sample ids."""

    model = QcLabelPattern
    fields = ("position", "pattern", "match_kind", "qc_role", "reference_material", "note")
    autocomplete_fields = ("reference_material",)
    ordering = ("position", "id")


@admin.register(Instrument)
class InstrumentAdmin(MasterDataAdmin):
    list_display = ("code", "name", "site", "technique", "vendor", "model", "software_applies_dilution_factor", "is_active")
    list_filter = ("site", "technique", "is_active")
    search_fields = ("code", "name", "vendor", "model", "serial_number")
    list_select_related = ("site",)
    inlines = (QcLabelPatternInline,)


@admin.register(QcLabelPattern)
class QcLabelPatternAdmin(MasterDataAdmin):
    # A regular expression is compiled on save (the model's clean): an invalid one is a form error.
    list_display = ("instrument", "position", "pattern", "match_kind", "qc_role", "reference_material", "note")
    list_filter = ("instrument", "match_kind", "qc_role")
    search_fields = ("pattern", "note", "instrument__code")
    list_select_related = ("instrument", "reference_material")
    autocomplete_fields = ("reference_material",)


class MethodChannelForm(_ModelForm):
    class Meta:
        model = MethodChannel
        fields = ("analyte", "role", "unit", "lod", "loq", "uncertainty_a", "uncertainty_b")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        analyte = cleaned.get("analyte")
        if analyte is not None:
            # Repeated from the analyte so the database can hold "one reporting channel per element".
            self.instance.element = analyte.element
        return cleaned


class MethodChannelFormSet(_InlineFormSet):
    def clean(self) -> None:
        super().clean()
        # The database's one-reporting-channel-per-element rule, said here as a form error rather
        # than an integrity error (all of the method's channels are in this formset).
        reporting: dict[int, str] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            analyte, role = data.get("analyte"), data.get("role")
            if analyte is None or analyte.element_id is None or role != ChannelRole.REPORTING:
                continue
            if analyte.element_id in reporting:
                raise ValidationError(
                    f"{analyte.code} and {reporting[analyte.element_id]} are both reporting channels of one element; "
                    "make one of them confirmatory."
                )
            reporting[analyte.element_id] = analyte.code


class MethodChannelInline(MasterDataInline):
    model = MethodChannel
    form = MethodChannelForm
    formset = MethodChannelFormSet
    autocomplete_fields = ("analyte",)
    fields = ("analyte", "role", "unit", "lod", "loq", "uncertainty_a", "uncertainty_b")


class MethodForm(forms.ModelForm):  # type: ignore[type-arg]
    rule_pack_code = forms.ChoiceField(label="Rule pack", help_text="Runs of this method are judged by the latest version of this pack.")

    class Meta:
        model = Method
        fields = ("code", "name", "technique", "standard", "is_manual", "rule_pack_code")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes = sorted(set(RulePack.objects.values_list("code", flat=True)))
        field = self.fields["rule_pack_code"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(code, code) for code in codes]


class QcStandardInline(MasterDataInline):
    model = QcStandard
    fields = ("kind", "name", "unit")
    show_change_link = True


@admin.register(Method)
class MethodAdmin(MasterDataAdmin):
    form = MethodForm
    list_display = ("code", "name", "technique", "standard", "is_manual", "rule_pack_code")
    list_filter = ("technique", "is_manual", "rule_pack_code")
    search_fields = ("code", "name", "standard")
    inlines = (MethodChannelInline, QcStandardInline)


class QcStandardValueInline(MasterDataInline):
    model = QcStandardValue
    fields = ("analyte", "nominal", "calibration_level")
    autocomplete_fields = ("analyte",)


@admin.register(QcStandard)
class QcStandardAdmin(MasterDataAdmin):
    list_display = ("method", "kind", "name", "unit")
    list_filter = ("kind", "method")
    inlines = (QcStandardValueInline,)


@admin.register(CalibrationNominal)
class CalibrationNominalAdmin(MasterDataAdmin):
    list_display = ("method", "analyte", "level", "value", "unit")
    list_filter = ("method", "level")
    search_fields = ("analyte__code", "method__code")
    list_select_related = ("method", "analyte")


@admin.register(RulePack)
class RulePackAdmin(MasterDataAdmin):
    """A version is never edited: "add" writes the next version of the pack its text names
    (through the service, validated and audited); existing versions are shown read-only."""

    list_display = ("code", "version", "title", "created_at", "created_by", "note")
    list_filter = ("code",)
    fields = ("source_text", "note")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("code", "version", "title", "source_text", "note", "created_at", "created_by") if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_readonly_fields(request, obj) if obj is not None else self.fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from assays.services.qc_setup import rule_pack_revise

        created = rule_pack_revise(actor=request.user, source_text=obj.source_text, note=obj.note)
        obj.pk, obj.code, obj.version = created.pk, created.code, created.version

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:

            class RevisionForm(form):  # type: ignore[valid-type,misc]
                def clean(self) -> Any:
                    from assays.errors import DomainError
                    from assays.qc.packs import parse_rule_pack

                    cleaned = super().clean()
                    try:
                        parse_rule_pack(cleaned.get("source_text") or "", source="the rule pack")
                    except DomainError as error:
                        raise ValidationError(str(error)) from error
                    if not (cleaned.get("note") or "").strip():
                        raise ValidationError("say what changed and why (the note)")
                    return cleaned

            return RevisionForm
        return form


@admin.register(ControlBaseline)
class ControlBaselineAdmin(MasterDataAdmin):
    list_display = ("method", "analyte", "series", "reference_material", "starts_at", "ends_at", "set_by", "set_at")
    list_filter = ("method", "series")
    readonly_fields = ("set_by", "set_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from django.utils import timezone

        obj.set_by, obj.set_at = request.user, timezone.now()
        super().save_model(request, obj, form, change)


class CertifiedValueInline(MasterDataInline):
    model = CertifiedValue
    fields = ("element", "value", "expanded_uncertainty", "unit")


@admin.register(ReferenceMaterial)
class ReferenceMaterialAdmin(MasterDataAdmin):
    list_display = ("name", "lot_number", "producer", "expires_on")
    search_fields = ("name", "lot_number", "producer")
    inlines = (CertifiedValueInline,)


# --- Sites, partners, users -------------------------------------------------------------------


@admin.register(Site)
class SiteAdmin(MasterDataAdmin):
    list_display = ("code", "name", "country", "is_default")
    search_fields = ("code", "name")


@admin.register(Partner)
class PartnerAdmin(MasterDataAdmin):
    list_display = ("code", "name", "kind", "country")
    list_filter = ("kind", "country")
    search_fields = ("code", "name")


@admin.register(SiteMembership)
class SiteMembershipAdmin(MasterDataAdmin):
    capability = Capability.MANAGE_USERS
    list_display = ("user", "site")
    list_filter = ("site",)
    search_fields = ("user__username", "site__code")
    list_select_related = ("user", "site")
    autocomplete_fields = ("user",)


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(MasterDataAdmin):
    capability = Capability.MANAGE_USERS
    list_display = ("user", "partner")
    list_filter = ("partner",)
    search_fields = ("user__username", "partner__code", "partner__name")
    list_select_related = ("user", "partner")
    autocomplete_fields = ("user",)


class SiteMembershipInline(MasterDataInline):
    capability = Capability.MANAGE_USERS
    model = SiteMembership
    verbose_name = "site membership"


class PartnerMembershipInline(MasterDataInline):
    capability = Capability.MANAGE_USERS
    model = PartnerMembership
    verbose_name = "acts for partner"
    max_num = 1


admin.site.unregister(User)


@admin.register(User)
class LimsUserAdmin(_UserAdmin):
    """Accounts, their roles (groups) and memberships. Only a superuser touches superusers or
    grants superuser status and raw permissions: a lab admin cannot promote anyone past itself."""

    inlines = (SiteMembershipInline, PartnerMembershipInline)
    list_display = ("username", "first_name", "last_name", "email", "roles_display", "is_staff", "is_active")
    list_filter = ("groups", "is_staff", "is_active")

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def roles_display(self, obj: User) -> str:
        return ", ".join(sorted(group.name for group in obj.groups.all()))

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        # Memberships are set once the account exists (the add form asks for credentials only).
        return self.inlines if obj is not None else ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ("is_superuser", "user_permissions", "last_login", "date_joined")
        return fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _allowed(request, Capability.MANAGE_USERS)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, Capability.MANAGE_USERS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _allowed(request, Capability.MANAGE_USERS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return _allowed(request, Capability.MANAGE_USERS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A user who appears in the audit trail is PROTECTed: deactivate instead.
        return self.has_change_permission(request, obj)


# --- Regulated records (read-only) ------------------------------------------------------------


class LotInputInline(ReadOnlyInline):
    model = LotInput
    fk_name = "output_lot"
    verbose_name = "input lot"
    verbose_name_plural = "inputs (genealogy)"
    fields = ("input_lot", "mass_used_kg")


class LotAllocationInline(ReadOnlyInline):
    model = LotAllocation
    fields = ("customer", "mass_kg", "reference", "allocated_at")


class SampleInline(ReadOnlyInline):
    model = Sample
    fields = ("code", "sample_type", "status", "sample_mass_g", "final_volume_ml", "dilution_factor")


@admin.register(Lot)
class LotAdmin(RegulatedRecordAdmin):
    list_display = ("code", "kind", "product", "site", "status", "mass_kg", "supplier", "is_recycled", "created_at")
    list_filter = ("kind", "status", "site", "product", "magnet_chemistry", "feedstock_type", "is_recycled")
    search_fields = ("code", "supplier__name", "supplier__code")
    list_select_related = ("product", "site", "supplier")
    date_hierarchy = "created_at"
    inlines = (LotInputInline, LotAllocationInline, SampleInline)


@admin.register(LotInput)
class LotInputAdmin(RegulatedRecordAdmin):
    list_display = ("input_lot", "output_lot", "mass_used_kg")
    search_fields = ("input_lot__code", "output_lot__code")
    list_select_related = ("input_lot", "output_lot")


@admin.register(LotAllocation)
class LotAllocationAdmin(RegulatedRecordAdmin):
    list_display = ("lot", "customer", "mass_kg", "reference", "allocated_at")
    list_filter = ("customer",)
    search_fields = ("lot__code", "customer__name", "customer__code", "reference")
    list_select_related = ("lot", "customer")


class CustodyEventInline(ReadOnlyInline):
    model = CustodyEvent
    fields = ("kind", "at", "actor", "from_location", "to_location", "to_site", "to_partner", "carrier_reference")


@admin.register(Sample)
class SampleAdmin(RegulatedRecordAdmin):
    list_display = ("code", "lot", "site", "sample_type", "status", "sample_mass_g", "final_volume_ml", "dilution_factor", "registered_at")
    list_filter = ("site", "sample_type", "status")
    search_fields = ("code", "lot__code")
    list_select_related = ("lot", "site")
    date_hierarchy = "registered_at"
    inlines = (CustodyEventInline,)


@admin.register(CustodyEvent)
class CustodyEventAdmin(RegulatedRecordAdmin):
    list_display = ("sample", "kind", "at", "actor", "from_location", "to_location", "to_site", "to_partner", "carrier_reference")
    list_filter = ("kind", "to_site", "to_partner")
    search_fields = ("sample__code", "carrier_reference", "to_location", "from_location")
    list_select_related = ("sample", "actor", "to_site", "to_partner")
    date_hierarchy = "at"


@admin.register(Run)
class RunAdmin(RegulatedRecordAdmin):
    list_display = ("id", "source_filename", "site", "instrument", "method", "analyst", "status", "imported_at")
    list_filter = ("status", "site", "instrument", "method")
    search_fields = ("source_filename", "source_sha256")
    list_select_related = ("site", "instrument", "method", "analyst")
    date_hierarchy = "imported_at"


@admin.register(Acquisition)
class AcquisitionAdmin(RegulatedRecordAdmin):
    list_display = ("run", "sequence", "label", "sample", "qc_role", "acquired_at", "rejected_by_instrument")
    list_filter = ("qc_role", "rejected_by_instrument")
    search_fields = ("label", "sample__code", "run__source_filename")
    list_select_related = ("run", "sample")


@admin.register(InternalStandardReading)
class InternalStandardReadingAdmin(RegulatedRecordAdmin):
    list_display = ("acquisition", "analyte", "counts_per_second", "recovery_percent")
    search_fields = ("analyte__code", "acquisition__label", "acquisition__run__source_filename")
    list_select_related = ("acquisition", "analyte")


@admin.register(Measurement)
class MeasurementAdmin(RegulatedRecordAdmin):
    list_display = ("acquisition", "analyte", "qualifier", "value", "unit", "basis", "lod", "rsd_percent")
    list_filter = ("basis", "qualifier")
    search_fields = ("analyte__code", "acquisition__label", "acquisition__sample__code")
    list_select_related = ("acquisition", "analyte")


@admin.register(QcEvaluation)
class QcEvaluationAdmin(RegulatedRecordAdmin):
    list_display = ("run", "rule_pack", "status", "is_current", "evaluated_at", "requested_by")
    list_filter = ("status", "is_current", "rule_pack")
    list_select_related = ("run", "rule_pack", "requested_by")


@admin.register(QcCheck)
class QcCheckAdmin(RegulatedRecordAdmin):
    list_display = ("evaluation", "kind", "acquisition", "analyte", "measured", "passed", "message")
    list_filter = ("kind", "passed")
    list_select_related = ("evaluation", "acquisition", "analyte")


@admin.register(QcWaiver)
class QcWaiverAdmin(RegulatedRecordAdmin):
    list_display = ("check_result", "decided_by", "decided_at", "reason")
    list_select_related = ("check_result", "decided_by")


@admin.register(Flag)
class FlagAdmin(RegulatedRecordAdmin):
    list_display = ("kind", "lot", "run", "method", "status", "raised_at", "raised_by")
    list_filter = ("kind", "status")
    search_fields = ("lot__code", "run__source_filename", "method__code")
    list_select_related = ("lot", "run", "method", "raised_by")
    date_hierarchy = "raised_at"


@admin.register(LotAssessment)
class LotAssessmentAdmin(RegulatedRecordAdmin):
    list_display = ("lot", "specification", "status", "assessed_at", "is_frozen")
    list_filter = ("status", "is_frozen")
    search_fields = ("lot__code", "inputs_fingerprint")
    list_select_related = ("lot", "specification", "specification__product")


@admin.register(Certificate)
class CertificateAdmin(RegulatedRecordAdmin):
    list_display = ("number", "revision", "lot", "customer", "issuing_site", "status", "issued_at")
    list_filter = ("status", "issuing_site", "customer")
    search_fields = ("number", "lot__code", "pdf_sha256")
    list_select_related = ("lot", "customer", "issuing_site")


@admin.register(CertificateBatch)
class CertificateBatchAdmin(RegulatedRecordAdmin):
    list_display = ("pk", "requested_by", "requested_at", "total", "rendered", "failed")
    list_select_related = ("requested_by",)


@admin.register(CertificateCounter)
class CertificateCounterAdmin(RegulatedRecordAdmin):
    """Shown so an auditor can see the last number given; only the issuing service moves it."""

    list_display = ("prefix", "year", "last_value")


@admin.register(LabProfile)
class LabProfileAdmin(MasterDataAdmin):
    """What every certificate prints about the lab, and whether signing asks for a TOTP code."""

    list_display = ("name", "accreditation", "require_totp")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row: the certificate service reads the first.
        return super().has_add_permission(request) and not LabProfile.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TotpDevice)
class TotpDeviceAdmin(MasterDataAdmin):
    """Users enrol their own authenticator (account page); an admin may only remove a lost one."""

    capability = Capability.MANAGE_USERS
    list_display = ("user", "created_at")
    fields = ("user", "created_at")
    readonly_fields = ("user", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(RegulatedRecordAdmin):
    view_capabilities = (*REGULATED_VIEW, Capability.VIEW_AUDIT_TRAIL)
    list_display = ("at", "actor_label", "action", "entity", "object_repr", "reason")
    list_filter = ("action", "entity")
    search_fields = ("object_repr", "object_id", "actor_label", "reason")
    date_hierarchy = "at"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(RegulatedRecordAdmin):
    """Written by the workers; shown so an admin can tell a dead pool from an idle one."""

    list_display = ("hostname", "last_seen_at", "beats")


@admin.register(PartnerWebhook)
class PartnerWebhookAdmin(RegulatedRecordAdmin):
    """Registered and disabled through the service (the webhook pages), which audits both and shows
    the secret once; here it is never shown."""

    list_display = ("partner", "url", "events", "is_active", "created_at", "created_by", "disabled_at")
    list_filter = ("is_active", "partner")
    search_fields = ("url", "partner__code", "description")
    list_select_related = ("partner", "created_by")
    exclude = ("secret",)
    # Shown read-only, but Django still builds the form: say https, as Django 6 will by default.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RegulatedRecordAdmin):
    """The delivery log: written by the delivery task only."""

    list_display = ("created_at", "event", "webhook", "certificate", "status", "attempts", "last_status_code", "next_attempt_at")
    list_filter = ("status", "event")
    search_fields = ("webhook__partner__code", "webhook__url", "certificate__number")
    list_select_related = ("webhook", "webhook__partner", "certificate")
    date_hierarchy = "created_at"


# The library's own key model is not used (partners' keys are PartnerApiKey): its admin, which
# importing the library's admin module registers, would only invite keys that open nothing.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(PartnerApiKey)
class PartnerApiKeyAdmin(RegulatedRecordAdmin, APIKeyModelAdmin):
    """Listed and read here; issued and revoked on the Partners pages (/partners/<code>/keys/)
    through ``assays.services.partner_keys``, which checks scopes and lifetime, audits both and
    shows the key once. The library's add form (it shows the key once too) would skip the audit
    and those checks, and its change form would flip ``revoked`` with no reason: both are off."""

    view_capabilities = (Capability.MANAGE_USERS,)
    # The library's admin declares these as tuples of its own length; mypy reads that as their type.
    list_display = ("prefix", "name", "partner", "scopes", "expiry_date", "_has_expired", "revoked", "last_used_at", "created", "manage")  # type: ignore[assignment]
    list_filter = ("revoked", "partner", "expiry_date", "created")  # type: ignore[assignment]
    search_fields = ("name", "prefix", "partner__code", "partner__name")  # type: ignore[assignment]
    list_select_related = ("partner",)
    readonly_fields = ("manage",)
    date_hierarchy = "created"
    actions = ["revoke_keys"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # "Add" opens the Partners pages' issue form (add_view), where the key is shown once.
        return _allowed(request, Capability.MANAGE_USERS)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("web:partner_list"))

    @admin.action(description="Revoke the selected keys…")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[PartnerApiKey]) -> HttpResponse | None:
        """Through ``api_key_revoke`` (Lab admin only, audited), after a page that asks why."""
        live = list(queryset.filter(revoked=False).select_related("partner"))
        reason = str(request.POST.get("reason", "")).strip()
        if request.POST.get("confirmed") and reason:
            for key in live:
                try:
                    api_key_revoke(actor=request.user, key=key, reason=reason)  # type: ignore[arg-type]
                except DomainError as error:
                    self.message_user(request, f"{key.prefix}…: {error}", level=messages.ERROR)
                    return None
            self.message_user(request, f"Revoked {len(live)} key(s): {reason}", level=messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Revoke partner API keys",
            "opts": self.model._meta,
            "keys": live,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "reason_missing": bool(request.POST.get("confirmed")) and not reason,
        }
        return TemplateResponse(request, "admin/assays/partnerapikey/revoke.html", context)

    @admin.display(description="Issue or revoke")
    def manage(self, key: PartnerApiKey) -> SafeString:
        return format_html('<a href="{}">{} keys</a>', reverse("web:partner_keys", args=[key.partner.code]), key.partner.code)
