from django.urls import path

from assays.web import views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("lots/", views.lot_list, name="lot_list"),
    # ``path``: a lot code is free text and may hold a slash; it must still round-trip.
    path("lots/<path:code>/", views.lot_detail_page, name="lot_detail"),
]
