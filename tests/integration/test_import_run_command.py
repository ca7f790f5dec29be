"""``manage.py import_run``: one file or a folder, JSON summaries, clear errors, nothing half-written."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from assays.models import AuditAction, AuditEvent, Instrument, LabelMatchKind, Measurement, Method, QcLabelPattern, QcRole, Run, Sample
from tests.conftest import World
from tests.factories import InstrumentFactory, LotFactory, MethodFactory, SampleFactory
from tests.integration.test_run_import import REAL, agilent_batch, table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def instrument(world: World) -> Instrument:
    instrument = InstrumentFactory(code="UK1-ICPMS-01", site=world.uk_site)
    QcLabelPattern.objects.create(instrument=instrument, pattern="Deriv TracesETMaj", match_kind=LabelMatchKind.EXACT, qc_role=QcRole.CCV)
    return instrument


@pytest.fixture
def method() -> Method:
    return MethodFactory(code="REE-ICPMS")


@pytest.fixture
def samples(world: World) -> list[Sample]:
    lot = LotFactory(code="FS-26-001", site=world.uk_site)
    return [SampleFactory(code=code, lot=lot) for code in ("TS1", "TS2", "TL1")]


def run_command(*args: str, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_run", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_it_imports_the_real_batch_and_prints_the_summary_as_json(
    technician: User, instrument: Instrument, method: Method, samples: list[Sample], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run_command(str(REAL), "--instrument", instrument.code, "--method", method.code, "--as", "tech", "--json")
    summary = json.loads(out)
    run = Run.objects.get()
    assert summary["run_id"] == run.pk
    assert summary["format"] == "agilent-masshunter"
    assert (summary["acquisitions"], summary["channels"], summary["values"]) == (110, 69, 7146)
    assert (summary["matched_samples"], summary["qc_items"]) == (3, 25)
    assert summary["unmatched_labels"]["0"] == 32
    assert summary["censored"] == 0  # the method lists no channel: nothing has an LOD...
    assert summary["no_lod"] > 0  # ...and the summary says so
    assert isinstance(summary["warnings"], list)
    assert summary["errors"] == []
    assert run.analyst == technician
    assert Measurement.objects.count() == 7146
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT).count() == 1
    assert run.qc_note  # the evaluation ran on commit


def test_the_same_file_again_says_so_and_writes_nothing(technician: User, instrument: Instrument, method: Method) -> None:
    run_command(str(REAL), "--instrument", instrument.code, "--method", method.code, "--as", "tech")
    before = table_counts()
    out, _ = run_command(str(REAL), "--instrument", instrument.code, "--method", method.code, "--as", "tech")
    assert f"already imported as run {Run.objects.get().pk}" in out
    assert table_counts() == before


def test_a_dry_run_prints_what_it_would_do_and_writes_nothing(technician: User, instrument: Instrument, method: Method) -> None:
    before = table_counts()
    out, _ = run_command(str(REAL), "--as", "tech", "--dry-run")  # the only instrument and method: no need to name them
    assert "would import: 110 acquisitions, 69 channels, 7146 values" in out
    assert "unmatched labels: 0 x32" in out
    assert "dry run: nothing was written" in out
    assert table_counts() == before


def test_a_bad_file_is_a_clear_error_naming_file_line_and_column(
    technician: User, instrument: Instrument, method: Method, tmp_path: Path
) -> None:
    bad = tmp_path / "bad_unit.csv"
    bad.write_bytes(agilent_batch([("TS1", "Sample", "", ["0.5"])], channels=(("139  La  [ No Gas ] ", "furlongs"),)))
    before = table_counts()
    with pytest.raises(CommandError) as caught:
        run_command(str(bad), "--as", "tech")
    assert str(caught.value).startswith("bad_unit.csv, line 3, column '139  La  [ No Gas ]': unknown unit 'furlongs'")
    assert table_counts() == before


def test_a_folder_imports_file_by_file_with_progress_and_reports_the_failures(
    technician: User, instrument: Instrument, method: Method, tmp_path: Path
) -> None:
    shutil.copy(REAL, tmp_path / "a_batch.csv")
    shutil.copy(REAL, tmp_path / "b_same_batch_again.csv")
    (tmp_path / "c_empty.csv").write_bytes(b"")
    (tmp_path / "d_small.csv").write_bytes(agilent_batch([("TS1", "Sample", "", ["0.5"])]))
    (tmp_path / ".hidden").write_bytes(b"ignored")
    out = io.StringIO()
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 4 file"):
        call_command("import_run", str(tmp_path), "--as", "tech", "--json", stdout=out, stderr=err)
    summaries = json.loads(out.getvalue())
    assert [s["file_name"] for s in summaries] == ["a_batch.csv", "b_same_batch_again.csv", "c_empty.csv", "d_small.csv"]
    assert summaries[0]["run_id"] is not None
    assert not summaries[0]["existing"]
    assert summaries[1]["existing"]
    assert summaries[1]["run_id"] == summaries[0]["run_id"]
    assert summaries[2]["errors"] == ["c_empty.csv: the file is empty"]
    assert summaries[3]["values"] == 1
    assert Run.objects.count() == 2
    progress = err.getvalue().splitlines()
    assert len(progress) == 4
    assert progress[0].startswith("[")
    assert "1/4 a_batch.csv: 7146 values" in progress[0]
    assert "4/4 d_small.csv" in progress[3]
    assert progress[3].startswith("[" + "#" * 30 + "]")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "nobody"], "no active user 'nobody'"),
        (["--as", "tech", "--instrument", "NOPE"], "no instrument 'NOPE'"),
        (["--as", "tech", "--method", "NOPE"], "no method 'NOPE'"),
        (["--as", "qa"], "you may not import instrument runs"),
    ],
)
def test_bad_options_are_clear_errors(
    technician: User, qa: User, instrument: Instrument, method: Method, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run_command(str(REAL), *args)
    assert not Run.objects.exists()


def test_a_missing_path_and_an_ambiguous_instrument_or_method_are_named(
    world: World, technician: User, instrument: Instrument, method: Method, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="no such file or folder"):
        run_command(str(tmp_path / "nope.csv"), "--as", "tech")
    with pytest.raises(CommandError, match="no files to import"):
        run_command(str(tmp_path), "--as", "tech")
    InstrumentFactory(code="UK1-ICPMS-02", site=world.uk_site)
    with pytest.raises(CommandError, match=r"--instrument CODE \(active instruments: UK1-ICPMS-01, UK1-ICPMS-02\)"):
        run_command(str(REAL), "--as", "tech")
    MethodFactory(code="OTHER")
    with pytest.raises(CommandError, match=r"--method CODE \(ICP-MS methods: OTHER, REE-ICPMS\)"):
        run_command(str(REAL), "--as", "tech", "--instrument", instrument.code)
