"""Sample registration through the service layer against the physical limit of the database.

Registers N samples with ``sample_register`` (each with its custody event, two audit events and,
on PostgreSQL, pghistory's row triggers) in one transaction, and in the same run writes the same
N rows as plain tuples into a bare table with a primary key only: with ``COPY`` on PostgreSQL,
``executemany`` on SQLite. Then registers another N samples as one sample sheet, from the CSV
bytes: parsing, every check against the database and the bulk write (samples, custody events and
audit events each in one INSERT; pghistory's triggers still fire per row). Prints the rates and
their ratios. Runs in a throwaway test database.

    python bench/registration_bench.py [--quick] [--samples N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lims.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402


def _raw_limit(rows: list[tuple[int, str, str, Decimal, Decimal, Decimal]]) -> float:
    """Seconds to write the rows into a bare table: the floor any registration path sits on."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_sample")
        cursor.execute(
            "CREATE TABLE bench_raw_sample (id bigint PRIMARY KEY, code varchar(40), lot varchar(40),"
            " mass numeric(12,6), volume numeric(12,4), dilution numeric(12,4))"
        )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw_cursor = cursor.cursor  # psycopg 3 cursor under Django's wrapper
            with raw_cursor.copy("COPY bench_raw_sample (id, code, lot, mass, volume, dilution) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany("INSERT INTO bench_raw_sample VALUES (%s, %s, %s, %s, %s, %s)", rows)
    return time.perf_counter() - started


def _through_services(count: int) -> float:
    from assays.models import LotKind
    from assays.services.lots import lot_create
    from assays.services.samples import sample_register
    from assays.services.sites import site_ensure_default

    site = site_ensure_default()
    lot = lot_create(actor=None, code="BENCH-LOT", site=site, kind=LotKind.FEEDSTOCK, reason="benchmark")
    started = time.perf_counter()
    with transaction.atomic():
        for index in range(count):
            sample_register(
                actor=None,
                code=f"BENCH-{index:07d}",
                lot=lot,
                sample_mass_g=Decimal("0.1000"),
                final_volume_ml=Decimal("50"),
                dilution_factor=Decimal("10"),
            )
    return time.perf_counter() - started


def _sheet_csv(count: int) -> bytes:
    rows = ["sample_id,lot,lot_kind,product,supplier,sample_mass_g,final_volume_ml,dilution_factor,site"]
    rows += [f"SHEET-{index:07d},BENCH-SHEET-LOT,feedstock,,,0.1000,50,10," for index in range(count)]
    return ("\n".join(rows) + "\n").encode()


def _through_the_sheet(count: int) -> float:
    """Seconds from the CSV bytes to committed rows, the way ``register_samples`` runs."""
    from assays.importers.sample_sheet import parse_sample_sheet
    from assays.services.registration import samples_register_sheet

    data = _sheet_csv(count)
    started = time.perf_counter()
    result = samples_register_sheet(actor=None, sheet=parse_sample_sheet(data, file_name="bench.csv"), reason="benchmark")
    elapsed = time.perf_counter() - started
    if not result.committed or len(result.created_samples) != count:
        raise SystemExit(f"the sheet did not register: {result.errors[:3]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke size")
    parser.add_argument("--samples", type=int, default=None)
    args = parser.parse_args()
    count = args.samples or (200 if args.quick else 5000)
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        rows = [(i, f"RAW-{i:07d}", "BENCH-LOT", Decimal("0.1000"), Decimal("50"), Decimal("10")) for i in range(count)]
        raw_seconds = _raw_limit(rows)
        service_seconds = _through_services(count)
        sheet_seconds = _through_the_sheet(count)
    finally:
        teardown_databases(old_config, verbosity=0)
    limit = "COPY" if connection.vendor == "postgresql" else "executemany"
    raw_rate, service_rate, sheet_rate = count / raw_seconds, count / service_seconds, count / sheet_seconds
    print(f"database: {connection.vendor}; samples: {count}")
    print(f"raw {limit} into a bare table: {raw_rate:,.0f} rows/s")
    print(f"sample_register (custody + audit + history): {service_rate:,.0f} samples/s")
    print(f"ratio service / raw {limit}: {service_rate / raw_rate:.4f}")
    print(f"samples_register_sheet (CSV parse + checks + bulk custody, audit, history): {sheet_rate:,.0f} samples/s")
    print(f"ratio sheet / raw {limit}: {sheet_rate / raw_rate:.4f}; sheet / sample_register: {sheet_rate / service_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
