"""The import's two ways of turning an acquisition's values into measurement rows agree.

``assays.services.runs`` converts and censors a hundred thousand values per large batch: an
acquisition whose values are all the common case (a finite solution concentration in a known
unit, the channel's own limits, each cell once) takes a fast inline loop; any other the general
path, which also reports problems. Whatever the values, the inline loop either gives exactly the
general path's rows or declines (None) and leaves the acquisition to the general path (no
database). Then how the rows reach PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assays.chemistry.units import Preparation
from assays.importers.core import (
    InternalStandardResponse,
    ParsedAcquisition,
    ParsedChannel,
    ParsedRun,
    ParsedValue,
    Qualifier,
    ValueBasis,
)
from assays.importers.matching import Match
from assays.models import Acquisition, InternalStandardReading, Measurement
from assays.services import runs
from tests.conftest import World
from tests.factories import AcquisitionFactory, InstrumentFactory, MethodFactory

SOLUTION_UNITS = ["ppb", "µg/L", "ppm", "mg/L", "ng/L", "ppt"]
OTHER_UNITS = ["mg/kg", "%", "furlongs"]
ELEMENTS = ["Nd", "Pr", "La", "Ce", "Dy", "Tb"]


def _summary() -> runs.ImportSummary:
    return runs.ImportSummary(file_name="x.csv", sha256="0" * 64)


@st.composite
def _channels(draw: st.DrawFn) -> list[runs._ChannelPlan]:
    plans = []
    for index, element in enumerate(ELEMENTS):
        parsed = ParsedChannel(label=f"{140 + index}  {element}  [ He ]", element=element, isotope_mass=140 + index, cell_mode="He")
        if draw(st.booleans()) and index == len(ELEMENTS) - 1:
            parsed = ParsedChannel(label="115  In  [ He ]", element="In", isotope_mass=115, cell_mode="He", is_internal_standard=True)
        lod = draw(st.none() | st.floats(min_value=0.0, max_value=10.0))
        loq = None if lod is None else draw(st.none() | st.floats(min_value=lod, max_value=lod * 10 + 1))
        in_method = draw(st.booleans())
        plans.append(
            runs._ChannelPlan(
                index,
                parsed,
                "" if draw(st.integers(0, 9)) == 0 else parsed.code,
                in_method=in_method,
                lod=lod,
                loq=loq,
                estimated=lod is not None and draw(st.booleans()),
                flags=() if in_method else (runs.NOT_IN_METHOD,),
            )
        )
    return plans


_numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6) | st.sampled_from([0.0, -0.0, 1e-300])


@st.composite
def _values(draw: st.DrawFn, *, common: bool) -> list[ParsedValue]:
    """An acquisition's values; ``common``: only what the inline loop is meant to take."""
    units = SOLUTION_UNITS if common else SOLUTION_UNITS + OTHER_UNITS
    channels = draw(st.lists(st.integers(0, len(ELEMENTS) - 1), unique=common, max_size=len(ELEMENTS) + (0 if common else 3)))
    values = []
    for channel in channels:
        number = draw(st.none() | _numbers if common else st.none() | _numbers | st.sampled_from([math.nan, 1e308, -1e308]))
        own_limit = None if common else draw(st.none() | st.floats(min_value=0.0, max_value=5.0))
        values.append(
            ParsedValue(
                channel=channel,
                value=number,
                qualifier=draw(st.sampled_from(list(Qualifier))),
                unit=draw(st.sampled_from(units)),
                basis=ValueBasis.SOLUTION if common else draw(st.sampled_from(list(ValueBasis))),
                raw_text="",
                rsd_percent=draw(st.none() | st.floats(allow_nan=True, allow_infinity=True)),
                lod=own_limit,
                line=3,
            )
        )
    return values


_preparations = st.none() | st.builds(
    Preparation,
    sample_mass_g=st.floats(min_value=0.01, max_value=1.0),
    final_volume_ml=st.floats(min_value=1.0, max_value=100.0),
    dilution_factor=st.floats(min_value=1.0, max_value=1000.0),
    dilution_already_applied=st.booleans(),
)


def _planned(values: list[ParsedValue], preparation: Preparation | None) -> runs._AcquisitionPlan:
    acquisition = ParsedAcquisition(sequence=1, label="S1", values=values)
    return runs._AcquisitionPlan(
        parsed=acquisition,
        match=Match(sample_code="S1"),
        sample=None,
        reference_material_id=None,
        dilution_factor=None,
        preparation=preparation,
        acquired_at=None,
    )


def _both(planned: runs._AcquisitionPlan, channels: list[runs._ChannelPlan]) -> tuple[list[runs._MeasurementRow] | None, runs._Plan]:
    inline = runs._inline_rows(planned, channels, flag_sets=[{} for _ in channels], units={})
    plan = runs._Plan(summary=_summary())
    general = runs._general_rows(planned, channels, units={}, unit_problems=set(), plan=plan, file_name="x.csv")
    if inline is not None:
        assert inline == general
    return inline, plan


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(channels=_channels(), values=_values(common=True), preparation=_preparations)
def test_the_inline_loop_stores_exactly_what_the_general_path_stores(
    channels: list[runs._ChannelPlan], values: list[ParsedValue], preparation: Preparation | None
) -> None:
    inline, plan = _both(_planned(values, preparation), channels)
    # The common case is the inline loop's, and holds nothing to report.
    assert inline is not None
    assert not plan.problems


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(channels=_channels(), values=_values(common=False), preparation=_preparations)
def test_whatever_the_values_the_inline_loop_agrees_or_leaves_them_to_the_general_path(
    channels: list[runs._ChannelPlan], values: list[ParsedValue], preparation: Preparation | None
) -> None:
    inline, plan = _both(_planned(values, preparation), channels)
    # Where the general path finds a problem, the inline loop never stored anything.
    if plan.problems:
        assert inline is None


def test_the_counts_are_those_of_the_rows() -> None:
    channels = [
        runs._ChannelPlan(0, ParsedChannel(label="146Nd", element="Nd", isotope_mass=146), "146Nd", in_method=True, lod=0.5, loq=2.0),
        runs._ChannelPlan(
            1, ParsedChannel(label="141Pr", element="Pr", isotope_mass=141), "141Pr", in_method=False, flags=("not_in_method",)
        ),
    ]
    values = [
        ParsedValue(channel=0, value=0.1, qualifier=Qualifier.EQUAL, unit="ppb", basis=ValueBasis.SOLUTION, raw_text="0.1"),
        ParsedValue(channel=1, value=3.0, qualifier=Qualifier.EQUAL, unit="ppb", basis=ValueBasis.SOLUTION, raw_text="3"),
    ]
    planned = _planned(values, None)
    plan = runs._Plan(summary=_summary())
    plan.values = runs._ValuePlanning(channels=channels, file_name="x.csv", flag_sets=[{}, {}])
    runs._plan_values(planned, plan=plan)
    summary = plan.summary
    assert [row[:3] for row in planned.measurements] == [("146Nd", 0.5, "<"), ("141Pr", 3.0, "=")]
    assert (summary.values, summary.censored, summary.no_lod, summary.not_in_method, summary.below_loq) == (2, 1, 1, 1, 0)
    assert (summary.solid_values, planned.measurements[1][10]) == (0, ("no_lod", "not_in_method"))


# --- How the rows reach PostgreSQL ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_acquisitions_and_readings_go_in_by_copy_with_ids_from_their_sequences(technician: User, world: World) -> None:
    # Django's per-object INSERT of thousands of acquisitions would cost more than the COPY of all
    # their measurements; a field added to either model without a value here falls back to it.
    instrument = InstrumentFactory(site=world.uk_site)
    channels = [
        ParsedChannel(label="La", element="La", isotope_mass=139, cell_mode="No Gas"),
        ParsedChannel(label="Sc (ISTD)", element="Sc", isotope_mass=45, cell_mode="He", is_internal_standard=True),
    ]
    acquisitions = [
        ParsedAcquisition(
            sequence=n,
            label=f"CCV {n}",
            acquired_at=dt.datetime(2025, 3, 4, 10, n),
            values=[ParsedValue(channel=0, value=10.0 + n, qualifier=Qualifier.EQUAL, unit="ppb", basis=ValueBasis.SOLUTION, raw_text="")],
            internal_standards=[InternalStandardResponse(channel=1, counts_per_second=1000.0 * n, recovery_percent=98.5)],
        )
        for n in (1, 2, 3)
    ]
    parsed = ParsedRun(format="generic-long", file_name="copy.csv", channels=channels, acquisitions=acquisitions)
    with CaptureQueriesContext(connection) as queries:
        summary = runs.run_import_parsed(
            actor=technician, parsed=parsed, source_sha256="c" * 64, instrument=instrument, method=MethodFactory()
        )
    statements = [query["sql"] for query in queries.captured_queries]
    assert not [
        sql for sql in statements if sql.startswith(('INSERT INTO "assays_acquisition"', 'INSERT INTO "assays_internalstandardreading"'))
    ]
    # The acquisitions' ids, the readings' ids, and the run's own (drawn first, its row written last).
    assert sum("nextval(pg_get_serial_sequence" in sql for sql in statements) == 3
    stored = list(Acquisition.objects.filter(run_id=summary.run_id).order_by("sequence").values_list("sequence", "label", "acquired_at"))
    assert [(sequence, label) for sequence, label, _ in stored] == [(1, "CCV 1"), (2, "CCV 2"), (3, "CCV 3")]
    assert stored[0][2] == timezone.make_aware(dt.datetime(2025, 3, 4, 10, 1))
    readings = InternalStandardReading.objects.filter(acquisition__run_id=summary.run_id).order_by("acquisition__sequence")
    assert [(r.acquisition.label, r.counts_per_second, r.recovery_percent) for r in readings] == [
        ("CCV 1", 1000.0, 98.5),
        ("CCV 2", 2000.0, 98.5),
        ("CCV 3", 3000.0, 98.5),
    ]
    assert Measurement.objects.filter(acquisition__run_id=summary.run_id).count() == 3
    # A new row afterwards takes the next id of the sequence, past the ones drawn.
    assert AcquisitionFactory().pk > max(Acquisition.objects.filter(run_id=summary.run_id).values_list("pk", flat=True))
