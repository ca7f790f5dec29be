"""The partner API against hand-written SQL for the same page, on PostgreSQL (issue 7).

Generates P partners (50 by default, each both supplier and customer), L lots (20,000: half
feedstock supplied by a partner, half product lots allocated to a customer, a tenth of those split
with a second customer), 2 samples per lot in runs of 100 (plus two QC acquisitions per run), 25
analytes per sample: 1,000,000 sample measurements, each with its acceptance under the run's
current evaluation (1 % rejected), and the documents that release the lots: a report to the
supplier or a certificate of analysis to the customer (or to no customer in particular), for most
lots; some superseded by a revision, some revoked, some issued before a late run (whose results
stay unreleased), the rest not released at all. Everything is written with COPY and one
set-based INSERT, as imports, QC and issuance would have left it (a certificate's PDF is not
rendered: the list never reads it; its certified payload is a real one's size).

Then, in one run, for several partners with a real API key (``api_key_issue``):

- the results sync (``GET /api/v1/partner/results/``) walked page by page (100 rows) through the
  Django test client, every page checked against one hand-written SQL for the same page (same
  rows, same order, same filters), run through psycopg directly;
- p50 and p95 of a results page and of a certificate list page (``GET
  /api/v1/partner/certificates/``) through the whole stack (key check, throttle, selector,
  cursor pagination, serializer, JSON, the audit event of a results page), interleaved with the
  same page's raw SQL; the ratio API p50 / raw SQL p50 (target <= 3);
- queries per request (``CaptureQueriesContext``) for page sizes 10, 100 and 500: constant.

Without DATABASE_URL the bench uses its own PostgreSQL database (``LIMS_BENCH_DATABASE_URL``,
default postgres://127.0.0.1:5432/lims_bench, as a throwaway test database). The throttle's cache
is Redis as in the stack mode (``LIMS_CACHE_URL``, else a Redis ``CELERY_BROKER_URL``, else
redis://127.0.0.1:6379/14 when it answers), else the process-local cache. A missing PostgreSQL
skips the bench, and fails it under LIMS_REQUIRE_SERVICES=1.

    python bench/api_bench.py [--quick] [--lots N] [--partners N] [--iterations N] [--keepdb] [--profile FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import random
import secrets
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lims.settings")
REQUIRE_SERVICES = os.environ.get("LIMS_REQUIRE_SERVICES", "") == "1"
if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ.get("LIMS_BENCH_DATABASE_URL") or f"postgres://{getpass.getuser()}@127.0.0.1:5432/lims_bench"


def _redis_answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=0.5):
            return True
    except OSError:
        return False


# The stack mode keeps throttle counts in Redis (LIMS_CACHE_URL, else a Redis broker's): measure
# that path when Redis is there.
_configured_cache = os.environ.get("LIMS_CACHE_URL") or os.environ.get("CELERY_BROKER_URL", "").startswith("redis")
if not _configured_cache and _redis_answers("redis://127.0.0.1:6379/14"):
    os.environ["LIMS_CACHE_URL"] = "redis://127.0.0.1:6379/14"

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_databases, teardown_databases  # noqa: E402

from bench.assess_bench import ELEMENTS, make_lab, services_missing  # noqa: E402

SAMPLES_PER_LOT = 2
ANALYTES = ELEMENTS[:25]  # 2 samples x 25 analytes = 50 results a lot
SAMPLES_PER_RUN = 100
QC_ROLES = ("calibration_blank", "ccv")  # each run's QC acquisitions: measured, never released
RELEASED_SHARE = 0.88
SPLIT_SHARE = 0.10  # product lots split between two customers
FOR_ANY_CUSTOMER_SHARE = 0.30  # certificates issued for no customer in particular
REVISED_SHARE = 0.05  # released lots whose first document was superseded by a revision
REVOKED_SHARE = 0.01  # lots whose only document was revoked (not released)
LATE_RUN_SHARE = 0.03  # released lots measured after the document: results not yet released
REJECTED_EVERY = 97  # one result in 97 rejected by QC
PAGE_SIZE = 100
TARGET_RATIO = 3.0
RESULTS_URL = "/api/v1/partner/results/"
CERTIFICATES_URL = "/api/v1/partner/certificates/"


# --- Loading ------------------------------------------------------------------------------------------


def copy_into(model: type[models.Model], rows: Iterable[dict[str, Any]]) -> int:
    """COPY ``rows`` (attname -> Python value, the primary key included) into ``model``'s table;
    a column a row leaves out gets the field's default, as the ORM would write it. Row triggers
    (pghistory) fire as for any insert."""
    from django.utils import timezone

    now = timezone.now()
    fields = list(model._meta.concrete_fields)
    defaults: dict[str, Any] = {}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = f.get_db_prep_save(now, connection)
        else:
            defaults[f.attname] = f.get_db_prep_save(f.get_default(), connection)
    prepared: dict[tuple[str, int], Any] = {}  # a shared dict or list value (a payload) is adapted once

    def prep(f: models.Field[Any, Any], value: Any) -> Any:
        if isinstance(value, dict | list):
            key = (f.attname, id(value))
            if key not in prepared:
                prepared[key] = f.get_db_prep_save(value, connection)
            return prepared[key]
        return f.get_db_prep_save(value, connection)

    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([prep(f, row[f.attname]) if f.attname in row else defaults[f.attname] for f in fields])
            count += 1
    return count


def next_ids(*tables: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        result = {}
        for table in tables:
            cursor.execute(f"SELECT COALESCE(max(id), 0) + 1 FROM {table}")  # noqa: S608 - our table names
            result[table] = int(cursor.fetchone()[0])
        return result


def reset_sequences(*tables: str) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {table}))", [table])  # noqa: S608


@dataclass
class World:
    partners: list[Any]
    qa: Any
    admin: Any
    lots: int
    measurements: int
    qc_measurements: int
    documents: int
    released_lots: int


def generate(*, partners: int, lots: int, seed: int = 7) -> World:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from assays.certificates.example import example_payload
    from assays.models import (
        Acquisition,
        Analyte,
        Certificate,
        Lot,
        LotAllocation,
        Partner,
        PartnerKind,
        QcEvaluation,
        RulePack,
        Run,
        Sample,
    )
    from assays.roles import Role

    rng = random.Random(seed)
    lab = make_lab()
    qa = User.objects.create(username="bench-qa", first_name="Dana", last_name="Whitfield")
    qa.groups.add(Group.objects.get_or_create(name=Role.QA.value)[0])
    admin = User.objects.create(username="bench-lab-admin", is_staff=True)
    admin.groups.add(Group.objects.get_or_create(name=Role.LAB_ADMIN.value)[0])
    made = Partner.objects.bulk_create(
        Partner(code=f"P{index:03d}", name=f"Partner {index:03d}", kind=PartnerKind.BOTH, country="DE") for index in range(partners)
    )
    pack = RulePack.objects.filter(code="none").order_by("-version").first()
    assert pack is not None, "the shipped 'none' rule pack is missing"

    ids = next_ids(
        "assays_lot",
        "assays_lotallocation",
        "assays_sample",
        "assays_run",
        "assays_qcevaluation",
        "assays_acquisition",
        "assays_certificate",
    )
    now = timezone.now()
    start = now - dt.timedelta(days=400)
    runs = (lots * SAMPLES_PER_LOT + SAMPLES_PER_RUN - 1) // SAMPLES_PER_RUN
    run_step = dt.timedelta(days=360) / max(runs, 1)
    run_imported = [start + run_step * index for index in range(runs)]

    # Lots: even ones feedstock (supplier by turns), odd ones product lots (customer by turns).
    lot_rows: list[dict[str, Any]] = []
    allocation_rows: list[dict[str, Any]] = []
    customers_of: dict[int, list[Any]] = {}
    for index in range(lots):
        pk = ids["assays_lot"] + index
        created = start + run_step * (index * SAMPLES_PER_LOT // SAMPLES_PER_RUN) - dt.timedelta(days=3)
        if index % 2 == 0:
            supplier = made[(index // 2) % partners]
            lot_rows.append(
                {
                    "id": pk,
                    "code": f"FS-{index:06d}",
                    "site_id": lab.site.pk,
                    "kind": "feedstock",
                    "supplier_id": supplier.pk,
                    "feedstock_type": "end_of_life_magnets",
                    "mass_kg": Decimal("1200"),
                    "received_on": created.date(),
                    "created_at": created,
                }
            )
        else:
            customers = [made[(index // 2 * 7) % partners]]
            if rng.random() < SPLIT_SHARE:
                customers.append(made[(index // 2 * 7 + 1) % partners])
            customers_of[pk] = customers
            lot_rows.append(
                {
                    "id": pk,
                    "code": f"ND-{index:06d}",
                    "site_id": lab.site.pk,
                    "kind": "product",
                    "product_id": lab.product.pk,
                    "mass_kg": Decimal("1000"),
                    "produced_on": created.date(),
                    "status": "released",
                    "created_at": created,
                }
            )
            for customer in customers:
                allocation_rows.append(
                    {
                        "id": ids["assays_lotallocation"] + len(allocation_rows),
                        "lot_id": pk,
                        "customer_id": customer.pk,
                        "mass_kg": Decimal("500") / len(customers),
                        "allocated_at": created,
                        "reference": f"PO-{index:06d}",
                    }
                )
    copy_into(Lot, lot_rows)
    copy_into(LotAllocation, allocation_rows)

    sample_rows: list[dict[str, Any]] = []
    sample_run: list[int] = []
    for lot in lot_rows:
        for n in range(1, SAMPLES_PER_LOT + 1):
            run_index = len(sample_rows) // SAMPLES_PER_RUN
            sample_rows.append(
                {
                    "id": ids["assays_sample"] + len(sample_rows),
                    "code": f"{lot['code']}-S{n}",
                    "lot_id": lot["id"],
                    "site_id": lab.site.pk,
                    "sample_mass_g": Decimal("0.1"),
                    "final_volume_ml": Decimal("50"),
                    "status": "complete",
                    "registered_at": run_imported[run_index] - dt.timedelta(days=1),
                }
            )
            sample_run.append(run_index)
    copy_into(Sample, sample_rows)

    copy_into(
        Run,
        (
            {
                "id": ids["assays_run"] + index,
                "site_id": lab.site.pk,
                "instrument_id": lab.instrument.pk,
                "method_id": lab.method.pk,
                "analyst_id": lab.analyst.pk,
                "source_filename": f"bench-{index:05d}.csv",
                "source_sha256": f"{index:064x}",
                "source_format": "generic-long",
                "status": "accepted",
                "imported_at": imported,
                "qc_evaluated_at": imported,
            }
            for index, imported in enumerate(run_imported)
        ),
    )
    copy_into(
        QcEvaluation,
        (
            {
                "id": ids["assays_qcevaluation"] + index,
                "run_id": ids["assays_run"] + index,
                "rule_pack_id": pack.pk,
                "evaluated_at": imported,
                "is_current": True,
                "status": "accepted",
            }
            for index, imported in enumerate(run_imported)
        ),
    )
    acquisition_rows: list[dict[str, Any]] = []
    sample_acquisitions: list[int] = []
    for run_index in range(runs):
        run_id = ids["assays_run"] + run_index
        acquired = run_imported[run_index] - dt.timedelta(hours=1)
        for sequence, role in enumerate(QC_ROLES, start=1):
            acquisition_rows.append(
                {
                    "id": ids["assays_acquisition"] + len(acquisition_rows),
                    "run_id": run_id,
                    "sequence": sequence,
                    "label": role.upper(),
                    "qc_role": role,
                    "acquired_at": acquired,
                }
            )
        first = run_index * SAMPLES_PER_RUN
        for offset, sample in enumerate(sample_rows[first : first + SAMPLES_PER_RUN]):
            pk = ids["assays_acquisition"] + len(acquisition_rows)
            acquisition_rows.append(
                {
                    "id": pk,
                    "run_id": run_id,
                    "sequence": len(QC_ROLES) + offset + 1,
                    "label": sample["code"],
                    "sample_id": sample["id"],
                    "acquired_at": acquired,
                }
            )
            sample_acquisitions.append(pk)
    copy_into(Acquisition, acquisition_rows)

    # Documents. A lot's samples sit in one run (two, at a run's edge): release after the later.
    lot_last_run: dict[int, int] = {}
    for sample, run_index in zip(sample_rows, sample_run, strict=True):
        lot_last_run[sample["lot_id"]] = max(lot_last_run.get(sample["lot_id"], 0), run_index)
    payload = example_payload(number="COA-2026-00001", lot_code="ND-000001", extra_rows=10)
    document_rows: list[dict[str, Any]] = []
    released = 0

    def document(lot: dict[str, Any], *, issued_at: dt.datetime, revision: int = 0, **extra: Any) -> dict[str, Any]:
        pk = ids["assays_certificate"] + len(document_rows)
        report = lot["kind"] == "feedstock"
        row = {
            "id": pk,
            "kind": "report" if report else "certificate",
            "number": f"{'ROA' if report else 'COA'}-BENCH-{lot['id']:06d}",
            "revision": revision,
            "lot_id": lot["id"],
            "issuing_site_id": lab.site.pk,
            "status": "issued",
            "issued_at": issued_at,
            "issued_by_id": qa.pk,
            "signer_name": "Dana Whitfield",
            "signer_role": "QA",
            "signature_meaning": "reported" if report else "approved_for_release",
            "verification_token": secrets.token_urlsafe(32),
            "payload": payload,
            "pdf": f"certificates/{issued_at.year}/bench-{pk}.pdf",
            "pdf_sha256": f"{pk:064x}",
            "pdf_size": 180_000,
            "rendered_at": issued_at,
        }
        row.update(extra)
        document_rows.append(row)
        return row

    for lot in lot_rows:
        draw = rng.random()
        if draw >= RELEASED_SHARE + REVOKED_SHARE:
            continue  # not released yet
        issued_at = run_imported[lot_last_run[lot["id"]]] + dt.timedelta(days=2)
        if rng.random() < LATE_RUN_SHARE:
            issued_at = run_imported[lot_last_run[lot["id"]]] - dt.timedelta(hours=2)  # the run came later
        customer_id: int | None = None
        if lot["kind"] == "product" and rng.random() >= FOR_ANY_CUSTOMER_SHARE:
            customer_id = customers_of[lot["id"]][0].pk
        if draw >= RELEASED_SHARE:
            document(
                lot,
                issued_at=issued_at,
                customer_id=customer_id,
                status="revoked",
                revoked_at=issued_at + dt.timedelta(days=1),
                revoked_by_id=qa.pk,
                revocation_reason="benchmark: wrong sample",
            )
            continue
        released += 1
        if rng.random() < REVISED_SHARE:
            earlier = document(lot, issued_at=issued_at - dt.timedelta(hours=6), customer_id=customer_id, status="superseded")
            document(
                lot,
                issued_at=issued_at,
                revision=1,
                customer_id=customer_id,
                supersedes_id=earlier["id"],
                revision_reason="benchmark: corrected address",
                change_summary="address",
            )
        else:
            document(lot, issued_at=issued_at, customer_id=customer_id)
    copy_into(Certificate, document_rows)
    reset_sequences(*ids)

    # Measurements (COPY) and their acceptances (one INSERT ... SELECT), as import and QC leave them.
    analyte_ids = list(dict(Analyte.objects.filter(code__in=ANALYTES).values_list("code", "pk")).values())
    assert len(analyte_ids) == len(ANALYTES)
    np_rng = np.random.default_rng(seed)
    sample_acquisition_set = set(sample_acquisitions)
    values = 5.0 * np_rng.lognormal(0.0, 0.5, size=(len(acquisition_rows), len(analyte_ids)))
    censored = np_rng.random(values.shape) < 0.08
    with transaction.atomic(), connection.cursor() as cursor:
        statement = "COPY assays_measurement (acquisition_id, analyte_id, value, qualifier, unit, basis, lod, raw_unit, flags) FROM STDIN"
        with cursor.cursor.copy(statement) as copy:
            for row, acquisition in enumerate(acquisition_rows):
                unit, basis = ("mg/kg", "as_received") if acquisition["id"] in sample_acquisition_set else ("µg/L", "solution")
                for column, analyte_id in enumerate(analyte_ids):
                    value, qualifier = (0.05, "<") if censored[row, column] else (float(values[row, column]), "=")
                    copy.write_row((acquisition["id"], analyte_id, value, qualifier, unit, basis, 0.05, unit, "[]"))
        cursor.execute(
            "INSERT INTO assays_resultacceptance (measurement_id, evaluation_id, state, reasons)"
            " SELECT m.id, e.id, CASE WHEN m.id %% %s = 0 THEN 'rejected' ELSE 'accepted' END, '[]'"
            " FROM assays_measurement m"
            " JOIN assays_acquisition a ON a.id = m.acquisition_id AND a.qc_role = '' AND a.sample_id IS NOT NULL"
            " JOIN assays_qcevaluation e ON e.run_id = a.run_id AND e.is_current",
            [REJECTED_EVERY],
        )
    # A database in use has its statistics and visibility map up to date: so should this one.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return World(
        partners=made,
        qa=qa,
        admin=admin,
        lots=lots,
        measurements=len(sample_acquisitions) * len(analyte_ids),
        qc_measurements=(len(acquisition_rows) - len(sample_acquisitions)) * len(analyte_ids),
        documents=len(document_rows),
        released_lots=released,
    )


def existing_world() -> World | None:
    """The data a previous ``--keepdb`` run left, if any."""
    from django.contrib.auth.models import User

    from assays.models import Certificate, Lot, Measurement, Partner, ResultAcceptance

    partners = list(Partner.objects.filter(code__startswith="P").order_by("code"))
    if not partners:
        return None
    return World(
        partners=partners,
        qa=User.objects.get(username="bench-qa"),
        admin=User.objects.get(username="bench-lab-admin"),
        lots=Lot.objects.count(),
        measurements=ResultAcceptance.objects.count(),
        qc_measurements=Measurement.objects.count() - ResultAcceptance.objects.count(),
        documents=Certificate.objects.count(),
        released_lots=-1,
    )


# --- The same pages in hand-written SQL ---------------------------------------------------------------

# The partner's lots (supplied, or allocated to it) with the time their live document for it was
# issued, then their accepted sample results measured before that, by measurement id. The page's
# bound is written on both sides of the measurement join: PostgreSQL carries only equalities
# across a join, and with one bound it merge-joins the other table from its first row.
RESULTS_SQL = """
WITH released AS (
    SELECT l.id, l.code,
           (SELECT max(c.issued_at) FROM assays_certificate c
             WHERE c.lot_id = l.id AND c.status = 'issued'
               AND ((c.kind = 'report' AND l.supplier_id = %(partner)s)
                    OR (c.kind = 'certificate' AND (c.customer_id = %(partner)s OR c.customer_id IS NULL)
                        AND EXISTS (SELECT 1 FROM assays_lotallocation x WHERE x.lot_id = l.id AND x.customer_id = %(partner)s)))
           ) AS released_at
      FROM assays_lot l
     WHERE l.supplier_id = %(partner)s
        OR EXISTS (SELECT 1 FROM assays_lotallocation x WHERE x.lot_id = l.id AND x.customer_id = %(partner)s)
)
SELECT m.id, r.released_at, r.code, s.code, an.code, el.symbol, m.qualifier, m.value, m.unit, m.basis, m.lod,
       COALESCE(a.acquired_at, run.imported_at)
  FROM released r
  JOIN assays_sample s ON s.lot_id = r.id
  JOIN assays_acquisition a ON a.sample_id = s.id AND a.qc_role = ''
  JOIN assays_run run ON run.id = a.run_id AND run.imported_at <= r.released_at
  JOIN assays_measurement m ON m.acquisition_id = a.id
  JOIN assays_resultacceptance ra ON ra.measurement_id = m.id AND ra.state = 'accepted'
  JOIN assays_qcevaluation e ON e.id = ra.evaluation_id AND e.is_current
  JOIN assays_analyte an ON an.id = m.analyte_id
  LEFT JOIN assays_element el ON el.id = an.element_id
 WHERE m.id > %(after)s AND ra.measurement_id > %(after)s
 ORDER BY m.id
 LIMIT %(limit)s
"""

# Reports of the partner's supplied lots and certificates for it (or anyone) of lots allocated to
# it, once issued, with the lot, product, and the revisions either side.
CERTIFICATES_SQL = """
SELECT c.id, c.kind, c.number, c.revision, c.status, l.code, p.code, c.issued_at, c.signer_name, c.signer_role,
       c.signature_meaning, c.revoked_at, c.revocation_reason, c.pdf_sha256, c.verification_token,
       before.id, before.number, before.revision, after.id, after.number, after.revision
  FROM assays_certificate c
  JOIN assays_lot l ON l.id = c.lot_id
  LEFT JOIN assays_product p ON p.id = l.product_id
  LEFT JOIN assays_certificate before ON before.id = c.supersedes_id
  LEFT JOIN assays_certificate after ON after.supersedes_id = c.id
 WHERE c.status IN ('issued', 'superseded', 'revoked')
   AND ((c.kind = 'report' AND l.supplier_id = %(partner)s)
        OR (c.kind = 'certificate' AND (c.customer_id = %(partner)s OR c.customer_id IS NULL)
            AND EXISTS (SELECT 1 FROM assays_lotallocation x WHERE x.lot_id = c.lot_id AND x.customer_id = %(partner)s)))
   AND c.id > %(after)s
 ORDER BY c.id
 LIMIT %(limit)s
"""


def raw_page(sql: str, *, partner_id: int, after: int, limit: int = PAGE_SIZE) -> list[tuple[Any, ...]]:
    """One page through psycopg directly: no ORM, no Django cursor wrapper."""
    with connection.connection.cursor() as cursor:
        cursor.execute(sql, {"partner": partner_id, "after": after, "limit": limit})
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


# --- Through the stack --------------------------------------------------------------------------------


@dataclass
class Page:
    partner_id: int
    url: str
    after: int  # the last id of the page before (0: the first page)


@dataclass
class Endpoint:
    name: str
    pages: list[Page] = field(default_factory=list)
    api: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    queries: dict[int, int] = field(default_factory=dict)


def key_client(raw_key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")


def walk(client: Client, url: str, *, partner_id: int, id_field: str, check: Callable[[int, list[dict[str, Any]]], None]) -> list[Page]:
    """Every page of a list, as a syncing client reads it, each checked against the raw SQL."""
    pages: list[Page] = []
    after = 0
    next_url: str | None = f"{url}?page_size={PAGE_SIZE}"
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, (response.status_code, response.content[:300])
        body = response.json()
        rows = body["results"]
        pages.append(Page(partner_id=partner_id, url=next_url, after=after))
        check(after, rows)
        if rows:
            after = rows[-1][id_field]
        next_url = body["next"]
    return pages


def check_results_page(partner_id: int) -> Callable[[int, list[dict[str, Any]]], None]:
    def check(after: int, rows: list[dict[str, Any]]) -> None:
        raw = raw_page(RESULTS_SQL, partner_id=partner_id, after=after)
        api = [
            (row["measurement_id"], row["lot_code"], row["sample_code"], row["analyte"], row["value"], row["released_at"]) for row in rows
        ]
        same = [(r[0], r[2], r[3], r[4], r[7], _iso(r[1])) for r in raw]
        assert api == same, f"results after {after}: the API and the raw SQL disagree"

    return check


def check_certificates_page(partner_id: int) -> Callable[[int, list[dict[str, Any]]], None]:
    def check(after: int, rows: list[dict[str, Any]]) -> None:
        raw = raw_page(CERTIFICATES_SQL, partner_id=partner_id, after=after)
        api = [
            (row["id"], row["number"], row["status"], (row["supersedes"] or {}).get("id"), (row["superseded_by"] or {}).get("id"))
            for row in rows
        ]
        same = [(r[0], r[2], r[4], r[15], r[18]) for r in raw]
        assert api == same, f"certificates after {after}: the API and the raw SQL disagree"

    return check


def _iso(value: dt.datetime) -> str:
    from rest_framework.fields import DateTimeField

    return str(DateTimeField().to_representation(value))


def time_endpoint(endpoint: Endpoint, *, clients: dict[int, Client], sql: str, iterations: int, warmup: int, profile: Any = None) -> None:
    """API request and raw SQL for the same page, interleaved (machine noise hits both alike)."""
    rng = random.Random(3)
    order = [endpoint.pages[rng.randrange(len(endpoint.pages))] for _ in range(warmup + iterations)]
    for index, page in enumerate(order):
        client = clients[page.partner_id]
        if profile is not None and index >= warmup:
            profile.enable()
        started = time.perf_counter()
        response = client.get(page.url)
        api_seconds = time.perf_counter() - started
        if profile is not None and index >= warmup:
            profile.disable()
        assert response.status_code == 200, (response.status_code, response.content[:300])
        started = time.perf_counter()
        raw_page(sql, partner_id=page.partner_id, after=page.after)
        raw_seconds = time.perf_counter() - started
        if index >= warmup:
            endpoint.api.append(api_seconds)
            endpoint.raw.append(raw_seconds)


def count_queries(client: Client, url: str, sizes: Sequence[int]) -> dict[int, int]:
    counts = {}
    for size in sizes:
        client.get(url, {"page_size": size})  # the key's last-used stamp (once a minute) is not part of a request's cost
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, {"page_size": size})
        assert response.status_code == 200, response.content[:300]
        counts[size] = len(captured.captured_queries)
    return counts


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report_endpoint(endpoint: Endpoint) -> list[str]:
    api50, api95 = statistics.median(endpoint.api), percentile(endpoint.api, 0.95)
    raw50, raw95 = statistics.median(endpoint.raw), percentile(endpoint.raw, 0.95)
    ratio = api50 / raw50
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    counts = ", ".join(f"page_size={size}: {count}" for size, count in endpoint.queries.items())
    constant = "constant" if len(set(endpoint.queries.values())) == 1 else "NOT constant"
    return [
        f"{endpoint.name}: {len(endpoint.api)} requests over {len(endpoint.pages)} pages of {PAGE_SIZE}",
        f"  API (test client, whole stack): p50 {1000 * api50:.2f} ms, p95 {1000 * api95:.2f} ms",
        f"  raw SQL (psycopg, same page):   p50 {1000 * raw50:.2f} ms, p95 {1000 * raw95:.2f} ms",
        f"  ratio API p50 / raw SQL p50: {ratio:.2f} (target <= {TARGET_RATIO:g}: {verdict})",
        f"  queries per request: {counts} ({constant})",
    ]


# --- Main ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke size: 400 lots (20,000 results), 10 partners, 20 requests")
    parser.add_argument("--lots", type=int, default=None, help="lots (default 20,000: 1,000,000 results)")
    parser.add_argument("--partners", type=int, default=None, help="partners (default 50)")
    parser.add_argument("--timed-partners", type=int, default=None, help="partners whose pages are timed (default 5)")
    parser.add_argument("--iterations", type=int, default=None, help="timed requests per endpoint (default 200)")
    parser.add_argument("--keepdb", action="store_true", help="keep the test database, and reuse the data it holds")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the timed results requests into FILE")
    args = parser.parse_args()
    lots = args.lots or (400 if args.quick else 20_000)
    partner_count = args.partners or (10 if args.quick else 50)
    timed_count = min(partner_count, args.timed_partners or (3 if args.quick else 5))
    iterations = args.iterations or (20 if args.quick else 200)
    warmup = 5 if args.quick else 30

    missing = services_missing()
    if missing:
        print(f"api_bench: skipped: {missing}")
        return 1 if REQUIRE_SERVICES else 0

    from assays.models import ApiScope
    from assays.services.partner_keys import api_key_issue

    old_config = setup_databases(verbosity=0, interactive=False, keepdb=args.keepdb)
    report: list[str] = []
    try:
        started = time.perf_counter()
        world = existing_world() if args.keepdb else None
        reused = world is not None
        if world is None:
            world = generate(partners=partner_count, lots=lots)
        load_seconds = time.perf_counter() - started
        report.append(
            f"data: {len(world.partners)} partners (supplier and customer), {world.lots:,} lots, {world.measurements:,} sample"
            f" results with their acceptance (1 in {REJECTED_EVERY} rejected; +{world.qc_measurements:,} QC measurements),"
            f" {world.documents:,} documents"
            + (f", {world.released_lots:,} lots released" if world.released_lots >= 0 else "")
            + (" (reused)" if reused else f"; loaded in {load_seconds:.1f} s (COPY, INSERT ... SELECT, VACUUM ANALYZE)")
        )

        step = max(1, len(world.partners) // timed_count)
        timed = world.partners[::step][:timed_count]
        clients: dict[int, Client] = {}
        for partner in timed:
            _, raw_key = api_key_issue(
                actor=world.admin,
                partner=partner,
                name="bench sync",
                scopes=[ApiScope.RESULTS, ApiScope.CERTIFICATES],
                throttle_rate="1000000/min",  # the bench, not the throttle, sets the pace
            )
            clients[partner.pk] = key_client(raw_key)

        results, certificates = (
            Endpoint("results page (GET /api/v1/partner/results/)"),
            Endpoint("certificate list (GET /api/v1/partner/certificates/)"),
        )
        started = time.perf_counter()
        for partner in timed:
            client = clients[partner.pk]
            results.pages += walk(
                client, RESULTS_URL, partner_id=partner.pk, id_field="measurement_id", check=check_results_page(partner.pk)
            )
            certificates.pages += walk(
                client, CERTIFICATES_URL, partner_id=partner.pk, id_field="id", check=check_certificates_page(partner.pk)
            )
        sync_seconds = time.perf_counter() - started
        report.append(
            f"full sync of {timed_count} partners (every page of both lists, each checked equal to the raw SQL's):"
            f" {len(results.pages)} results pages, {len(certificates.pages)} certificate pages in {sync_seconds:.1f} s"
        )

        first = clients[timed[0].pk]
        results.queries = count_queries(first, RESULTS_URL, (10, 100, 500))
        certificates.queries = count_queries(first, CERTIFICATES_URL, (10, 100, 500))

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
        time_endpoint(results, clients=clients, sql=RESULTS_SQL, iterations=iterations, warmup=warmup, profile=profiler)
        time_endpoint(certificates, clients=clients, sql=CERTIFICATES_SQL, iterations=iterations, warmup=warmup)
        if profiler is not None:
            profiler.dump_stats(args.profile)
        report += report_endpoint(results) + report_endpoint(certificates)
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0, keepdb=args.keepdb)
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"database: PostgreSQL; cache (throttle): {cache}; {os.cpu_count()} CPU(s)")
    if args.quick:
        print("smoke size: a page's fixed cost outweighs these small tables, so the ratios mean something at full size only")
    for line in report:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
