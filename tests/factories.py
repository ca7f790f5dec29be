"""factory_boy factories for the domain model. Services own state changes; factories only build
starting points for tests."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from assays.models import (
    Acquisition,
    Analyte,
    Basis,
    Element,
    Instrument,
    Lot,
    LotKind,
    Measurement,
    Method,
    Partner,
    PartnerKind,
    PartnerMembership,
    Product,
    Run,
    Sample,
    Site,
    SiteMembership,
    Technique,
)
from assays.roles import Role

PASSWORD = "correct-horse-battery-staple"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")
    country = "GB"


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Partner {o.code}")
    kind = PartnerKind.BOTH
    country = "DE"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[Role] | None, **kwargs: object) -> None:
        for role in extracted or []:
            # get_or_create: a transactional test's flush empties the groups the migration made.
            self.groups.add(Group.objects.get_or_create(name=role.value)[0])

    @factory.post_generation
    def sites(self, create: bool, extracted: list[Site] | None, **kwargs: object) -> None:
        for site in extracted or []:
            SiteMembership.objects.get_or_create(user=self, site=site)

    @factory.post_generation
    def partner(self, create: bool, extracted: Partner | None, **kwargs: object) -> None:
        if extracted is not None:
            PartnerMembership.objects.update_or_create(user=self, defaults={"partner": extracted})
        self.save()


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"PROD{n}")
    name = factory.LazyAttribute(lambda o: f"Product {o.code}")


class LotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lot

    code = factory.Sequence(lambda n: f"LOT-{n:05d}")
    site = factory.SubFactory(SiteFactory)
    kind = LotKind.FEEDSTOCK
    mass_kg = Decimal("1000.0")


class SampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sample

    code = factory.Sequence(lambda n: f"SMP-{n:05d}")
    lot = factory.SubFactory(LotFactory)
    site = factory.LazyAttribute(lambda o: o.lot.site)
    sample_mass_g = Decimal("0.1000")
    final_volume_ml = Decimal("50.0")
    dilution_factor = Decimal("10")


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument

    code = factory.Sequence(lambda n: f"ICPMS-{n}")
    name = "Agilent 7900"
    site = factory.SubFactory(SiteFactory)
    technique = Technique.ICP_MS


class MethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Method

    code = factory.Sequence(lambda n: f"M-{n}")
    name = "REE impurities in REO by ICP-MS"
    technique = Technique.ICP_MS


class AnalyteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Analyte
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"146Nd [He #{n}]")
    # Elements are reference data (migration 0002), never made up by a test.
    element = factory.LazyFunction(lambda: Element.objects.get(symbol="Nd"))
    technique = Technique.ICP_MS
    isotope_mass = 146
    cell_mode = "He"


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run

    site = factory.SubFactory(SiteFactory)
    instrument = factory.SubFactory(InstrumentFactory, site=factory.SelfAttribute("..site"))
    method = factory.SubFactory(MethodFactory)
    analyst = factory.SubFactory(UserFactory)
    source_filename = factory.Sequence(lambda n: f"run-{n:04d}.csv")
    source_sha256 = factory.Sequence(lambda n: f"{n:064x}")
    source_format = "agilent-masshunter-csv"


class AcquisitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Acquisition

    run = factory.SubFactory(RunFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    label = factory.Sequence(lambda n: f"Sample {n}")
    sample = None


class MeasurementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Measurement

    acquisition = factory.SubFactory(AcquisitionFactory)
    analyte = factory.SubFactory(AnalyteFactory)
    value = 12.5
    unit = "µg/L"
    basis = Basis.SOLUTION
