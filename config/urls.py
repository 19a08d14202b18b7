from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from access.views import HavenLoginView
from cases.api.urls import api_v1

urlpatterns = [
    path("login/", HavenLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/", include(api_v1)),
    path("", include("cases.urls")),
]

handler400 = "cases.views.errors.bad_request"
handler403 = "cases.views.errors.permission_denied"
handler404 = "cases.views.errors.page_not_found"
handler500 = "cases.views.errors.server_error"
