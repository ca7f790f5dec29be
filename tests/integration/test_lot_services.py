"""The lot and sample services: the state machine, genealogy, allocation, registration and custody.

Every refusal is a ``DomainError`` (or ``IllegalTransitionError``) raised before anything is written:
no record, no audit event.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import transaction

from assays.errors import DomainError
from assays.lifecycle import ALLOWED_TRANSITIONS, IllegalTransitionError
from assays.models import (
    AuditAction,
    AuditEvent,
    CustodyEvent,
    Lot,
    LotAllocation,
    LotInput,
    LotKind,
    LotStatus,
    Partner,
    PartnerKind,
    Product,
    Sample,
    Site,
)
from assays.services.lots import lot_allocate, lot_create, lot_input_add, lot_transition
from assays.services.samples import custody_event_record, sample_register
from tests.concurrency import start_in_thread, wait_for_a_lock_wait
from tests.conftest import World
from tests.factories import LotFactory, PartnerFactory, ProductFactory, UserFactory

STATES = list(LotStatus.values)
ALL_PAIRS = list(itertools.product(STATES, STATES))
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in ALLOWED_TRANSITIONS[a]]
ILLEGAL = [(a, b) for a, b in ALL_PAIRS if b not in ALLOWED_TRANSITIONS[a]]


def _events(instance: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(entity=instance._meta.label_lower, object_id=str(instance.pk)).order_by("id"))


def _writes_nothing(call: Callable[[], object], *models: type[Any]) -> DomainError:
    """Run a call that must be refused; nothing may be written (rows or audit events)."""
    counts = {model: model.objects.count() for model in (*models, AuditEvent)}
    with pytest.raises(DomainError) as caught:
        call()
    assert {model: model.objects.count() for model in counts} == counts
    return caught.value


@pytest.fixture
def actor(technician: User) -> User:
    return technician


@pytest.fixture
def product() -> Product:
    return ProductFactory(code="NDPR-995")


@pytest.fixture
def product_lot(world: World, product: Product) -> Lot:
    return LotFactory(code="P-1", site=world.uk_site, kind=LotKind.PRODUCT, product=product, mass_kg=Decimal("100"))


@pytest.fixture
def feedstock(world: World) -> Lot:
    return LotFactory(code="FS-1", site=world.uk_site, kind=LotKind.FEEDSTOCK, mass_kg=Decimal("100"))


@pytest.fixture
def intermediate(world: World) -> Lot:
    return LotFactory(code="INT-1", site=world.uk_site, kind=LotKind.INTERMEDIATE, mass_kg=Decimal("80"))


@pytest.fixture
def customer() -> Partner:
    return PartnerFactory(code="CUST-A", kind=PartnerKind.CUSTOMER)


def test_the_service_state_machine_uses_the_model_states() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(LotStatus.values)


# --- lot_transition ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "requested"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_an_allowed_transition_changes_the_status_and_audits_it(feedstock: Lot, actor: User, current: str, requested: str) -> None:
    Lot.objects.filter(pk=feedstock.pk).update(status=current)
    returned = lot_transition(actor=actor, lot=feedstock, to=requested, reason="  latest assessment  ")
    assert returned.status == requested
    assert Lot.objects.get(pk=feedstock.pk).status == requested
    (event,) = _events(feedstock)
    assert event.action == AuditAction.TRANSITION
    assert event.before == {"status": current}
    assert event.after == {"status": requested}
    assert event.reason == "  latest assessment  "
    assert event.actor == actor
    assert event.actor_label == actor.username


@pytest.mark.parametrize(("current", "requested"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_an_illegal_transition_is_refused_and_writes_nothing(feedstock: Lot, actor: User, current: str, requested: str) -> None:
    Lot.objects.filter(pk=feedstock.pk).update(status=current)
    with pytest.raises(IllegalTransitionError) as caught:
        lot_transition(actor=actor, lot=feedstock, to=requested, reason="trying")
    assert f"'{current}'" in str(caught.value)
    assert f"'{requested}'" in str(caught.value)
    assert Lot.objects.get(pk=feedstock.pk).status == current
    assert _events(feedstock) == []


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_a_transition_needs_a_reason(feedstock: Lot, actor: User, reason: str) -> None:
    error = _writes_nothing(lambda: lot_transition(actor=actor, lot=feedstock, to=LotStatus.ASSESSED, reason=reason), Lot)
    assert "reason" in str(error)
    assert Lot.objects.get(pk=feedstock.pk).status == LotStatus.OPEN


def test_an_unknown_target_state_is_refused(feedstock: Lot, actor: User) -> None:
    with pytest.raises(IllegalTransitionError):
        lot_transition(actor=actor, lot=feedstock, to="shipped", reason="typo")
    assert Lot.objects.get(pk=feedstock.pk).status == LotStatus.OPEN


def test_a_stale_lot_object_cannot_skip_the_machine(feedstock: Lot, actor: User) -> None:
    # Someone else rejected the lot meanwhile; this caller's copy still says "on hold".
    Lot.objects.filter(pk=feedstock.pk).update(status=LotStatus.REJECTED)
    feedstock.status = LotStatus.ON_HOLD
    with pytest.raises(IllegalTransitionError, match="'rejected'"):
        lot_transition(actor=actor, lot=feedstock, to=LotStatus.ASSESSED, reason="flag resolved")
    assert Lot.objects.get(pk=feedstock.pk).status == LotStatus.REJECTED


def test_a_lot_walks_its_whole_life_with_one_event_per_step(feedstock: Lot, actor: User) -> None:
    path = [LotStatus.ON_HOLD, LotStatus.ASSESSED, LotStatus.RELEASED, LotStatus.ON_HOLD, LotStatus.REJECTED]
    for step in path:
        lot_transition(actor=actor, lot=feedstock, to=step, reason=f"to {step}")
    events = _events(feedstock)
    assert [(e.before, e.after) for e in events] == [
        ({"status": before}, {"status": after}) for before, after in zip([LotStatus.OPEN, *path], path, strict=False)
    ]
    with pytest.raises(IllegalTransitionError, match="final"):
        lot_transition(actor=actor, lot=feedstock, to=LotStatus.ASSESSED, reason="second thoughts")


def test_a_worker_transition_is_audited_as_the_system(feedstock: Lot) -> None:
    lot_transition(actor=None, lot=feedstock, to=LotStatus.ON_HOLD, reason="off-spec: Pr6O11 > 0.05 %")
    (event,) = _events(feedstock)
    assert event.actor is None
    assert event.actor_label == "system"


@pytest.mark.postgres
def test_the_row_history_of_a_transition_carries_who_and_why(feedstock: Lot, actor: User) -> None:
    lot_event = apps.get_model("assays", "LotEvent")
    lot_transition(actor=actor, lot=feedstock, to=LotStatus.ON_HOLD, reason="QA hold")
    event = lot_event.objects.filter(pgh_obj_id=feedstock.pk, pgh_label="update").select_related("pgh_context").get()
    assert event.status == LotStatus.ON_HOLD
    assert event.pgh_context.metadata["reason"] == "QA hold"
    assert event.pgh_context.metadata["user"] == actor.pk


# --- lot_create -------------------------------------------------------------------------------------


def test_lot_create_normalises_and_audits(world: World, actor: User) -> None:
    lot = lot_create(
        actor=actor, code="  FS-9 ", site=world.uk_site, kind=LotKind.FEEDSTOCK, mass_kg=Decimal("12.5"), country_of_collection=" de "
    )
    assert (lot.code, lot.country_of_collection, lot.status, lot.created_by) == ("FS-9", "DE", LotStatus.OPEN, actor)
    (event,) = _events(lot)
    assert event.action == AuditAction.CREATE
    assert event.after is not None
    assert (event.after["code"], event.after["mass_kg"]) == ("FS-9", "12.5000")


def test_the_audit_shows_the_mass_the_database_stored_not_the_one_passed(world: World, actor: User) -> None:
    lot = lot_create(actor=actor, code="FS-R", site=world.uk_site, kind=LotKind.FEEDSTOCK, mass_kg=Decimal("12.56789"))
    assert lot.mass_kg == Decimal("12.5679") == Lot.objects.get(pk=lot.pk).mass_kg
    assert _events(lot)[0].after["mass_kg"] == "12.5679"  # type: ignore[index]
    sample = sample_register(actor=actor, code="S-R", lot=lot, sample_mass_g=Decimal("0.12345678"))
    assert _events(sample)[0].after["sample_mass_g"] == "0.123457"  # type: ignore[index]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"code": "   "}, "1 to 40 characters"),
        ({"code": "X" * 41}, "1 to 40 characters"),
        ({"code": "FS-1"}, "already exists"),
        ({"kind": "bogus"}, "unknown lot kind"),
        ({"kind": LotKind.PRODUCT}, "names its product"),
        ({"mass_kg": Decimal("-1")}, "negative"),
        ({"kind": LotKind.INTERMEDIATE, "feedstock_type": "end_of_life_magnets"}, "feedstock lots only"),
        ({"feedstock_type": "asteroid"}, "unknown feedstock type"),
        ({"magnet_chemistry": "alnico"}, "magnet chemistry"),
        ({"country_of_collection": "DEU"}, "two-letter"),
        ({"country_of_separation": "1A"}, "two-letter"),
        ({"country_of_oxide_production": "Ä"}, "two-letter"),
    ],
)
def test_lot_create_refuses_what_the_database_would(
    world: World, feedstock: Lot, actor: User, overrides: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"code": "NEW-1", "site": world.uk_site, "kind": LotKind.FEEDSTOCK, **overrides}
    error = _writes_nothing(lambda: lot_create(actor=actor, **arguments), Lot)
    assert message in str(error)


def test_lot_create_refuses_a_supplier_that_is_not_one(world: World, actor: User, customer: Partner) -> None:
    error = _writes_nothing(
        lambda: lot_create(actor=actor, code="FS-2", site=world.uk_site, kind=LotKind.FEEDSTOCK, supplier=customer), Lot
    )
    assert "not a supplier" in str(error)


# --- lot_input_add ----------------------------------------------------------------------------------


def test_an_input_edge_is_recorded_and_audited(feedstock: Lot, intermediate: Lot, actor: User) -> None:
    edge = lot_input_add(actor=actor, input_lot=feedstock, output_lot=intermediate, mass_used_kg=Decimal("60"), reason="leach batch 7")
    assert (edge.input_lot, edge.output_lot, edge.mass_used_kg) == (feedstock, intermediate, Decimal("60"))
    (event,) = _events(edge)
    assert event.reason == "leach batch 7"
    assert event.after is not None
    assert event.after["mass_used_kg"] == "60.0000"


def test_inputs_never_consume_more_than_the_input_lot_holds(world: World, feedstock: Lot, intermediate: Lot, actor: User) -> None:
    second = LotFactory(code="INT-2", site=world.uk_site, kind=LotKind.INTERMEDIATE)
    third = LotFactory(code="INT-3", site=world.uk_site, kind=LotKind.INTERMEDIATE)
    lot_input_add(actor=actor, input_lot=feedstock, output_lot=intermediate, mass_used_kg=Decimal("60"))
    error = _writes_nothing(
        lambda: lot_input_add(actor=actor, input_lot=feedstock, output_lot=second, mass_used_kg=Decimal("40.0001")), LotInput
    )
    assert "holds 100" in str(error)
    assert "60" in str(error)
    # Exactly what is left is fine; then nothing more.
    lot_input_add(actor=actor, input_lot=feedstock, output_lot=second, mass_used_kg=Decimal("40"))
    _writes_nothing(lambda: lot_input_add(actor=actor, input_lot=feedstock, output_lot=third, mass_used_kg=Decimal("0.0001")), LotInput)


def test_a_single_input_larger_than_the_lot_is_refused(feedstock: Lot, intermediate: Lot, actor: User) -> None:
    _writes_nothing(
        lambda: lot_input_add(actor=actor, input_lot=feedstock, output_lot=intermediate, mass_used_kg=Decimal("100.5")), LotInput
    )


def test_an_input_lot_of_unknown_mass_is_not_limited(world: World, intermediate: Lot, actor: User) -> None:
    unknown = LotFactory(code="FS-U", site=world.uk_site, kind=LotKind.FEEDSTOCK, mass_kg=None)
    edge = lot_input_add(actor=actor, input_lot=unknown, output_lot=intermediate, mass_used_kg=Decimal("1e6"))
    assert LotInput.objects.get(pk=edge.pk).mass_used_kg == Decimal("1e6")


def test_a_feedstock_lot_has_no_process_inputs(world: World, feedstock: Lot, intermediate: Lot, actor: User) -> None:
    other_feedstock = LotFactory(code="FS-2", site=world.uk_site, kind=LotKind.FEEDSTOCK)
    for source in (other_feedstock, intermediate):
        error = _writes_nothing(
            lambda source=source: lot_input_add(actor=actor, input_lot=source, output_lot=feedstock, mass_used_kg=Decimal("1")), LotInput
        )
        assert "feedstock lot" in str(error)


def test_a_lot_is_not_an_input_of_itself(intermediate: Lot, actor: User) -> None:
    _writes_nothing(
        lambda: lot_input_add(actor=actor, input_lot=intermediate, output_lot=intermediate, mass_used_kg=Decimal("1")), LotInput
    )


@pytest.mark.parametrize("mass", [Decimal(0), Decimal("-5")])
def test_an_input_carries_a_positive_mass(feedstock: Lot, intermediate: Lot, actor: User, mass: Decimal) -> None:
    _writes_nothing(lambda: lot_input_add(actor=actor, input_lot=feedstock, output_lot=intermediate, mass_used_kg=mass), LotInput)


def test_an_input_edge_is_recorded_once(feedstock: Lot, intermediate: Lot, actor: User) -> None:
    lot_input_add(actor=actor, input_lot=feedstock, output_lot=intermediate, mass_used_kg=Decimal("10"))
    error = _writes_nothing(
        lambda: lot_input_add(actor=actor, input_lot=feedstock, output_lot=intermediate, mass_used_kg=Decimal("10")), LotInput
    )
    assert "already recorded" in str(error)


def test_genealogy_has_no_cycles(feedstock: Lot, intermediate: Lot, product_lot: Lot, actor: User) -> None:
    lot_input_add(actor=actor, input_lot=feedstock, output_lot=intermediate, mass_used_kg=Decimal("50"))
    lot_input_add(actor=actor, input_lot=intermediate, output_lot=product_lot, mass_used_kg=Decimal("40"))
    # product <- intermediate <- feedstock: the product cannot go back into the intermediate.
    _writes_nothing(lambda: lot_input_add(actor=actor, input_lot=product_lot, output_lot=intermediate, mass_used_kg=Decimal("1")), LotInput)
    # A diamond is not a cycle: the feedstock may also feed the product directly.
    lot_input_add(actor=actor, input_lot=feedstock, output_lot=product_lot, mass_used_kg=Decimal("5"))


# --- lot_allocate -----------------------------------------------------------------------------------


def test_an_allocation_is_recorded_and_audited(product_lot: Lot, customer: Partner, actor: User) -> None:
    allocation = lot_allocate(actor=actor, lot=product_lot, customer=customer, mass_kg=Decimal("25"), reference="PO-1", reason="order")
    assert (allocation.lot, allocation.customer, allocation.mass_kg, allocation.reference) == (product_lot, customer, Decimal("25"), "PO-1")
    (event,) = _events(allocation)
    assert event.reason == "order"


def test_allocations_never_exceed_the_lot_in_total(product_lot: Lot, customer: Partner, actor: User) -> None:
    other = PartnerFactory(code="CUST-B", kind=PartnerKind.BOTH)
    third = PartnerFactory(code="CUST-C", kind=PartnerKind.CUSTOMER)
    lot_allocate(actor=actor, lot=product_lot, customer=customer, mass_kg=Decimal("70"))
    error = _writes_nothing(lambda: lot_allocate(actor=actor, lot=product_lot, customer=other, mass_kg=Decimal("30.0001")), LotAllocation)
    assert "holds 100" in str(error)
    lot_allocate(actor=actor, lot=product_lot, customer=other, mass_kg=Decimal("30"))
    _writes_nothing(lambda: lot_allocate(actor=actor, lot=product_lot, customer=third, mass_kg=Decimal("0.0001")), LotAllocation)
    assert sum(a.mass_kg for a in LotAllocation.objects.filter(lot=product_lot)) == Decimal("100")


def test_only_product_lots_are_allocated(feedstock: Lot, intermediate: Lot, customer: Partner, actor: User) -> None:
    for lot in (feedstock, intermediate):
        error = _writes_nothing(lambda lot=lot: lot_allocate(actor=actor, lot=lot, customer=customer, mass_kg=Decimal("1")), LotAllocation)
        assert "not a product lot" in str(error)


def test_only_customers_are_allocated_to(product_lot: Lot, actor: User) -> None:
    supplier = PartnerFactory(code="SUPP", kind=PartnerKind.SUPPLIER)
    error = _writes_nothing(lambda: lot_allocate(actor=actor, lot=product_lot, customer=supplier, mass_kg=Decimal("1")), LotAllocation)
    assert "not a customer" in str(error)


@pytest.mark.parametrize("mass", [Decimal(0), Decimal("-1")])
def test_an_allocation_carries_a_positive_mass(product_lot: Lot, customer: Partner, actor: User, mass: Decimal) -> None:
    _writes_nothing(lambda: lot_allocate(actor=actor, lot=product_lot, customer=customer, mass_kg=mass), LotAllocation)


def test_a_customer_is_allocated_a_lot_once(product_lot: Lot, customer: Partner, actor: User) -> None:
    lot_allocate(actor=actor, lot=product_lot, customer=customer, mass_kg=Decimal("10"))
    error = _writes_nothing(lambda: lot_allocate(actor=actor, lot=product_lot, customer=customer, mass_kg=Decimal("10")), LotAllocation)
    assert "already allocated" in str(error)


# --- sample_register ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("SMP-001", "SMP-001"), ("  smp-001\n", "SMP-001"), ("a.b_c-9", "A.B_C-9"), ("0", "0"), ("x" * 40, "X" * 40)],
)
def test_sample_ids_are_stripped_and_upper_cased(feedstock: Lot, actor: User, typed: str, stored: str) -> None:
    sample = sample_register(actor=actor, code=typed, lot=feedstock)
    assert sample.code == stored
    assert Sample.objects.get(pk=sample.pk).code == stored


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "SMP 001", "SMP\t001", "SMP/001", "SMP#1", "SMP,1", "-SMP", ".SMP", "_SMP", "SMP\n1", "x" * 41, "SMPÄ1", "straße", "ﬁle-1"],
)
def test_sample_ids_with_other_characters_are_refused(feedstock: Lot, actor: User, typed: str) -> None:
    error = _writes_nothing(lambda: sample_register(actor=actor, code=typed, lot=feedstock), Sample, CustodyEvent)
    assert "sample id" in str(error)


def test_registration_starts_the_chain_of_custody(feedstock: Lot, actor: User) -> None:
    sample = sample_register(actor=actor, code="smp-1", lot=feedstock, reason="routine")
    assert (sample.site, sample.registered_by, sample.status) == (feedstock.site, actor, "registered")
    (custody,) = CustodyEvent.objects.filter(sample=sample)
    assert (custody.kind, custody.actor, custody.to_location) == ("registered", actor, feedstock.site.name)
    assert [e.action for e in _events(sample)] == [AuditAction.CREATE]
    assert [e.action for e in _events(custody)] == [AuditAction.CREATE]


def test_a_sample_may_be_registered_at_another_site(world: World, feedstock: Lot, actor: User) -> None:
    sample = sample_register(actor=actor, code="SMP-US", lot=feedstock, site=world.us_site)
    assert sample.site == world.us_site
    assert CustodyEvent.objects.get(sample=sample).to_location == world.us_site.name


def test_a_sample_id_is_registered_once_whatever_its_case(feedstock: Lot, actor: User) -> None:
    sample_register(actor=actor, code="SMP-1", lot=feedstock)
    error = _writes_nothing(lambda: sample_register(actor=actor, code=" smp-1 ", lot=feedstock), Sample, CustodyEvent)
    assert "already registered" in str(error)


@pytest.mark.parametrize(
    "preparation",
    [
        {"sample_mass_g": Decimal(0)},
        {"sample_mass_g": Decimal("-0.1")},
        {"final_volume_ml": Decimal(0)},
        {"dilution_factor": Decimal("0.5")},
        {"sample_type": "bogus"},
    ],
)
def test_a_sample_preparation_the_database_would_refuse_is_refused(feedstock: Lot, actor: User, preparation: dict[str, Any]) -> None:
    _writes_nothing(lambda: sample_register(actor=actor, code="SMP-1", lot=feedstock, **preparation), Sample, CustodyEvent)


# --- custody_event_record ----------------------------------------------------------------------------


@pytest.fixture
def sample(feedstock: Lot, actor: User) -> Sample:
    return sample_register(actor=actor, code="SMP-1", lot=feedstock)


def test_a_shipment_needs_exactly_one_destination(world: World, sample: Sample, actor: User) -> None:
    for destinations in ({}, {"to_site": world.us_site, "to_partner": world.partner_a}):
        error = _writes_nothing(
            lambda destinations=destinations: custody_event_record(actor=actor, sample=sample, kind="shipped", **destinations),
            CustodyEvent,
        )
        assert "exactly one" in str(error)
    to_site = custody_event_record(actor=actor, sample=sample, kind="shipped", to_site=world.us_site, carrier_reference="DHL 123")
    to_partner = custody_event_record(actor=actor, sample=sample, kind="shipped", to_partner=world.partner_a)
    assert (to_site.to_site, to_partner.to_partner) == (world.us_site, world.partner_a)
    assert len(_events(to_site)) == len(_events(to_partner)) == 1


def test_other_hand_overs_need_no_destination(sample: Sample, actor: User) -> None:
    event = custody_event_record(actor=actor, sample=sample, kind="received", from_location="goods in", to_location="prep lab", note="ok")
    assert (event.kind, event.actor, event.note) == ("received", actor, "ok")
    assert _events(event)[0].reason == "ok"


def test_an_unknown_custody_event_is_refused(sample: Sample, actor: User) -> None:
    _writes_nothing(lambda: custody_event_record(actor=actor, sample=sample, kind="lost"), CustodyEvent)


# --- Concurrency (PostgreSQL: SQLite serialises writers anyway) ---------------------------------


def _race_setup() -> tuple[Lot, Partner, Partner, User]:
    site = Site.objects.create(code="RACE", name="Race plant", country="GB")
    product = ProductFactory(code="RACE-P")
    lot = Lot.objects.create(code="RACE-1", site=site, kind=LotKind.PRODUCT, product=product, mass_kg=Decimal("100"))
    # Two customers, so the one-allocation-per-customer constraint cannot be what stops the loser.
    first = PartnerFactory(code="RACE-A", kind=PartnerKind.CUSTOMER)
    second = PartnerFactory(code="RACE-B", kind=PartnerKind.CUSTOMER)
    lot_allocate(actor=None, lot=lot, customer=PartnerFactory(code="RACE-0", kind=PartnerKind.CUSTOMER), mass_kg=Decimal("90"))
    return lot, first, second, UserFactory(username="racer")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_allocations_of_the_last_kilograms_at_once_only_one_wins() -> None:
    lot, first, second, user = _race_setup()
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def allocate(customer: Partner) -> Callable[[], None]:
        def run() -> None:
            barrier.wait()
            try:
                lot_allocate(actor=user, lot=lot, customer=customer, mass_kg=Decimal("10"))
                outcomes[customer.code] = "won"
            except DomainError as error:
                outcomes[customer.code] = f"refused: {error}"

        return run

    threads = [start_in_thread(allocate(first)), start_in_thread(allocate(second))]
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcome.split(":")[0] for outcome in outcomes.values()) == ["refused", "won"], outcomes
    assert sum(a.mass_kg for a in LotAllocation.objects.filter(lot=lot)) == Decimal("100")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_allocation_waits_for_the_lock_and_then_sees_the_committed_one() -> None:
    """Deterministic: the second allocation starts while the first holds the lot's row lock.

    Without ``select_for_update`` it would read 90 kg allocated (the first is not committed yet)
    and allocate 10 kg more, 110 kg in all.
    """
    lot, first, second, user = _race_setup()
    first_allocated = threading.Event()
    release_first = threading.Event()
    second_outcome: list[str] = []

    def hold_lock() -> None:
        with transaction.atomic():
            lot_allocate(actor=user, lot=lot, customer=first, mass_kg=Decimal("10"))
            first_allocated.set()
            release_first.wait(timeout=30)

    def contend() -> None:
        try:
            lot_allocate(actor=user, lot=lot, customer=second, mass_kg=Decimal("10"))
            second_outcome.append("won")
        except DomainError as error:
            second_outcome.append(str(error))

    holder = start_in_thread(hold_lock)
    assert first_allocated.wait(timeout=30)
    contender = start_in_thread(contend)
    try:
        wait_for_a_lock_wait(waiting_for="the second allocation")
    finally:
        release_first.set()
        holder.join(timeout=30)
        contender.join(timeout=30)
    assert len(second_outcome) == 1
    assert "100.0000 kg already allocated" in second_outcome[0]
    assert sum(a.mass_kg for a in LotAllocation.objects.filter(lot=lot)) == Decimal("100")
