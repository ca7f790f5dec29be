"""A small plant built through the real services: lots at both sites, feedstock from both partners,
a product lot split between the two customers and one bought from partner A and sold to partner B."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from assays.models import Lot, LotKind, Sample
from assays.services.lots import lot_allocate, lot_create, lot_input_add
from assays.services.samples import sample_register
from tests.conftest import World
from tests.factories import ProductFactory


@dataclass(frozen=True)
class Plant:
    feed_a: Lot  # UK1 feedstock supplied by partner A
    feed_b: Lot  # US1 feedstock supplied by partner B
    intermediate: Lot  # US1, made from feed_b; no partner involved
    split: Lot  # UK1 product made from feed_a, allocated to A and to B
    product_b: Lot  # US1 product made from the intermediate, allocated to B only
    traded: Lot  # UK1 product bought from A (supplier) and sold to B
    samples: dict[str, Sample]


ALL_LOTS = {"F-UK-A", "F-US-B", "I-US-1", "P-UK-SPLIT", "P-US-B", "P-UK-TRADED"}
ALL_SAMPLES = {"S-FA-1", "S-FA-US", "S-SPLIT-1", "S-TRADED-1", "S-FB-1", "S-INT-1", "S-PB-1"}


@pytest.fixture
def plant(world: World) -> Plant:
    ndpr = ProductFactory(code="NDPR-OX", name="Didymium oxide")
    nd = ProductFactory(code="ND-OX", name="Neodymium oxide")
    uk, us, a, b = world.uk_site, world.us_site, world.partner_a, world.partner_b

    feed_a = lot_create(
        actor=None,
        code="F-UK-A",
        site=uk,
        kind=LotKind.FEEDSTOCK,
        mass_kg=Decimal(1000),
        supplier=a,
        feedstock_type="end_of_life_magnets",
        is_recycled=True,
        country_of_collection="de",
    )
    feed_b = lot_create(actor=None, code="F-US-B", site=us, kind=LotKind.FEEDSTOCK, mass_kg=Decimal(800), supplier=b)
    intermediate = lot_create(actor=None, code="I-US-1", site=us, kind=LotKind.INTERMEDIATE, mass_kg=Decimal(500))
    lot_input_add(actor=None, input_lot=feed_b, output_lot=intermediate, mass_used_kg=Decimal(500))

    split = lot_create(actor=None, code="P-UK-SPLIT", site=uk, kind=LotKind.PRODUCT, product=ndpr, mass_kg=Decimal(500))
    lot_input_add(actor=None, input_lot=feed_a, output_lot=split, mass_used_kg=Decimal(400))
    lot_allocate(actor=None, lot=split, customer=a, mass_kg=Decimal(100), reference="PO-A-1")
    lot_allocate(actor=None, lot=split, customer=b, mass_kg=Decimal(200), reference="PO-B-7")

    product_b = lot_create(actor=None, code="P-US-B", site=us, kind=LotKind.PRODUCT, product=nd, mass_kg=Decimal(300))
    lot_input_add(actor=None, input_lot=intermediate, output_lot=product_b, mass_used_kg=Decimal(300))
    lot_allocate(actor=None, lot=product_b, customer=b, mass_kg=Decimal(250), reference="PO-B-8")

    traded = lot_create(actor=None, code="P-UK-TRADED", site=uk, kind=LotKind.PRODUCT, product=ndpr, mass_kg=Decimal(60), supplier=a)
    lot_allocate(actor=None, lot=traded, customer=b, mass_kg=Decimal(50), reference="PO-B-9")

    samples = {
        "S-FA-1": sample_register(actor=None, code="S-FA-1", lot=feed_a),
        # Taken from a UK lot but held at the US site: staff scope samples by the site holding them.
        "S-FA-US": sample_register(actor=None, code="S-FA-US", lot=feed_a, site=us),
        "S-SPLIT-1": sample_register(actor=None, code="S-SPLIT-1", lot=split),
        "S-TRADED-1": sample_register(actor=None, code="S-TRADED-1", lot=traded),
        "S-FB-1": sample_register(actor=None, code="S-FB-1", lot=feed_b),
        "S-INT-1": sample_register(actor=None, code="S-INT-1", lot=intermediate),
        "S-PB-1": sample_register(actor=None, code="S-PB-1", lot=product_b),
    }
    return Plant(
        feed_a=feed_a,
        feed_b=feed_b,
        intermediate=intermediate,
        split=split,
        product_b=product_b,
        traded=traded,
        samples=samples,
    )


@pytest.fixture
def client_for(request: pytest.FixtureRequest):
    """``client_for("qa")``: an API client signed in (by session) as that persona; "anonymous" is not."""

    def make(persona: str) -> APIClient:
        client = APIClient()
        user = request.getfixturevalue(persona)
        if user.is_authenticated:
            client.force_login(user)
        return client

    return make
