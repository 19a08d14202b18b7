from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from access import views as access_views
from access.admin import site as admin_site
from access.views import HavenLoginView
from cases.api.urls import api_v1

urlpatterns = [
    path("login/", HavenLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/2fa/", access_views.second_factor, name="2fa"),
    path("account/2fa/setup/", access_views.second_factor_setup, name="2fa-setup"),
    path("account/confidentiality/", access_views.confidentiality, name="confidentiality"),
    path("account/password/", access_views.HavenPasswordChangeView.as_view(), name="password"),
    path("admin/", admin_site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/", include(api_v1)),
    path("audit/", include("audit.urls")),
    path("", include("cases.urls")),
]

handler400 = "cases.views.errors.bad_request"
handler403 = "cases.views.errors.permission_denied"
handler404 = "cases.views.errors.page_not_found"
handler500 = "cases.views.errors.server_error"
