"""Row-level history on PostgreSQL (django-pghistory): triggers record every change to a
regulated record, however it was made, with the request's or task's context.

Measurements are tracked on update and delete only: an import is audited as one event for the
run with its counts, while a later change to a single value is captured row by row.
On SQLite the event tables exist but stay empty (pgtrigger installs nothing there); the
services' explicit ``AuditEvent`` rows are the trail in that mode.
"""

from __future__ import annotations

import pghistory
import pgtrigger
from django.db import models

from assays.models.assessments import Flag, LotAssessment
from assays.models.certificates import Certificate
from assays.models.lots import Lot, LotAllocation, LotInput
from assays.models.qc import QcEvaluation, QcWaiver
from assays.models.reference import Specification, SpecificationLine
from assays.models.runs import Measurement, Run
from assays.models.samples import CustodyEvent, Sample

HISTORY_TRACKED: tuple[type[models.Model], ...] = (
    Lot,
    LotInput,
    LotAllocation,
    Sample,
    CustodyEvent,
    Run,
    Specification,
    LotAssessment,
    Certificate,
    Flag,
    QcEvaluation,
    QcWaiver,
    SpecificationLine,
)

# A reassessment inserts a chunk's assessments in one statement, and a row trigger would run once
# per row when it ends (each copying a row of some kilobytes of outcome, 28 of the 37 ms that storing
# 200 assessments took): their insert events are recorded by one statement-level trigger, one
# INSERT ... SELECT over the rows the statement inserted. The same events, one per row, with the
# same context. The others keep pghistory's default (a row trigger).
_INSERT_TRIGGER_LEVEL: dict[type[models.Model], pgtrigger.Level] = {LotAssessment: pgtrigger.Statement}

for _model in HISTORY_TRACKED:
    # Trackers bind to their model, so each model gets fresh ones.
    insert = pghistory.InsertEvent(level=_INSERT_TRIGGER_LEVEL.get(_model))
    pghistory.track(insert, pghistory.UpdateEvent(), pghistory.DeleteEvent())(_model)

pghistory.track(pghistory.UpdateEvent(), pghistory.DeleteEvent())(Measurement)
