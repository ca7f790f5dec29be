from django.urls import path

from assays.web import (
    account,
    certificates,
    manual_entry,
    methods,
    partner_keys,
    portal,
    qa,
    registration,
    run_qc,
    runs,
    specifications,
    views,
    webhooks,
)

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
    # The partner portal (a partner user's own lots, results and documents; docs/partners.md).
    path("portal/", portal.portal_lots, name="portal"),
    path("portal/lots/<path:code>/", portal.portal_lot, name="portal_lot"),
    # Lot codes may hold a slash: the results file has its own prefix, as labels/ does.
    path("portal/lot-results/<path:code>/", portal.portal_lot_results_csv, name="portal_lot_results_csv"),
    path("portal/certificates/", portal.portal_certificates, name="portal_certificates"),
    path("portal/certificates/<int:pk>/pdf/", portal.portal_document_pdf, name="portal_document_pdf"),
    path("portal/certificates/<int:pk>/data.json", portal.portal_document_json, name="portal_document_json"),
    path("portal/certificates/<int:pk>/data.csv", portal.portal_document_csv, name="portal_document_csv"),
    # Partners and their API keys: Lab admins only.
    path("partners/", partner_keys.partner_list, name="partner_list"),
    path("partners/<str:code>/keys/", partner_keys.partner_keys_page, name="partner_keys"),
    path("partners/<str:code>/keys/<str:prefix>/revoke/", partner_keys.partner_key_revoke, name="partner_key_revoke"),
    # Webhooks: a partner user's own (portal), a Lab admin's for any partner (docs/webhooks.md).
    path("portal/webhooks/", webhooks.portal_webhooks, name="portal_webhooks"),
    path("portal/webhooks/<int:pk>/disable/", webhooks.portal_webhook_disable, name="portal_webhook_disable"),
    path("portal/webhooks/deliveries/<int:pk>/resend/", webhooks.portal_webhook_resend, name="portal_webhook_resend"),
    path("partners/<str:code>/webhooks/", webhooks.partner_webhooks, name="partner_webhooks"),
    path("partners/<str:code>/webhooks/<int:pk>/disable/", webhooks.partner_webhook_disable, name="partner_webhook_disable"),
    path("partners/<str:code>/webhooks/deliveries/<int:pk>/resend/", webhooks.partner_webhook_resend, name="partner_webhook_resend"),
]
