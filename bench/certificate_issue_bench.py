"""Certificates end to end on PostgreSQL: QA signs many lots at once, workers render, sign and store.

Issue 6 asks for certificates per second end to end with 1 and 2 worker processes, beside the pure
figures of ``bench/certificate_bench.py`` (render against a bare Typst compile, sign), which this
run measures again so both sit on the same machine state.

The lots are generated as ``bench/assess_bench.py`` generates them (accepted results written with
COPY) and assessed through the real service; each measured round then takes fresh conforming lots
and calls ``certificates_issue_bulk`` (one re-authentication, each lot its own transaction: number
under lock, frozen payload, lot released, render enqueued on commit). The clock runs from the
call until the batch's last PDF is stored with its SHA-256:

- in-process: the embedded mode, tasks eager (render and sign inside the signing request);
- through Redis with real ``celery -A lims worker`` processes, 1 then 2.

    python bench/certificate_issue_bench.py [--quick] [--count N]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.conf import settings
from django.db import connection
from django.test.utils import setup_databases, teardown_databases

from bench import assess_bench
from bench.certificate_bench import bench_pure, print_pure

FULL_COUNT = 200
QUICK_COUNT = 6
# The QA signer re-authenticates with this (a fresh one each run).
PASSWORD = secrets.token_urlsafe(16)


def _wait_batch(batch_id: int, *, total: int, workers: list[subprocess.Popen[str]], timeout: float = 1800) -> None:
    from assays.models import CertificateBatch

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = CertificateBatch.objects.get(pk=batch_id)
        if batch.failed:
            raise RuntimeError(f"batch {batch_id}: {batch.failed} render(s) failed")
        if batch.rendered >= total:
            return
        if any(worker.poll() is not None for worker in workers):
            raise RuntimeError("a worker died")
        time.sleep(0.05)
    raise RuntimeError(f"batch {batch_id} not rendered after {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"smoke size: {QUICK_COUNT} certificates per round")
    parser.add_argument("--count", type=int, default=None, help=f"certificates per round (default {FULL_COUNT})")
    args = parser.parse_args()
    count = args.count or (QUICK_COUNT if args.quick else FULL_COUNT)

    missing = assess_bench.services_missing()
    if missing:
        print(f"certificate_issue_bench: skipped: {missing}")
        return 1 if assess_bench.REQUIRE_SERVICES else 0
    no_broker = assess_bench.redis_missing()
    if no_broker and assess_bench.REQUIRE_SERVICES:
        print(f"certificate_issue_bench: {no_broker}")
        return 1

    from assays.certificates.signing import generate_self_signed_pair
    from assays.models import Certificate, Lot, LotStatus
    from assays.services.certificates import certificates_issue_bulk
    from assays.services.reassessment import product_reassess
    from lims.celery import app

    var_dir = tempfile.mkdtemp(prefix="certificate-bench-")
    key_pem, cert_pem = generate_self_signed_pair(common_name="Benchmark signer", organisation="Benchmark lab", days=2)
    key_file, cert_file = Path(var_dir, "key.pem"), Path(var_dir, "cert.pem")
    key_file.write_bytes(key_pem)
    cert_file.write_bytes(cert_pem)
    os.environ.update({"LIMS_SIGNING_KEY_FILE": str(key_file), "LIMS_SIGNING_CERT_FILE": str(cert_file)})
    settings.LIMS_SIGNING_KEY_FILE, settings.LIMS_SIGNING_CERT_FILE = key_file, cert_file
    settings.MEDIA_ROOT = Path(var_dir, "media")

    pure = bench_pure(count=count, key_pem=key_pem, cert_pem=cert_pem)
    old_config = setup_databases(verbosity=0, interactive=False)
    report: list[str] = []
    try:
        lab = assess_bench.make_lab()
        lab.qa_manager.set_password(PASSWORD)
        lab.qa_manager.save()
        rounds = 3 if not no_broker else 1
        # Some generated lots are off spec (too much praseodymium): generate enough conforming ones.
        assess_bench.generate(lab, lots=int(count * rounds * 1.1) + 5)
        app.conf.task_always_eager = True
        product_reassess(actor=None, product=lab.product, reason="benchmark: assess every lot")
        ready = list(Lot.objects.filter(product=lab.product, status=LotStatus.ASSESSED).order_by("pk"))
        if len(ready) < count * rounds:
            raise RuntimeError(f"only {len(ready)} conforming lots for {count * rounds} certificates")

        def issue(lots: list[Lot], workers: list[subprocess.Popen[str]]) -> float:
            started = time.perf_counter()
            outcome = certificates_issue_bulk(actor=lab.qa_manager, lots=lots, password=PASSWORD)
            if outcome.skipped:
                raise RuntimeError(f"lots skipped: {outcome.skipped[:3]}")
            _wait_batch(outcome.batch.pk, total=len(lots), workers=workers)
            return time.perf_counter() - started

        seconds = issue(ready[:count], [])
        report.append(
            f"in-process (embedded mode, eager tasks): {count} certificates in {seconds:.2f} s = {count / seconds:.1f} per second"
        )

        app.conf.task_always_eager = False
        if no_broker:
            report.append(f"workers: skipped: {no_broker}")
        else:
            queue = f"certificate-bench-{uuid.uuid4().hex[:12]}"
            default_queue = app.conf.task_default_queue
            app.conf.task_default_queue = queue
            try:
                for index, workers_count in enumerate((1, 2), start=1):
                    workers = assess_bench.start_workers(workers_count, queue=queue, var_dir=var_dir)
                    try:
                        lots = ready[index * count : (index + 1) * count]
                        seconds = issue(lots, workers)
                        report.append(
                            f"through Redis, {workers_count} worker process{'es' if workers_count > 1 else ''}: "
                            f"{count} certificates in {seconds:.2f} s = {count / seconds:.1f} per second"
                        )
                    finally:
                        assess_bench.stop_workers(workers)
            finally:
                app.conf.task_default_queue = default_queue
                assess_bench.purge(queue)
        stored = Certificate.objects.exclude(pdf_sha256="").count()
        report.append(f"stored PDFs with their SHA-256: {stored}")
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)
    print(f"database: PostgreSQL; {os.cpu_count()} CPU(s)")
    print_pure(pure)
    for line in report:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
