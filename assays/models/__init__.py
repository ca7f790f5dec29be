"""The domain model, one module per aggregate (DESIGN.md)."""

from django.db import models
from django.db.models.functions import Length

# ``field__length`` in check constraints (ISO country codes, SHA-256 hex digests).
models.CharField.register_lookup(Length)

from assays.models.assessments import (  # noqa: E402
    AssessmentStatus,
    Flag,
    FlagKind,
    FlagStatus,
    LotAssessment,
)
from assays.models.audit import AuditAction, AuditEvent  # noqa: E402
from assays.models.certificates import Certificate, CertificateStatus  # noqa: E402
from assays.models.history import HISTORY_TRACKED  # noqa: E402
from assays.models.lots import (  # noqa: E402
    FeedstockType,
    Lot,
    LotAllocation,
    LotInput,
    LotKind,
    LotStatus,
    MagnetChemistry,
)
from assays.models.ops import WorkerHeartbeat  # noqa: E402
from assays.models.qc import (  # noqa: E402
    CalibrationNominal,
    ControlBaseline,
    ControlSeries,
    QcCheck,
    QcEvaluation,
    QcStandard,
    QcStandardKind,
    QcStandardValue,
    QcWaiver,
    ResultAcceptance,
    RulePack,
)
from assays.models.reference import (  # noqa: E402
    Analyte,
    Element,
    Oxide,
    PlasmaView,
    Product,
    Specification,
    SpecificationStatus,
    Technique,
)
from assays.models.runs import (  # noqa: E402
    Acquisition,
    Basis,
    CertifiedValue,
    ChannelRole,
    Instrument,
    InternalStandardReading,
    LabelMatchKind,
    Measurement,
    Method,
    MethodChannel,
    QcLabelPattern,
    QcRole,
    Qualifier,
    ReferenceMaterial,
    Run,
    RunStatus,
)
from assays.models.samples import CustodyEvent, CustodyEventKind, Sample, SampleStatus, SampleType  # noqa: E402
from assays.models.sites import Partner, PartnerKind, PartnerMembership, Site, SiteMembership  # noqa: E402

__all__ = [
    "HISTORY_TRACKED",
    "Acquisition",
    "Analyte",
    "AssessmentStatus",
    "AuditAction",
    "AuditEvent",
    "Basis",
    "CalibrationNominal",
    "Certificate",
    "CertificateStatus",
    "CertifiedValue",
    "ChannelRole",
    "ControlBaseline",
    "ControlSeries",
    "CustodyEvent",
    "CustodyEventKind",
    "Element",
    "FeedstockType",
    "Flag",
    "FlagKind",
    "FlagStatus",
    "Instrument",
    "InternalStandardReading",
    "LabelMatchKind",
    "Lot",
    "LotAllocation",
    "LotAssessment",
    "LotInput",
    "LotKind",
    "LotStatus",
    "MagnetChemistry",
    "Measurement",
    "Method",
    "MethodChannel",
    "Oxide",
    "Partner",
    "PartnerKind",
    "PartnerMembership",
    "PlasmaView",
    "Product",
    "QcCheck",
    "QcEvaluation",
    "QcLabelPattern",
    "QcRole",
    "QcStandard",
    "QcStandardKind",
    "QcStandardValue",
    "QcWaiver",
    "Qualifier",
    "ReferenceMaterial",
    "ResultAcceptance",
    "RulePack",
    "Run",
    "RunStatus",
    "Sample",
    "SampleStatus",
    "SampleType",
    "Site",
    "SiteMembership",
    "Specification",
    "SpecificationStatus",
    "Technique",
    "WorkerHeartbeat",
]
