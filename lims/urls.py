from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from assays.web.verify import verify_certificate

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Public (no login): the QR code on a certificate. Only a well-formed token matches; anything
    # else is the same plain 404 as an unknown token.
    re_path(r"^verify/(?P<token>[A-Za-z0-9_-]{43})/$", verify_certificate, name="verify"),
    path("api/v1/", include("assays.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("assays.web.urls")),
]

# A URL no pattern takes: JSON under /api/, the 404 page elsewhere.
handler404 = "assays.api.errors.not_found"
