"""/api/v1/: versioned so that a breaking change becomes /api/v2/ beside it, never a surprise."""

from django.urls import URLPattern, URLResolver, path

from assays.api import views

app_name = "api"
urlpatterns: list[URLPattern | URLResolver] = [
    path("lots/", views.LotListView.as_view(), name="lot-list"),
    # ``path``: a lot code is free text and may hold a slash (as on the web pages); sample codes cannot.
    path("lots/<path:code>/", views.LotDetailView.as_view(), name="lot-detail"),
    path("samples/", views.SampleListView.as_view(), name="sample-list"),
    path("samples/<str:code>/", views.SampleDetailView.as_view(), name="sample-detail"),
    path("runs/", views.RunListView.as_view(), name="run-list"),
    path("runs/<int:id>/", views.RunDetailView.as_view(), name="run-detail"),
]
