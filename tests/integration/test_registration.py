"""Registering a sample sheet against the database: the service, its audit trail, the CLI.

All rows or none: every check runs before anything is written, and any error leaves the rows and
the audit trail exactly as they were. The same sheet twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import transaction

from assays.errors import PermissionDeniedError
from assays.importers import sample_sheet
from assays.importers.sample_sheet import parse_sample_sheet, sheet_from_records
from assays.models import AuditAction, AuditEvent, CustodyEvent, CustodyEventKind, Lot, LotKind, PartnerKind, Sample, Site
from assays.roles import Role
from assays.services.audit import AuditChange, audit_record, audit_record_many, snapshot
from assays.services.lots import lot_create
from assays.services.registration import Outcome, RegistrationResult, samples_register_sheet
from assays.services.samples import sample_register
from tests.concurrency import start_in_thread, wait_for_a_lock_wait
from tests.conftest import World
from tests.factories import PartnerFactory, ProductFactory, UserFactory

HEADER = "sample_id,lot,lot_kind,product,supplier,sample_mass_g,final_volume_ml,dilution_factor,site"


def csv_sheet(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def register(actor: User | None, data: bytes, **kwargs: Any) -> RegistrationResult:
    return samples_register_sheet(actor=actor, sheet=parse_sample_sheet(data, file_name="sheet.csv"), **kwargs)


def counts() -> dict[str, int]:
    return {
        "lots": Lot.objects.count(),
        "samples": Sample.objects.count(),
        "custody": CustodyEvent.objects.count(),
        "audit": AuditEvent.objects.count(),
        "sites": Site.objects.count(),
    }


def problems(result: RegistrationResult) -> list[tuple[int | None, str | None]]:
    return [(error.line, error.column) for error in result.errors]


@pytest.fixture
def master(world: World) -> World:
    ProductFactory(code="ND-OX", name="Neodymium oxide")
    ProductFactory(code="NDPR-OX", name="Didymium oxide")
    PartnerFactory(code="CUST", name="A customer only", kind=PartnerKind.CUSTOMER, country="FR")
    PartnerFactory(code="SUPP", name="A supplier only", kind=PartnerKind.SUPPLIER, country="CN")
    return world


GOOD = csv_sheet(
    "s-001,F-NEW-1,feedstock,,SUPP,0.1002,50,10,UK1",
    "S-002,F-NEW-1,feedstock,,SUPP,0.0998,50,10,UK1",
    "S-003,P-NEW-1,product,ND-OX,,0.25,100,100,UK1",
)


# --- Creating --------------------------------------------------------------------------------------


def test_it_registers_a_sheet_creating_the_missing_lots_as_described(master: World, technician: User) -> None:
    result = register(technician, GOOD)
    assert result.committed
    assert result.errors == []
    assert result.created_lots == ["F-NEW-1", "P-NEW-1"]
    assert result.created_samples == ["S-001", "S-002", "S-003"]
    assert result.outcomes == {2: Outcome.CREATE, 3: Outcome.CREATE, 4: Outcome.CREATE}
    feed = Lot.objects.select_related("site", "supplier", "product").get(code="F-NEW-1")
    assert (feed.kind, feed.site.code, feed.supplier.code if feed.supplier else None, feed.product) == ("feedstock", "UK1", "SUPP", None)
    assert feed.created_by == technician
    product = Lot.objects.get(code="P-NEW-1")
    assert (product.kind, product.product.code if product.product else None, product.supplier) == ("product", "ND-OX", None)
    first = Sample.objects.get(code="S-001")
    assert (first.lot, first.site.code, first.sample_type, first.registered_by) == (feed, "UK1", "routine", technician)
    assert (first.sample_mass_g, first.final_volume_ml, first.dilution_factor) == (Decimal("0.1002"), Decimal(50), Decimal(10))
    custody = CustodyEvent.objects.get(sample=first)
    assert (custody.kind, custody.actor, custody.to_location) == (CustodyEventKind.REGISTERED, technician, master.uk_site.name)


def test_the_audit_trail_records_each_sample_and_custody_event_as_stored(master: World, technician: User) -> None:
    register(technician, GOOD)
    for sample in Sample.objects.all():
        (event,) = AuditEvent.objects.filter(entity="assays.sample", object_id=str(sample.pk))
        # What the database holds, read back, is what the audit trail says was written.
        assert event.after == snapshot(Sample.objects.get(pk=sample.pk))
        assert (event.action, event.actor, event.actor_label, event.before) == (AuditAction.CREATE, technician, "tech", None)
        assert event.context["sample_sheet"] == "sheet.csv"
        (custody,) = CustodyEvent.objects.filter(sample=sample)
        (custody_event,) = AuditEvent.objects.filter(entity="assays.custodyevent", object_id=str(custody.pk))
        assert custody_event.after == snapshot(custody)
    assert AuditEvent.objects.filter(entity="assays.lot").count() == 2


def test_it_writes_what_sample_register_writes_for_the_same_sample(master: World, technician: User) -> None:
    lot = lot_create(actor=technician, code="L-SAME", site=master.uk_site, kind=LotKind.FEEDSTOCK)
    one = sample_register(
        actor=technician,
        code="ONE",
        lot=lot,
        sample_mass_g=Decimal("0.1"),
        final_volume_ml=Decimal("50"),
        dilution_factor=Decimal("10"),
    )
    register(technician, csv_sheet("TWO,L-SAME,feedstock,,,0.1,50,10,UK1"))
    two = Sample.objects.get(code="TWO")
    ignore = {"id", "code", "registered_at"}
    assert {k: v for k, v in snapshot(one).items() if k not in ignore} == {k: v for k, v in snapshot(two).items() if k not in ignore}
    audit_one = AuditEvent.objects.get(entity="assays.sample", object_id=str(one.pk)).after
    audit_two = AuditEvent.objects.get(entity="assays.sample", object_id=str(two.pk)).after
    assert {k: v for k, v in audit_one.items() if k not in ignore} == {k: v for k, v in audit_two.items() if k not in ignore}


def test_the_optional_columns_set_type_receipt_date_and_custody_note(master: World, technician: User) -> None:
    data = csv_sheet(
        "D-1,F-OPT,feedstock,,SUPP,0.1,50,,UK1,duplicate,2026-03-01,bag 3 of 5,blue",
        header=HEADER + ",sample_type,received_on,notes,colour",
    )
    result = register(technician, data)
    assert result.committed
    assert result.ignored_columns == ["colour"]
    sample = Sample.objects.get(code="D-1")
    assert (sample.sample_type, sample.dilution_factor) == ("duplicate", Decimal(1))
    assert Lot.objects.get(code="F-OPT").received_on == dt.date(2026, 3, 1)
    assert CustodyEvent.objects.get(sample=sample).note == "bag 3 of 5"


def test_who_sampled_when_and_how_are_stored_audited_and_compared_on_a_second_sheet(master: World, technician: User) -> None:
    header = HEADER + ",sampled_by,sampled_at,sampling_method"
    data = csv_sheet("SMP-1,F-SMP,feedstock,,SUPP,0.1,50,10,UK1,J. Weber,2026-04-29T07:30+02:00,ISO 3082 increments", header=header)
    assert register(technician, data).committed
    sample = Sample.objects.get(code="SMP-1")
    assert (sample.sampled_by, sample.sampling_method) == ("J. Weber", "ISO 3082 increments")
    assert sample.sampled_at == dt.datetime(2026, 4, 29, 5, 30, tzinfo=dt.UTC)
    after = AuditEvent.objects.get(entity="assays.sample", object_id=str(sample.pk)).after
    assert after is not None
    assert (after["sampled_by"], after["sampling_method"]) == ("J. Weber", "ISO 3082 increments")
    assert dt.datetime.fromisoformat(after["sampled_at"]) == sample.sampled_at
    # The same sheet, the time written in UTC: the same instant, so the sample is unchanged.
    same = csv_sheet("SMP-1,F-SMP,feedstock,,SUPP,0.1,50,10,UK1,J. Weber,2026-04-29T05:30Z,ISO 3082 increments", header=header)
    assert register(technician, same).unchanged_samples == ["SMP-1"]
    # Another sampler or another hour is another sample than the one registered: refused, named.
    before = counts()
    other = csv_sheet("SMP-1,F-SMP,feedstock,,SUPP,0.1,50,10,UK1,K. Other,2026-04-29T08:30+02:00,ISO 3082 increments", header=header)
    result = register(technician, other)
    assert not result.committed
    assert problems(result) == [(2, "sampled_by"), (2, "sampled_at")]
    assert "already registered with sampled_by 'J. Weber'; the sheet says 'K. Other'" in result.errors[0].message
    assert counts() == before


def test_the_sampling_columns_fit_the_model() -> None:
    assert Sample._meta.get_field("sampled_by").max_length == sample_sheet.SAMPLED_BY_MAX
    assert Sample._meta.get_field("sampling_method").max_length == sample_sheet.SAMPLING_METHOD_MAX


def test_rows_without_a_site_go_to_the_site_named_by_the_caller_or_the_default_site(master: World, technician: User) -> None:
    sheet = csv_sheet("N-1,F-NOSITE,feedstock,,,0.1,50,1,")
    result = register(technician, sheet, site_default="UK1")
    assert result.committed
    assert Sample.objects.get(code="N-1").site == master.uk_site
    # Without a site named, the installation's default site: not one of this technician's sites.
    refused = register(technician, csv_sheet("N-2,F-NOSITE-2,feedstock,,,0.1,50,1,"))
    assert problems(refused) == [(2, "site")]
    assert "MAIN" in refused.errors[0].message
    # The system (the CLI without --as) may: the default site is created on first use.
    assert register(None, csv_sheet("N-3,F-NOSITE-3,feedstock,,,0.1,50,1,")).committed
    assert Sample.objects.get(code="N-3").site.is_default


def test_a_named_default_site_that_does_not_exist_is_an_error(master: World, technician: User) -> None:
    result = register(technician, csv_sheet("N-1,F-X,feedstock,,,0.1,50,1,"), site_default="NOPE")
    assert problems(result) == [(None, "site")]
    assert Sample.objects.count() == 0


def test_an_existing_lot_described_the_same_way_takes_the_new_samples(master: World, technician: User) -> None:
    supplier = master.partner_a
    lot_create(actor=None, code="F-OLD", site=master.uk_site, kind=LotKind.FEEDSTOCK, supplier=supplier, received_on=dt.date(2026, 1, 5))
    result = register(technician, csv_sheet("O-1,F-OLD,feedstock,,PA,0.1,50,1,UK1"))
    assert (result.created_lots, result.created_samples) == ([], ["O-1"])
    assert Lot.objects.filter(code="F-OLD").count() == 1


# --- Idempotence -------------------------------------------------------------------------------


def test_the_same_sheet_twice_changes_nothing_and_writes_no_audit_event(master: World, technician: User) -> None:
    register(technician, GOOD)
    before = counts()
    again = register(technician, GOOD)
    assert again.committed
    assert again.errors == []
    assert (again.created_lots, again.created_samples) == ([], [])
    assert again.unchanged_samples == ["S-001", "S-002", "S-003"]
    assert set(again.outcomes.values()) == {Outcome.UNCHANGED}
    assert counts() == before


def test_a_sheet_extending_an_earlier_one_adds_only_the_new_rows(master: World, technician: User) -> None:
    register(technician, GOOD)
    extended = GOOD + b"S-004,F-NEW-1,feedstock,,SUPP,0.1,50,10,UK1\n"
    result = register(technician, extended)
    assert (result.created_lots, result.created_samples, len(result.unchanged_samples)) == ([], ["S-004"], 3)
    assert result.outcomes[5] == Outcome.CREATE
    assert result.outcomes[2] == Outcome.UNCHANGED


def test_a_sample_registered_one_at_a_time_with_the_same_preparation_is_unchanged(master: World, technician: User) -> None:
    lot = lot_create(actor=None, code="F-ONE", site=master.uk_site, kind=LotKind.FEEDSTOCK)
    sample_register(actor=None, code="X-1", lot=lot, sample_mass_g=Decimal("0.1"), final_volume_ml=Decimal(50), dilution_factor=Decimal(10))
    before = counts()
    result = register(technician, csv_sheet("x-1,F-ONE,feedstock,,,0.100000,50.0,10,UK1"))
    assert result.unchanged_samples == ["X-1"]
    assert result.errors == []
    assert counts() == before


# --- Errors: all of them, and nothing written ----------------------------------------------------


def test_every_database_error_is_reported_with_its_line_and_nothing_is_written(master: World, technician: User) -> None:
    uk = master.uk_site
    lot_create(actor=None, code="F-KIND", site=uk, kind=LotKind.FEEDSTOCK)
    lot_create(actor=None, code="P-PROD", site=uk, kind=LotKind.PRODUCT, product=ProductFactory(code="ND-OX"))
    lot_create(actor=None, code="F-SUPP", site=uk, kind=LotKind.FEEDSTOCK, supplier=master.partner_a, received_on=dt.date(2026, 1, 1))
    taken = lot_create(actor=None, code="F-TAKEN", site=uk, kind=LotKind.FEEDSTOCK)
    sample_register(actor=None, code="E-LOT", lot=taken, sample_mass_g=Decimal("0.1"), final_volume_ml=Decimal(50))
    sample_register(actor=None, code="E-PREP", lot=taken, sample_mass_g=Decimal("0.1"), final_volume_ml=Decimal(50))
    data = csv_sheet(
        "OK-1,F-FINE,feedstock,,,0.1,50,1,UK1,",  # 2: fine, yet not written
        "E-2,P-NEW,product,NO-SUCH,,0.1,50,1,UK1,",  # 3: unknown product
        "E-3,F-NEW,feedstock,,NOBODY,0.1,50,1,UK1,",  # 4: unknown supplier
        "E-4,F-NEW-2,feedstock,,CUST,0.1,50,1,UK1,",  # 5: a customer is not a supplier
        "E-5,F-FINE,feedstock,,,0.1,50,1,XX9,",  # 6: unknown site
        "E-6,F-KIND,intermediate,,,0.1,50,1,UK1,",  # 7: existing lot of another kind
        "E-7,P-PROD,product,NDPR-OX,,0.1,50,1,UK1,",  # 8: existing lot of another product
        "E-8,F-SUPP,feedstock,,PB,0.1,50,1,UK1,2026-02-02",  # 9: existing lot: supplier and receipt date differ
        "E-LOT,F-FINE,feedstock,,,0.1,50,1,UK1,",  # 10: sample registered with another lot
        "E-PREP,F-TAKEN,feedstock,,,0.2,50,1,UK1,",  # 11: sample registered with another mass
        header=HEADER + ",received_on",
    )
    before = counts()
    result = register(technician, data)
    assert not result.committed
    assert problems(result) == [
        (3, "product"),
        (4, "supplier"),
        (5, "supplier"),
        (6, "site"),
        (7, "lot_kind"),
        (8, "product"),
        (9, "supplier"),
        (9, "received_on"),
        (10, "lot"),
        (11, "sample_mass_g"),
    ]
    messages = {(error.line, error.column): error.message for error in result.errors}
    assert "no product 'NO-SUCH'" in messages[(3, "product")]
    assert "is a customer, not a supplier" in messages[(5, "supplier")]
    assert "already exists with lot_kind 'feedstock'; the sheet says 'intermediate'" in messages[(7, "lot_kind")]
    assert "already registered with lot 'F-TAKEN'" in messages[(10, "lot")]
    assert "sample_mass_g '0.100000'; the sheet says '0.200000'" in messages[(11, "sample_mass_g")]
    assert (result.created_lots, result.created_samples) == ([], [])
    assert result.outcomes[2] == Outcome.CREATE
    assert result.outcomes[3] == Outcome.ERROR
    assert counts() == before


def test_row_errors_and_database_errors_come_together_sorted_by_line(master: World, technician: User) -> None:
    data = csv_sheet(
        "BAD ID,F-A,feedstock,,,0.1,50,1,UK1",  # 2: sheet error
        "G-1,F-B,feedstock,,NOBODY,0.1,50,1,UK1",  # 3: database error
        "G-2,F-C,feedstock,,NOBODY,0.1,0,1,UK1",  # 4: sheet error; a row failing the sheet checks is not looked up
    )
    before = counts()
    result = register(technician, data)
    assert problems(result) == [(2, "sample_id"), (3, "supplier"), (4, "final_volume_ml")]
    assert counts() == before


def test_a_dry_run_says_what_it_would_do_and_writes_nothing(master: World, technician: User) -> None:
    before = counts()
    result = register(technician, GOOD, dry_run=True)
    assert result.ok
    assert not result.committed
    assert (result.created_lots, result.created_samples) == (["F-NEW-1", "P-NEW-1"], ["S-001", "S-002", "S-003"])
    assert counts() == before
    # Nor the default site, which a real run would create on first use.
    register(None, csv_sheet("N-1,F-DRY,feedstock,,,0.1,50,1,"), dry_run=True)
    assert counts() == before


def test_a_sheet_with_no_valid_rows_writes_nothing(master: World, technician: User) -> None:
    before = counts()
    result = samples_register_sheet(actor=technician, sheet=parse_sample_sheet(b"\xff\xfe\x00", file_name="x.csv"))
    assert not result.ok
    assert counts() == before


# --- Who may register where ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["qa", "qa_manager", "lab_admin", "partner_a_user"])
def test_only_technicians_register_samples(request: pytest.FixtureRequest, master: World, persona: str) -> None:
    user = request.getfixturevalue(persona)
    before = counts()
    with pytest.raises(PermissionDeniedError):
        register(user, GOOD)
    assert counts() == before


def test_a_uk_technician_cannot_register_into_us1(master: World, technician: User, us_technician: User) -> None:
    us_lot = lot_create(actor=None, code="F-US", site=master.us_site, kind=LotKind.FEEDSTOCK)
    sample_register(actor=None, code="US-SECRET", lot=us_lot)
    data = csv_sheet(
        "U-1,F-UK-NEW,feedstock,,,0.1,50,1,US1",  # 2: a US site
        "U-2,F-US,feedstock,,,0.1,50,1,UK1",  # 3: a US lot
        "US-SECRET,F-UK-NEW,feedstock,,,0.1,50,1,UK1",  # 4: a US sample's id
    )
    before = counts()
    result = register(technician, data)
    assert problems(result) == [(2, "site"), (3, "lot"), (4, "sample_id")]
    # The US sample's lot is not named: a code being taken is all the UK technician learns.
    assert "F-US" not in result.errors[2].message
    assert "already taken" in result.errors[2].message
    assert counts() == before
    # The US technician may.
    assert register(us_technician, csv_sheet("U-1,F-US-NEW,feedstock,,,0.1,50,1,US1")).committed


def test_a_sample_may_be_held_at_another_of_the_users_sites_than_its_lot(master: World, technician: User) -> None:
    both = UserFactory(username="tech_both", roles=[Role.TECHNICIAN], sites=[master.uk_site, master.us_site])
    data = csv_sheet("H-1,F-HELD,feedstock,,,0.1,50,1,UK1", "H-2,F-HELD,feedstock,,,0.1,50,1,US1")
    assert register(both, data).committed
    assert Lot.objects.get(code="F-HELD").site == master.uk_site  # the site of its first row
    assert Sample.objects.get(code="H-2").site == master.us_site


# --- Records (the JSON API and the web form use them) ----------------------------------------------


def test_records_register_like_csv_rows(master: World, technician: User) -> None:
    records = [
        {
            "sample_id": "J-1",
            "lot": "F-JSON",
            "lot_kind": "feedstock",
            "product": None,
            "supplier": "SUPP",
            "sample_mass_g": 0.1,
            "final_volume_ml": 50,
            "dilution_factor": 10,
            "site": "UK1",
        }
    ]
    result = samples_register_sheet(actor=technician, sheet=sheet_from_records(records))
    assert result.committed
    assert Sample.objects.get(code="J-1").sample_mass_g == Decimal("0.1")


# --- Concurrency ----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sheet_racing_the_same_sheet_finds_it_registered_instead_of_failing(world: World, technician: User) -> None:
    """Deterministic: the second registration plans while the first holds its rows uncommitted,
    then blocks on the lot's unique index; when the first commits it plans again and finds its
    samples already there, unchanged, as if it had come second."""
    data = csv_sheet("R-1,F-RACE,feedstock,,,0.1,50,1,UK1", "R-2,F-RACE,feedstock,,,0.1,50,1,UK1")
    written = threading.Event()
    release = threading.Event()
    second: list[RegistrationResult] = []

    def first_holds_its_transaction() -> None:
        with transaction.atomic():
            assert register(technician, data).committed
            written.set()
            release.wait(timeout=30)

    def second_races() -> None:
        second.append(register(technician, data))

    holder = start_in_thread(first_holds_its_transaction)
    assert written.wait(timeout=30)
    contender = start_in_thread(second_races)
    try:
        wait_for_a_lock_wait(waiting_for="the second registration")
    finally:
        release.set()
        holder.join(timeout=30)
        contender.join(timeout=30)
    (result,) = second
    assert result.errors == []
    assert result.created_samples == []
    assert result.unchanged_samples == ["R-1", "R-2"]
    assert Sample.objects.filter(lot__code="F-RACE").count() == 2


# --- audit_record_many ------------------------------------------------------------------------------


def test_audit_record_many_writes_the_fields_audit_record_writes(master: World, technician: User) -> None:
    lot = lot_create(actor=None, code="F-AUD", site=master.uk_site, kind=LotKind.FEEDSTOCK)
    with transaction.atomic():
        single = audit_record(actor=technician, action=AuditAction.UPDATE, instance=lot, reason="why", before={"a": 1}, after={"a": 2})
        (many,) = audit_record_many(
            actor=technician,
            action=AuditAction.UPDATE,
            changes=[AuditChange(lot, before={"a": 1}, after={"a": 2})],
            reason="why",
        )
    fields = ["actor", "actor_label", "action", "entity", "object_id", "object_repr", "reason", "before", "after", "context"]
    stored = AuditEvent.objects.get(pk=many.pk)
    assert {field: getattr(stored, field) for field in fields} == {field: getattr(single, field) for field in fields}


@pytest.mark.django_db(transaction=True)
def test_audit_record_many_refuses_to_write_outside_a_transaction(world: World) -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record_many(actor=None, action=AuditAction.CREATE, changes=[AuditChange(world.uk_site)])
    assert not AuditEvent.objects.exists()


def test_audit_record_many_records_saved_rows_only(master: World) -> None:
    with transaction.atomic(), pytest.raises(ValueError, match="no primary key"):
        audit_record_many(actor=None, action=AuditAction.CREATE, changes=[AuditChange(Lot(code="unsaved"))])
    assert not AuditEvent.objects.exists()


# --- The sheet parser's precision is the database's -----------------------------------------------


@pytest.mark.parametrize("column", sample_sheet.DECIMAL_COLUMNS, ids=lambda column: column.name)
def test_the_sheet_columns_have_the_models_precision(column: sample_sheet.DecimalColumn) -> None:
    field = Sample._meta.get_field(column.name)
    assert (column.max_digits, column.decimal_places) == (field.max_digits, field.decimal_places)


def test_the_sheet_code_lengths_fit_the_models() -> None:
    from assays.models import Partner, Product

    assert Lot._meta.get_field("code").max_length == sample_sheet.LOT_CODE_MAX
    assert Site._meta.get_field("code").max_length == sample_sheet.SITE_CODE_MAX
    assert Product._meta.get_field("code").max_length == sample_sheet.PRODUCT_CODE_MAX
    assert Partner._meta.get_field("code").max_length == sample_sheet.PARTNER_CODE_MAX


# --- The CLI ----------------------------------------------------------------------------------------


def run_cli(*args: str) -> tuple[str, str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("register_samples", *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def test_the_cli_registers_a_sheet_and_says_what_it_did(master: World, technician: User, tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_bytes(GOOD)
    out, err, error = run_cli(str(path), "--as", "tech")
    assert error is None
    assert err == ""
    assert "sheet.csv: registered 3 sample(s) in 2 new lot(s) (F-NEW-1, P-NEW-1); 0 already registered, unchanged" in out
    assert Sample.objects.get(code="S-001").registered_by == technician
    out, _, error = run_cli(str(path), "--as", "tech")
    assert error is None
    assert "registered 0 sample(s) in 0 new lot(s); 3 already registered, unchanged" in out


def test_the_cli_lists_every_error_with_its_line_and_exits_non_zero(master: World, technician: User, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(
        csv_sheet("S-1,F-1,feedstock,,,0,50,1,UK1", "S-1,F-1,feedstock,,,0.1,50,0.5,UK1", "S-3,F-2,feedstock,,NOBODY,0.1,50,1,UK1")
    )
    before = counts()
    _out, err, error = run_cli(str(path), "--as", "tech")
    assert error is not None
    assert error.returncode == 1
    assert "3 error(s)" not in str(error)  # one per problem, not per line
    assert str(error) == "4 error(s) in bad.csv: nothing was registered"
    assert err.splitlines() == [
        "bad.csv, line 2, column sample_mass_g: '0': must be more than 0 g",
        "bad.csv, line 3, column sample_id: sample id 'S-1' is already on line 2",
        "bad.csv, line 3, column dilution_factor: '0.5': must be at least 1",
        "bad.csv, line 4, column supplier: no partner 'NOBODY'",
    ]
    assert counts() == before


def test_the_cli_dry_run_site_and_json_options(master: World, technician: User, tmp_path: Path) -> None:
    path = tmp_path / "nosite.csv"
    path.write_bytes(csv_sheet("C-1,F-CLI,feedstock,,,0.1,50,1,"))
    out, _, error = run_cli(str(path), "--as", "tech", "--site", "UK1", "--dry-run")
    assert error is None
    assert "would register 1 sample(s) in 1 new lot(s) (F-CLI)" in out
    assert "nothing was written" in out
    assert not Sample.objects.filter(code="C-1").exists()
    out, _, error = run_cli(str(path), "--as", "tech", "--site", "UK1", "--json")
    summary = json.loads(out)
    assert error is None
    assert (summary["committed"], summary["created_samples"], summary["created_lots"], summary["errors"]) == (True, ["C-1"], ["F-CLI"], [])
    assert Sample.objects.get(code="C-1").site == master.uk_site


def test_the_cli_refuses_a_user_who_may_not_register_or_does_not_exist(master: World, qa: User, tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_bytes(GOOD)
    _, _, error = run_cli(str(path), "--as", "qa")
    assert error is not None
    assert "does not register samples" in str(error)
    _, _, error = run_cli(str(path), "--as", "nobody")
    assert error is not None
    assert "no active user 'nobody'" in str(error)
    _, _, error = run_cli(str(tmp_path / "missing.csv"))
    assert error is not None
    assert "missing.csv" in str(error)
    assert Sample.objects.count() == 0


def test_the_cli_as_the_system_may_register_at_any_site(master: World, tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_bytes(csv_sheet("SYS-1,F-SYS,feedstock,,,0.1,50,1,US1"))
    _, _, error = run_cli(str(path))
    assert error is None
    sample = Sample.objects.get(code="SYS-1")
    assert sample.registered_by is None
    assert AuditEvent.objects.get(entity="assays.sample", object_id=str(sample.pk)).actor_label == "system"
