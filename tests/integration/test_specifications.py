"""Loading specifications (assays.services.specifications, ``manage.py load_specs``): versions,
idempotency, activation, the audit trail, permissions, references to master and reference data,
and the shipped catalogue with the public sources it cites."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from assays.errors import PermissionDeniedError
from assays.models import (
    AuditAction,
    AuditEvent,
    Oxide,
    Product,
    SpecComparison,
    SpecDecisionRule,
    Specification,
    SpecificationBasis,
    SpecificationLine,
    SpecificationStatus,
    SpecQuantity,
    SpecUnit,
)
from assays.services.specifications import specification_check, specification_load
from assays.spec_schema import (
    CATALOGUE_DIR,
    Basis,
    Comparison,
    DecisionRule,
    Quantity,
    SpecDefinition,
    SpecError,
    Unit,
    catalogue,
    catalogue_files,
    parse_spec_file,
)
from tests.conftest import World
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

DOMAIN_DOC = Path(__file__).resolve().parents[2].parent / "shared" / "domain" / "REO-ASSAY.md"
FILE = "nd2o3-4n.json"


def _spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "product": "ND2O3-4N",
        "name": "Neodymium oxide 4N",
        "grade": "Nd2O3-04",
        "source": "GB/T 5240-1992 Table 2, Nd2O3-04",
        "main": ["Nd"],
        "basis": "as_received",
        "lines": [
            {"quantity": "treo", "min": "99", "unit": "%"},
            {"quantity": "relative_purity", "min": "99.99", "unit": "%"},
            {"quantity": "oxide", "element": "Pr", "oxide": "Pr6O11", "max": "0.003", "unit": "%"},
            {
                "quantity": "oxide",
                "element": "Fe",
                "oxide": "Fe2O3",
                "max": "0.0005",
                "unit": "%",
                "method": "absolute",
                "rule": "guard_band",
            },
            {"quantity": "anion", "anion": "Cl-", "max": "300", "unit": "mg/kg", "source": "plant default"},
            {"quantity": "loi", "max": "1", "unit": "%"},
        ],
    }
    spec.update(changes)
    return spec


@pytest.fixture
def product() -> Product:
    product = ProductFactory(code="ND2O3-4N", name="Neodymium oxide 4N")
    product.main_oxides.set(Oxide.objects.filter(formula="Nd2O3"))
    return product


def _events(spec: Specification) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(entity="assays.specification", object_id=str(spec.pk)).order_by("id"))


def _counts() -> tuple[int, int, int]:
    return Specification.objects.count(), SpecificationLine.objects.count(), AuditEvent.objects.count()


# --- Loading, versions, idempotency ------------------------------------------------------------


def test_a_first_load_stores_version_1_active_with_its_lines_as_written(qa_manager: User, product: Product) -> None:
    result = specification_load(actor=qa_manager, data=_spec(), file_name=FILE)

    assert (result.created, result.activated) == (True, True)
    spec = result.specification
    assert (spec.product, spec.version, spec.status) == (product, 1, SpecificationStatus.ACTIVE)
    assert (spec.name, spec.grade, spec.source, spec.basis) == (
        "Neodymium oxide 4N",
        "Nd2O3-04",
        "GB/T 5240-1992 Table 2, Nd2O3-04",
        "as_received",
    )
    assert spec.main_elements == ["Nd"]
    assert spec.required_analytes == ["Pr", "Fe", "Cl-", "LOI"]
    assert spec.effective_from is not None
    assert len(spec.content_sha256) == 64
    lines = list(spec.lines.select_related("element", "oxide").order_by("position"))
    assert [line.position for line in lines] == [1, 2, 3, 4, 5, 6]
    assert [(line.quantity, line.minimum, line.maximum, line.unit) for line in lines] == [
        ("treo", "99", "", "%"),
        ("relative_purity", "99.99", "", "%"),
        ("oxide", "", "0.003", "%"),
        ("oxide", "", "0.0005", "%"),
        ("anion", "", "300", "mg/kg"),
        ("loi", "", "1", "%"),
    ]
    iron = lines[3]
    assert (iron.element.symbol, iron.oxide.formula, iron.comparison, iron.rule) == ("Fe", "Fe2O3", "absolute", "guard_band")
    assert (lines[2].comparison, lines[2].rule) == ("rounding", "simple")
    assert lines[4].anion == "Cl-"
    # A line without its own source has the specification's.
    assert [line.source for line in lines] == ["GB/T 5240-1992 Table 2, Nd2O3-04"] * 4 + [
        "plant default",
        "GB/T 5240-1992 Table 2, Nd2O3-04",
    ]


def test_loading_the_same_content_twice_makes_no_new_version_and_no_audit_event(qa_manager: User, product: Product) -> None:
    first = specification_load(actor=qa_manager, data=_spec(), file_name=FILE)
    counts = _counts()
    # Same content in another key order and layout, defaults spelled out.
    reordered = dict(reversed(list(_spec().items())))
    reordered["lines"][0] = {"unit": "%", "min": "99", "quantity": "treo", "method": "rounding", "rule": "simple"}
    again = specification_load(actor=qa_manager, data=json.dumps(reordered, indent=2).encode(), file_name="other-name.json")

    assert (again.created, again.activated) == (False, False)
    assert again.specification == first.specification
    assert _counts() == counts


def test_a_changed_specification_becomes_version_2_active_and_retires_version_1(qa_manager: User, product: Product) -> None:
    v1 = specification_load(actor=qa_manager, data=_spec(), file_name=FILE).specification
    changed = _spec()
    changed["lines"][1]["min"] = "99.990"  # one more written digit is another limit

    result = specification_load(actor=qa_manager, data=changed, file_name="nd2o3-4n-rev2.json")

    v2 = result.specification
    v1.refresh_from_db()
    assert (result.created, v2.version, v2.status, v1.status) == (True, 2, SpecificationStatus.ACTIVE, SpecificationStatus.RETIRED)
    assert v2.content_sha256 != v1.content_sha256
    assert v2.lines.get(position=2).minimum == "99.990"
    assert v1.lines.get(position=2).minimum == "99.99"  # the old version is untouched
    # Loading the first content again is a change too: version 3.
    assert specification_load(actor=qa_manager, data=_spec(), file_name=FILE).specification.version == 3


def test_a_draft_leaves_the_active_version_and_loading_it_again_activates_it(qa_manager: User, product: Product) -> None:
    v1 = specification_load(actor=qa_manager, data=_spec(), file_name=FILE).specification
    changed = _spec(grade="Nd2O3-04 rev B")

    draft = specification_load(actor=qa_manager, data=changed, file_name=FILE, activate=False)
    assert (draft.created, draft.activated, draft.specification.status) == (True, False, SpecificationStatus.DRAFT)
    assert draft.specification.effective_from is None
    v1.refresh_from_db()
    assert v1.status == SpecificationStatus.ACTIVE

    activated = specification_load(actor=qa_manager, data=changed, file_name=FILE)
    assert (activated.created, activated.activated, activated.specification.pk) == (False, True, draft.specification.pk)
    v1.refresh_from_db()
    draft.specification.refresh_from_db()
    assert (draft.specification.status, v1.status) == (SpecificationStatus.ACTIVE, SpecificationStatus.RETIRED)
    assert draft.specification.effective_from is not None


def test_a_file_s_own_effective_date_is_kept(qa_manager: User, product: Product) -> None:
    spec = specification_load(actor=qa_manager, data=_spec(effective_from="2026-03-01"), file_name=FILE).specification
    assert spec.effective_from.isoformat() == "2026-03-01"


# --- Audit trail --------------------------------------------------------------------------------


def test_a_load_is_one_audit_event_with_the_line_count_and_the_lines(qa_manager: User, product: Product) -> None:
    v1 = specification_load(actor=qa_manager, data=_spec(), file_name=FILE).specification
    (created,) = _events(v1)
    assert (created.action, created.actor_label, created.reason) == (AuditAction.CREATE, "qa_manager", f"specification loaded from {FILE}")
    assert created.context == {"file_name": FILE, "line_count": 6, "activated": True}
    assert created.after is not None
    assert (created.after["version"], created.after["status"], created.after["content_sha256"]) == (1, "active", v1.content_sha256)
    assert [line["quantity"] for line in created.after["lines"]] == ["treo", "relative_purity", "oxide", "oxide", "anion", "loi"]
    assert created.after["lines"][3] == {
        "quantity": "oxide",
        "element": "Fe",
        "oxide": "Fe2O3",
        "max": "0.0005",
        "unit": "%",
        "method": "absolute",
        "rule": "guard_band",
        "source": "GB/T 5240-1992 Table 2, Nd2O3-04",
    }

    v2 = specification_load(actor=qa_manager, data=_spec(grade="4N"), file_name="rev2.json").specification
    assert [event.action for event in _events(v2)] == [AuditAction.CREATE]
    retired = _events(v1)[-1]
    assert (retired.action, retired.before, retired.after) == (AuditAction.TRANSITION, {"status": "active"}, {"status": "retired"})


@pytest.mark.postgres
def test_on_postgresql_the_lines_row_history_carries_who_loaded_them(qa_manager: User, product: Product) -> None:
    spec = specification_load(actor=qa_manager, data=_spec(), file_name=FILE).specification
    line_event = apps.get_model("assays", "SpecificationLineEvent")
    events = list(line_event.objects.filter(specification_id=spec.pk).select_related("pgh_context"))
    assert len(events) == 6
    assert {event.pgh_label for event in events} == {"insert"}
    for event in events:
        assert event.pgh_context.metadata["user"] == qa_manager.pk
        assert event.pgh_context.metadata["reason"] == f"specification loaded from {FILE}"


# --- Refusals: nothing is written ---------------------------------------------------------------


@pytest.mark.parametrize("who", ["technician", "qa", "lab_admin", "partner_a_user", "anonymous"])
def test_only_a_qa_manager_loads_specifications(who: str, request: pytest.FixtureRequest, product: Product) -> None:
    actor = request.getfixturevalue(who)
    counts = _counts()
    with pytest.raises(PermissionDeniedError, match="only a QA manager"):
        specification_load(actor=actor, data=_spec(), file_name=FILE)
    assert _counts() == counts


def test_an_unknown_product_is_refused_with_its_code_never_created(qa_manager: User) -> None:
    counts = _counts()
    with pytest.raises(SpecError) as caught:
        specification_load(actor=qa_manager, data=_spec(product="ND2O3-9N"), file_name=FILE)
    assert str(caught.value) == (
        f"{FILE}: product: no product 'ND2O3-9N': products are master data, a lab admin adds them in the admin first"
    )
    assert not Product.objects.filter(code="ND2O3-9N").exists()
    assert _counts() == counts


def test_an_oxide_missing_from_the_reference_data_is_refused_naming_it(qa_manager: User, product: Product) -> None:
    spec = _spec()
    # Well-formed binary oxides (a factor can be computed) that the Oxide table does not hold.
    spec["lines"][2] = {"quantity": "oxide", "element": "Pr", "oxide": "PrO2", "max": "0.003", "unit": "%"}
    spec["lines"].append({"quantity": "ratio", "oxides": ["Pr6O11", "NdO"], "min": "99", "unit": "%"})
    counts = _counts()
    with pytest.raises(SpecError) as caught:
        specification_load(actor=qa_manager, data=spec, file_name=FILE)
    assert str(caught.value).splitlines() == [
        f"{FILE}: lines[2].oxide: the oxide PrO2 is not in the reference data (Oxide table)",
        f"{FILE}: lines[6].oxides[1]: the oxide NdO is not in the reference data (Oxide table)",
    ]
    assert _counts() == counts


def test_the_main_set_must_be_the_product_s(qa_manager: User, product: Product) -> None:
    with pytest.raises(SpecError, match=re.escape("main: ['Pr'] is not the main component set of product ND2O3-4N (Nd2O3)")):
        specification_load(actor=qa_manager, data=_spec(main=["Pr"]), file_name=FILE)


def test_schema_errors_name_the_file_and_line(qa_manager: User, product: Product) -> None:
    spec = _spec()
    spec["lines"][1]["min"] = 99.99
    with pytest.raises(SpecError, match=re.escape(f"{FILE}: lines[1].min: write the limit as a string")):
        specification_load(actor=qa_manager, data=spec, file_name=FILE)


def test_specification_check_validates_against_the_database_without_writing(qa_manager: User, product: Product) -> None:
    counts = _counts()
    resolved = specification_check(data=json.dumps(_spec()), file_name=FILE)
    assert (resolved.product, resolved.latest, resolved.unchanged) == (product, None, False)
    assert _counts() == counts
    specification_load(actor=qa_manager, data=_spec(), file_name=FILE)
    assert specification_check(data=_spec(), file_name=FILE).unchanged


def test_the_schema_s_choices_are_the_model_s() -> None:
    pairs = [
        (Quantity, SpecQuantity),
        (Unit, SpecUnit),
        (Comparison, SpecComparison),
        (DecisionRule, SpecDecisionRule),
        (Basis, SpecificationBasis),
    ]
    for schema_choices, model_choices in pairs:
        assert [member.value for member in schema_choices] == list(model_choices.values), schema_choices.__name__


# --- manage.py load_specs ------------------------------------------------------------------------


def _load_specs(*args: str) -> str:
    out = io.StringIO()
    call_command("load_specs", *args, stdout=out)
    return out.getvalue()


def test_the_command_loads_files_and_reports_each_specification(tmp_path: Path, qa_manager: User, product: Product) -> None:
    ProductFactory(code="ND2O3-3N").main_oxides.set(Oxide.objects.filter(formula="Nd2O3"))
    single = tmp_path / "nd2o3-4n.json"
    single.write_text(json.dumps(_spec()), encoding="utf-8")
    several = tmp_path / "family.json"
    several.write_text(json.dumps([_spec(product="ND2O3-3N", grade="3N")]), encoding="utf-8")

    assert _load_specs(str(single), str(several), "--as", "qa_manager").splitlines() == [
        "ND2O3-4N: version 1 created",
        "ND2O3-3N: version 1 created",
    ]
    assert _load_specs(str(single), "--as", "qa_manager").splitlines() == ["ND2O3-4N: unchanged (version 1)"]
    single.write_text(json.dumps(_spec(grade="4N")), encoding="utf-8")
    assert _load_specs(str(single), "--as", "qa_manager", "--draft").splitlines() == ["ND2O3-4N: version 2 created (draft)"]
    assert _load_specs(str(single), "--as", "qa_manager").splitlines() == ["ND2O3-4N: unchanged, version 2 activated"]
    event = AuditEvent.objects.filter(entity="assays.specification", action="create").order_by("id").last()
    assert event is not None
    assert event.context["file_name"] == "nd2o3-4n.json"
    assert AuditEvent.objects.get(entity="assays.specification", action="create", context__file_name="family.json[0]")


def test_the_command_is_all_or_nothing_and_names_file_and_line(tmp_path: Path, qa_manager: User, product: Product) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_spec()), encoding="utf-8")
    bad_line = _spec(product="OTHER")
    bad_line["lines"][3]["max"] = 0.0005
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([bad_line]), encoding="utf-8")
    counts = _counts()

    with pytest.raises(CommandError) as caught:
        _load_specs(str(good), str(bad), str(tmp_path / "missing.json"), "--as", "qa_manager")
    message = str(caught.value)
    assert 'bad.json: [0].lines[3].max: write the limit as a string ("0.0005")' in message
    assert "missing.json: no such file" in message
    assert _counts() == counts

    # Valid files, but one names a product that does not exist: the first is not loaded either.
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps(_spec(product="NOPE")), encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        _load_specs(str(good), str(unknown), "--as", "qa_manager")
    assert "unknown.json: product: no product 'NOPE'" in str(caught.value)
    assert "nothing was loaded" in str(caught.value)
    assert _counts() == counts


def test_the_command_refuses_two_files_for_one_product_and_a_user_who_may_not(
    tmp_path: Path, world: World, qa_manager: User, lab_admin: User, product: Product
) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(_spec()), encoding="utf-8")
    second.write_text(json.dumps(_spec(grade="other")), encoding="utf-8")
    with pytest.raises(CommandError, match=re.escape("b.json: product ND2O3-4N is also specified in a.json")):
        _load_specs(str(first), str(second), "--as", "qa_manager")
    with pytest.raises(CommandError, match="only a QA manager may load specifications"):
        _load_specs(str(first), "--as", "lab_admin")
    with pytest.raises(CommandError, match="no active user 'nobody'"):
        _load_specs(str(first), "--as", "nobody")
    assert not Specification.objects.exists()


# --- The shipped catalogue -----------------------------------------------------------------------

PLANT_DEFAULT = "plant default"
GB_T_5240_ND2O3_04 = "GB/T 5240-1992 Table 2, Nd2O3-04"
TB4O7_DATA_SHEET = "producer data sheet (domain doc §9)"
MARKET = re.compile(r"market grade definition: (?P<quoted>.+?)(?:, read as [^()]+)? \(domain doc §9\)")


def _catalogue_products() -> None:
    """The products the catalogue names (master data a lab admin would add), main oxides included."""
    for _, spec in catalogue().values():
        product = ProductFactory(code=spec.product)
        product.main_oxides.set(Oxide.objects.filter(element__symbol__in=spec.main, is_conventional=True))


def test_the_whole_shipped_catalogue_loads_and_a_second_load_changes_nothing(qa_manager: User) -> None:
    _catalogue_products()
    paths = [str(path) for path in catalogue_files()]
    first = _load_specs(*paths, "--as", "qa_manager").splitlines()
    assert sorted(first) == sorted(f"{code}: version 1 created" for code in catalogue())
    for code, (_, definition) in catalogue().items():
        spec = Specification.objects.get(product__code=code)
        assert (spec.status, spec.content_sha256, spec.lines.count()) == ("active", definition.content_sha256, len(definition.lines))
    counts = _counts()
    second = _load_specs(*paths, "--as", "qa_manager").splitlines()
    assert sorted(second) == sorted(f"{code}: unchanged (version 1)" for code in catalogue())
    assert _counts() == counts


def _sources(spec: SpecDefinition) -> set[str]:
    return {spec.source, *(line.source for line in spec.lines)}


@pytest.mark.parametrize("path", catalogue_files(), ids=lambda path: path.name)
def test_each_catalogue_file_cites_only_plant_default_or_a_public_source_of_section_9(path: Path) -> None:
    section_9 = DOMAIN_DOC.read_text(encoding="utf-8").split("## 9.", 1)[1]
    for spec in parse_spec_file(path.read_bytes(), file_name=path.name):
        for source in _sources(spec):
            if source in (PLANT_DEFAULT, GB_T_5240_ND2O3_04, TB4O7_DATA_SHEET):
                continue
            match = MARKET.fullmatch(source)
            assert match is not None, f"{path.name} {spec.product}: source {source!r} is neither 'plant default' nor cited from §9"
            # A market grade citation quotes §9's own words.
            assert match["quoted"] in section_9, f"{path.name} {spec.product}: {match['quoted']!r} is not in §9"
        # A report-only line (payable content) has no limit, so nothing to cite but the plant's choice.
        for line in spec.lines:
            if line.report_only:
                assert line.source == PLANT_DEFAULT


def _section_9_table(title_fragment: str, row_name: str) -> dict[str, str]:
    """One row of a §9 table, by column header, with '<' and '≤' taken off."""
    text = DOMAIN_DOC.read_text(encoding="utf-8").split("## 9.", 1)[1]
    block = text.split(title_fragment, 1)[1]
    rows = [line for line in block.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    for row in rows[2:]:
        cells = [cell.strip().lstrip("<≤ ").strip() for cell in row.strip("|").split("|")]
        if cells[0] == row_name:
            return dict(zip(header, cells, strict=True))
    raise AssertionError(f"no row {row_name} under {title_fragment}")


def _line_limits(spec: SpecDefinition, source: str) -> dict[str, tuple[str | None, str | None]]:
    limits: dict[str, tuple[str | None, str | None]] = {}
    for line in spec.lines:
        if line.source == source:
            limits[line.target] = (line.minimum, line.maximum)
    return limits


def test_the_gb_t_5240_limits_are_those_of_grade_nd2o3_04() -> None:
    row = _section_9_table("Nd2O3, GB/T 5240-1992", "Nd2O3-04")
    limits = _line_limits(catalogue()["ND2O3"][1], GB_T_5240_ND2O3_04)
    expected = {"treo": (row["REO ≥"], None), "relative_purity": (row["Nd2O3/REO ≥"], None), "loi": (None, row["LOI (1000 °C, 1 h)"])}
    expected |= {formula: (None, row[formula]) for formula in ("La2O3", "CeO2", "Pr6O11", "Sm2O3", "Y2O3", "Fe2O3", "SiO2", "CaO")}
    assert limits == expected


def test_the_tb4o7_4n_limits_are_those_of_the_data_sheet() -> None:
    row = _section_9_table("Tb4O7, a producer's data sheet", "4N")
    spec = catalogue()["TB4O7"][1]
    limits = _line_limits(spec, TB4O7_DATA_SHEET)
    rare_earth_impurities = {
        line.target for line in spec.lines if line.quantity == Quantity.OXIDE and line.element not in ("Fe", "Si", "Ca")
    }
    # Every rare earth but terbium (and scandium, which this TREO does not count), each at the sheet's limit.
    assert len(rare_earth_impurities) == 14
    expected = {"treo": (row["TREO ≥"], None), "relative_purity": (row["Tb4O7/TREO ≥"], None), "loi": (None, row["LOI"])}
    expected |= {"Cl-": (None, row["Cl⁻"])}
    expected |= {formula: (None, row[formula]) for formula in ("Fe2O3", "SiO2", "CaO")}
    expected |= dict.fromkeys(rare_earth_impurities, (None, row["each RE impurity oxide"]))
    assert limits == expected


def test_catalogue_files_are_one_per_product_family_in_the_package() -> None:
    assert CATALOGUE_DIR.name == "spec_catalogue"
    assert {path.name for path in catalogue_files()} == {
        "nd2o3.json",
        "pr6o11.json",
        "prnd.json",
        "dy2o3.json",
        "tb4o7.json",
        "la2o3.json",
        "ceo2.json",
        "sm2o3.json",
        "feedstock.json",
    }
    shipped = catalogue()
    assert {shipped["ND2O3"][0], shipped["ND2O3-3N"][0]} == {"spec_catalogue/nd2o3.json"}
