"""Who sees which lots, samples and sites (docs/permissions.md, "Scope").

One small world: two plants, the installation's default site, two partners, six lots and four
samples; every persona is checked against the exact set it must see, and an invisible record must
be reported exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User

from assays.errors import NotFoundError
from assays.models import Lot, LotAllocation, LotKind, Sample, Site
from assays.roles import Role
from assays.selectors.lots import lot_get, lot_list
from assays.selectors.samples import sample_get, sample_list
from assays.selectors.scoping import visible_sites
from tests.conftest import World
from tests.factories import LotFactory, PartnerFactory, ProductFactory, SampleFactory, SiteFactory, UserFactory


@dataclass(frozen=True)
class Stock:
    default_site: Site
    lots: dict[str, Lot]
    samples: dict[str, Sample]


@pytest.fixture
def stock(world: World) -> Stock:
    default_site = Site.objects.filter(is_default=True).first() or SiteFactory(code="DEF", is_default=True)
    product = ProductFactory(code="NDPR-995")
    lots = {
        # Partner A supplied it.
        "UK-FEED": LotFactory(code="UK-FEED", site=world.uk_site, kind=LotKind.FEEDSTOCK, supplier=world.partner_a),
        # Allocated to partner B only.
        "UK-PROD": LotFactory(code="UK-PROD", site=world.uk_site, kind=LotKind.PRODUCT, product=product),
        # Split between both partners; A supplied it too (it must still appear once for A).
        "UK-SPLIT": LotFactory(code="UK-SPLIT", site=world.uk_site, kind=LotKind.PRODUCT, product=product, supplier=world.partner_a),
        # Partner B supplied it.
        "US-FEED": LotFactory(code="US-FEED", site=world.us_site, kind=LotKind.FEEDSTOCK, supplier=world.partner_b),
        # Nobody outside the US plant has anything to do with it.
        "US-PROD": LotFactory(code="US-PROD", site=world.us_site, kind=LotKind.PRODUCT, product=product),
        "DEF-1": LotFactory(code="DEF-1", site=default_site, kind=LotKind.INTERMEDIATE),
    }
    for code, partner in (("UK-PROD", world.partner_b), ("UK-SPLIT", world.partner_a), ("UK-SPLIT", world.partner_b)):
        LotAllocation.objects.create(lot=lots[code], customer=partner, mass_kg=Decimal("1"))
    samples = {
        "S-UK": SampleFactory(code="S-UK", lot=lots["UK-FEED"]),
        "S-US": SampleFactory(code="S-US", lot=lots["US-FEED"]),
        # A UK product lot's sample that travelled to the US lab: both sites' staff see it.
        "S-TRAVEL": SampleFactory(code="S-TRAVEL", lot=lots["UK-PROD"], site=world.us_site),
        "S-DEF": SampleFactory(code="S-DEF", lot=lots["DEF-1"]),
    }
    return Stock(default_site=default_site, lots=lots, samples=samples)


ALL_LOTS = {"UK-FEED", "UK-PROD", "UK-SPLIT", "US-FEED", "US-PROD", "DEF-1"}
ALL_SAMPLES = {"S-UK", "S-US", "S-TRAVEL", "S-DEF"}

# persona -> (lots, samples, sites) it must see. Staff see their sites' lots, and the samples held
# at their sites or taken from their sites' lots; cross-site roles see everything; a partner sees
# the lots it supplied or was allocated but no samples (internal lab records); everyone else nothing.
EXPECTED: dict[str, tuple[set[str], set[str], set[str]]] = {
    "technician": ({"UK-FEED", "UK-PROD", "UK-SPLIT"}, {"S-UK", "S-TRAVEL"}, {"UK1"}),
    "qa": ({"UK-FEED", "UK-PROD", "UK-SPLIT"}, {"S-UK", "S-TRAVEL"}, {"UK1"}),
    "us_technician": ({"US-FEED", "US-PROD"}, {"S-US", "S-TRAVEL"}, {"US1"}),
    "qa_manager": (ALL_LOTS, ALL_SAMPLES, {"UK1", "US1", "<default>"}),
    "lab_admin": (ALL_LOTS, ALL_SAMPLES, {"UK1", "US1", "<default>"}),
    "superuser": (ALL_LOTS, ALL_SAMPLES, {"UK1", "US1", "<default>"}),
    "partner_a_user": ({"UK-FEED", "UK-SPLIT"}, set(), set()),
    "partner_b_user": ({"UK-PROD", "UK-SPLIT", "US-FEED"}, set(), set()),
    "anonymous": (set(), set(), set()),
    "no_role": (set(), set(), set()),
    # Django's is_staff only opens the admin; site membership without a role grants nothing.
    "is_staff_member_of_uk_without_role": (set(), set(), set()),
    # A technician who belongs to no site sees no site's records.
    "technician_without_site": (set(), set(), set()),
    # The role without the membership, or the membership without the role: nothing.
    "partner_role_without_partner": (set(), set(), set()),
    "partner_membership_without_role": (set(), set(), set()),
    # Both staff and partner (the lab admin should not allow it): the staff scope wins.
    "technician_and_partner_a": ({"UK-FEED", "UK-PROD", "UK-SPLIT"}, {"S-UK", "S-TRAVEL"}, {"UK1"}),
}


@pytest.fixture
def persona(request: pytest.FixtureRequest, world: World, stock: Stock) -> User | AnonymousUser:
    name: str = request.param
    made: dict[str, Any] = {
        "superuser": lambda: UserFactory(username="root", is_superuser=True, is_staff=True),
        "no_role": lambda: UserFactory(username="nobody"),
        "is_staff_member_of_uk_without_role": lambda: UserFactory(username="staffy", is_staff=True, sites=[world.uk_site]),
        "technician_without_site": lambda: UserFactory(username="homeless", roles=[Role.TECHNICIAN]),
        "partner_role_without_partner": lambda: UserFactory(username="p_nobody", roles=[Role.PARTNER_USER]),
        "partner_membership_without_role": lambda: UserFactory(username="p_norole", partner=world.partner_a),
        "technician_and_partner_a": lambda: UserFactory(
            username="both", roles=[Role.TECHNICIAN, Role.PARTNER_USER], sites=[world.uk_site], partner=world.partner_a
        ),
    }
    if name in made:
        user: User | AnonymousUser = made[name]()
        return user
    fixture_user: User | AnonymousUser = request.getfixturevalue(name)
    return fixture_user


def _site_codes(stock: Stock, sites: set[str]) -> set[str]:
    return {stock.default_site.code if code == "<default>" else code for code in sites}


PERSONAS = sorted(EXPECTED)


@pytest.mark.parametrize("persona", PERSONAS, indirect=True)
def test_each_persona_lists_exactly_its_lots(request: pytest.FixtureRequest, persona: User | AnonymousUser, stock: Stock) -> None:
    expected_lots, _, _ = EXPECTED[request.node.callspec.params["persona"]]
    codes = list(lot_list(actor=persona).values_list("code", flat=True))
    assert len(codes) == len(set(codes)), "a lot seen through two allocations appears once"
    assert set(codes) == expected_lots


@pytest.mark.parametrize("persona", PERSONAS, indirect=True)
def test_each_persona_lists_exactly_its_samples(request: pytest.FixtureRequest, persona: User | AnonymousUser, stock: Stock) -> None:
    _, expected_samples, _ = EXPECTED[request.node.callspec.params["persona"]]
    codes = list(sample_list(actor=persona).values_list("code", flat=True))
    assert len(codes) == len(set(codes))
    assert set(codes) == expected_samples


@pytest.mark.parametrize("persona", PERSONAS, indirect=True)
def test_each_persona_sees_exactly_its_sites(request: pytest.FixtureRequest, persona: User | AnonymousUser, stock: Stock) -> None:
    _, _, expected_sites = EXPECTED[request.node.callspec.params["persona"]]
    expected = _site_codes(stock, expected_sites)
    if expected_sites >= {"UK1", "US1", "<default>"}:
        expected = set(Site.objects.values_list("code", flat=True))
    assert set(visible_sites(actor=persona).values_list("code", flat=True)) == expected


@pytest.mark.parametrize("persona", PERSONAS, indirect=True)
def test_get_finds_what_the_list_shows_and_nothing_else(
    request: pytest.FixtureRequest, persona: User | AnonymousUser, stock: Stock
) -> None:
    expected_lots, expected_samples, _ = EXPECTED[request.node.callspec.params["persona"]]
    for code in ALL_LOTS:
        if code in expected_lots:
            assert lot_get(actor=persona, code=code) == stock.lots[code]
        else:
            with pytest.raises(NotFoundError):
                lot_get(actor=persona, code=code)
    for code in ALL_SAMPLES:
        if code in expected_samples:
            assert sample_get(actor=persona, code=code) == stock.samples[code]
        else:
            with pytest.raises(NotFoundError):
                sample_get(actor=persona, code=code)


def _refusal(call: Any, code: str) -> tuple[type[BaseException], str]:
    with pytest.raises(NotFoundError) as caught:
        call(code)
    # The message names the code asked for; with it blanked out, a hidden record and a missing one must read the same.
    return type(caught.value), str(caught.value).replace(repr(code), "<code>")


@pytest.mark.parametrize(
    "persona", ["technician", "us_technician", "partner_a_user", "partner_b_user", "anonymous", "no_role"], indirect=True
)
def test_an_invisible_record_is_reported_exactly_like_a_missing_one(persona: User | AnonymousUser, stock: Stock) -> None:
    invisible_lots = ALL_LOTS - {lot.code for lot in lot_list(actor=persona)}
    invisible_samples = ALL_SAMPLES - {sample.code for sample in sample_list(actor=persona)}
    assert invisible_lots
    assert invisible_samples
    missing_lot = _refusal(lambda code: lot_get(actor=persona, code=code), "NO-SUCH-LOT")
    missing_sample = _refusal(lambda code: sample_get(actor=persona, code=code), "NO-SUCH-SAMPLE")
    for code in invisible_lots:
        assert _refusal(lambda code: lot_get(actor=persona, code=code), code) == missing_lot
    for code in invisible_samples:
        assert _refusal(lambda code: sample_get(actor=persona, code=code), code) == missing_sample


def test_sample_get_accepts_the_id_as_typed(technician: User, stock: Stock) -> None:
    assert sample_get(actor=technician, code="  s-uk ") == stock.samples["S-UK"]


def test_a_new_allocation_makes_the_lot_visible_to_that_partner_only(world: World, stock: Stock, partner_a_user: User) -> None:
    assert "US-PROD" not in {lot.code for lot in lot_list(actor=partner_a_user)}
    LotAllocation.objects.create(lot=stock.lots["US-PROD"], customer=world.partner_a, mass_kg=Decimal("2"))
    assert lot_get(actor=partner_a_user, code="US-PROD") == stock.lots["US-PROD"]
    other = UserFactory(username="partner_c", roles=[Role.PARTNER_USER], partner=PartnerFactory(code="PC"))
    assert not lot_list(actor=other).exists()


def test_joining_a_site_widens_a_technicians_scope(world: World, stock: Stock, technician: User) -> None:
    assert "US-FEED" not in {lot.code for lot in lot_list(actor=technician)}
    UserFactory(username=technician.username, sites=[world.us_site])
    fresh = User.objects.get(pk=technician.pk)
    assert {lot.code for lot in lot_list(actor=fresh)} == {"UK-FEED", "UK-PROD", "UK-SPLIT", "US-FEED", "US-PROD"}
