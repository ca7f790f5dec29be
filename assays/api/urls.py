"""/api/v1/: versioned so that a breaking change becomes /api/v2/ beside it, never a surprise."""

from django.urls import URLPattern, URLResolver, path

from assays.api import assessment_views, certificate_views, flag_views, partner_views, qc_views, reassessment_views, views

app_name = "api"
urlpatterns: list[URLPattern | URLResolver] = [
    path("lots/", views.LotListView.as_view(), name="lot-list"),
    # Before lot-detail, whose ``path`` would otherwise take "X/assessment" as a lot code (so a lot
    # whose own code ends in "/assessment" cannot be read at lots/<code>/; none is expected).
    path("lots/<path:code>/assessment/", assessment_views.LotAssessmentView.as_view(), name="lot-assessment"),
    # Likewise before lot-detail: QA's hold decisions (POST only).
    path("lots/<path:code>/release-hold/", flag_views.LotReleaseHoldView.as_view(), name="lot-release-hold"),
    path("lots/<path:code>/reject/", flag_views.LotRejectView.as_view(), name="lot-reject"),
    # ``path``: a lot code is free text and may hold a slash (as on the web pages); sample codes cannot.
    path("lots/<path:code>/", views.LotDetailView.as_view(), name="lot-detail"),
    path("samples/", views.SampleListView.as_view(), name="sample-list"),
    path("samples/<str:code>/", views.SampleDetailView.as_view(), name="sample-detail"),
    path("flags/", assessment_views.FlagListView.as_view(), name="flag-list"),
    path("flags/<int:id>/", flag_views.FlagDetailView.as_view(), name="flag-detail"),
    path("flags/<int:id>/acknowledge/", flag_views.FlagAcknowledgeView.as_view(), name="flag-acknowledge"),
    path("flags/<int:id>/resolve/", flag_views.FlagResolveView.as_view(), name="flag-resolve"),
    path("runs/", views.RunListView.as_view(), name="run-list"),
    path("runs/<int:id>/", views.RunDetailView.as_view(), name="run-detail"),
    path("runs/<int:id>/qc/", qc_views.RunQcView.as_view(), name="run-qc"),
    path("runs/<int:id>/qc/checks/<int:check_id>/waive/", qc_views.QcCheckWaiveView.as_view(), name="run-qc-check-waive"),
    path("runs/<int:id>/reject/", qc_views.RunRejectView.as_view(), name="run-reject"),
    path("runs/<int:id>/evaluate/", qc_views.RunEvaluateView.as_view(), name="run-evaluate"),
    # ``path``: a method code is free text, like a lot code.
    path("methods/<path:code>/control-charts/", qc_views.MethodControlChartsView.as_view(), name="method-control-charts"),
    # ``path``: a product code is free text, like a lot code.
    path("products/<path:code>/reassess/", reassessment_views.ProductReassessView.as_view(), name="product-reassess"),
    path("reassessments/<int:id>/", reassessment_views.ReassessmentDetailView.as_view(), name="reassessment-detail"),
    path("certificates/", certificate_views.CertificateListView.as_view(), name="certificate-list"),
    path("certificates/<int:id>/", certificate_views.CertificateDetailView.as_view(), name="certificate-detail"),
    path("certificates/<int:id>/pdf/", certificate_views.CertificatePdfView.as_view(), name="certificate-pdf"),
    # The certified data: JSON at data/, the results as CSV at data.csv (a file name, not ?format=,
    # which DRF keeps for choosing a renderer); both byte for byte the PDF's attachments.
    path("certificates/<int:id>/data/", certificate_views.CertificateDataView.as_view(), name="certificate-data"),
    path("certificates/<int:id>/data.csv", certificate_views.CertificateDataCsvView.as_view(), name="certificate-data-csv"),
    # The partner API: a partner's own lots, released results and documents (key or partner sign-in).
    path("partner/lots/", partner_views.PartnerLotListView.as_view(), name="partner-lot-list"),
    # Before partner-lot-detail, whose ``path`` would otherwise take "X/results/" as a lot code.
    path("partner/lots/<path:code>/results/", partner_views.PartnerLotResultsView.as_view(), name="partner-lot-results"),
    path("partner/lots/<path:code>/results.csv", partner_views.PartnerLotResultsCsvView.as_view(), name="partner-lot-results-csv"),
    path("partner/lots/<path:code>/", partner_views.PartnerLotDetailView.as_view(), name="partner-lot-detail"),
    path("partner/results/", partner_views.PartnerResultListView.as_view(), name="partner-result-list"),
    path("partner/certificates/", partner_views.PartnerDocumentListView.as_view(), name="partner-certificate-list"),
    path("partner/certificates/<int:id>/", partner_views.PartnerDocumentDetailView.as_view(), name="partner-certificate-detail"),
    path("partner/certificates/<int:id>/pdf/", partner_views.PartnerDocumentPdfView.as_view(), name="partner-certificate-pdf"),
    path("partner/certificates/<int:id>/data/", partner_views.PartnerDocumentDataView.as_view(), name="partner-certificate-data"),
    path("partner/certificates/<int:id>/data.csv", partner_views.PartnerDocumentDataCsvView.as_view(), name="partner-certificate-data-csv"),
    path(
        "partner/certificates/<int:id>/verification/",
        partner_views.PartnerDocumentVerificationView.as_view(),
        name="partner-certificate-verification",
    ),
]
