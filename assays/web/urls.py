from django.urls import path

from assays.web import account, certificates, manual_entry, methods, qa, registration, run_qc, runs, specifications, views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("account/authenticator/", account.totp_setup, name="totp_setup"),
    path("lots/", views.lot_list, name="lot_list"),
    # ``path``: a lot code is free text and may hold a slash; it must still round-trip.
    path("lots/<path:code>/", views.lot_detail_page, name="lot_detail"),
    path("samples/register/", registration.register_samples, name="register_samples"),
    path("samples/register/preview/", registration.preview_sheet, name="preview_sheet"),
    path("samples/register/confirm/", registration.confirm_sheet, name="confirm_sheet"),
    path("samples/register/template.csv", registration.sheet_template, name="sample_sheet_template"),
    # Not under lots/: that pattern takes any path, so lots/X/labels/ would be the page of a lot "X/labels".
    path("labels/<path:code>/", registration.lot_labels, name="lot_labels"),
    path("runs/", runs.run_list_page, name="run_list"),
    path("runs/import/", runs.run_upload, name="run_upload"),
    path("runs/import/preview/", runs.run_preview, name="run_preview"),
    path("runs/import/confirm/", runs.run_confirm, name="run_confirm"),
    path("runs/<int:pk>/", runs.run_detail, name="run_detail"),
    path("runs/<int:pk>/qc/checks/<int:check_id>/waive/", run_qc.run_qc_waive, name="run_qc_waive"),
    path("runs/<int:pk>/qc/reject/", run_qc.run_qc_reject, name="run_qc_reject"),
    path("runs/<int:pk>/qc/evaluate/", run_qc.run_qc_evaluate, name="run_qc_evaluate"),
    # ``path``: a method code is free text, like a lot code.
    path("methods/<path:code>/", methods.method_detail, name="method_detail"),
    # Lot codes may hold a slash, so the row partial has its own prefix rather than manual/<code>/row/.
    path("manual/<path:code>/", manual_entry.manual_entry, name="manual_entry"),
    path("manual-row/<path:code>/", manual_entry.manual_entry_row, name="manual_entry_row"),
    path("specifications/", specifications.specification_list, name="specification_list"),
    # ``path``: a product code is free text, like a lot code; the POST has its own prefix for the same reason.
    path("specifications/<path:code>/", specifications.specification_product, name="specification_product"),
    path("reassess/<path:code>/", specifications.reassess_product, name="reassess_product"),
    path("reassessments/<int:pk>/progress/", specifications.reassessment_progress, name="reassessment_progress"),
    path("qa/", qa.qa_dashboard_page, name="qa_dashboard"),
    path("qa/flags/<int:flag_id>/", qa.qa_flag_detail, name="qa_flag_detail"),
    path("qa/flags/<int:flag_id>/acknowledge/", qa.qa_flag_acknowledge, name="qa_flag_acknowledge"),
    path("qa/flags/<int:flag_id>/resolve/", qa.qa_flag_resolve, name="qa_flag_resolve"),
    # Lot codes may hold a slash: each lot action has its own prefix, as labels/ and manual-row/ do.
    path("qa/lot-flags/<path:code>/", qa.qa_lot_flags, name="qa_lot_flags"),
    path("qa/release-hold/<path:code>/", qa.qa_lot_release, name="qa_lot_release"),
    path("qa/reject-lot/<path:code>/", qa.qa_lot_reject, name="qa_lot_reject"),
    # Lot codes may hold a slash: the review (and its signing POST) has its own prefix, as labels/ does.
    path("review/<path:code>/", certificates.lot_review_page, name="lot_review"),
    path("certificates/", certificates.certificate_list_page, name="certificate_list"),
    path("certificates/bulk/", certificates.certificate_bulk, name="certificate_bulk"),
    path("certificates/batches/<int:pk>/", certificates.certificate_batch, name="certificate_batch"),
    path("certificates/<int:pk>/", certificates.certificate_detail, name="certificate_detail"),
    path("certificates/<int:pk>/pdf/", certificates.certificate_pdf, name="certificate_pdf"),
    path("certificates/<int:pk>/amend/", certificates.certificate_amend, name="certificate_amend"),
    path("certificates/<int:pk>/revoke/", certificates.certificate_revoke_page, name="certificate_revoke"),
    path("certificates/<int:pk>/retry-render/", certificates.certificate_retry_render, name="certificate_retry_render"),
]
