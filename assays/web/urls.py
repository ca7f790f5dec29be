from django.urls import path

from assays.web import account, manual_entry, methods, registration, run_qc, runs, views

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
]
