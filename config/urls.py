from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView

from access import api_urls as access_api
from access import passkey_views, staff_views
from access import views as access_views
from access.admin import site as admin_site
from access.views import HavenLoginView
from audit import api_urls as audit_api
from audit import urls as audit_pages
from carers import api_urls as carers_api
from carers import urls as carers_pages
from cases import urls as case_pages
from cases.api import urls as cases_api
from haven.api import api_not_found

# The API, version 1: each app contributes its own routes, under one namespace.
api_v1 = (
    [
        *access_api.urlpatterns,
        *carers_api.urlpatterns,
        *cases_api.urlpatterns,
        *audit_api.urlpatterns,
    ],
    "api",
)

# The passkey ceremonies (JSON, called by django-otp-webauthn's script), under the second
# factor's prefix: a password alone reaches them, and so does passkey sign-in.
passkey_ceremonies = (
    [
        path(
            "registration/begin/",
            passkey_views.RegisterBegin.as_view(),
            name="credential-registration-begin",
        ),
        path(
            "registration/complete/",
            passkey_views.RegisterComplete.as_view(),
            name="credential-registration-complete",
        ),
        path(
            "authentication/begin/",
            passkey_views.AuthenticateBegin.as_view(),
            name="credential-authentication-begin",
        ),
        path(
            "authentication/complete/",
            passkey_views.AuthenticateComplete.as_view(),
            name="credential-authentication-complete",
        ),
        path(
            "jsi18n/",
            login_not_required(JavaScriptCatalog.as_view(packages=["django_otp_webauthn"])),
            name="js-i18n-catalog",
        ),
    ],
    "otp_webauthn",
)

urlpatterns = [
    path("", access_views.home, name="home"),
    path("login/", HavenLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", access_views.language, name="language"),
    path("account/2fa/", access_views.second_factor, name="2fa"),
    path(
        "account/drafts/<uuid:draft_id>/discard/",
        access_views.draft_discard,
        name="draft-discard",
    ),
    path("account/2fa/setup/", access_views.second_factor_setup, name="2fa-setup"),
    path("account/2fa/passkey/", include(passkey_ceremonies)),
    path("account/passkeys/", passkey_views.passkey_list, name="passkeys"),
    path(
        "account/passkeys/<int:passkey_id>/rename/",
        passkey_views.passkey_rename,
        name="passkey-rename",
    ),
    path(
        "account/passkeys/<int:passkey_id>/remove/",
        passkey_views.passkey_remove,
        name="passkey-remove",
    ),
    path("account/confidentiality/", access_views.confidentiality, name="confidentiality"),
    path("account/password/", access_views.HavenPasswordChangeView.as_view(), name="password"),
    path("staff/", staff_views.staff_list, name="staff"),
    path("staff/sign-in-policy/", staff_views.sign_in_policy, name="staff-sign-in-policy"),
    path("staff/<str:username>/password/", staff_views.staff_password, name="staff-password"),
    path("staff/<str:username>/invite/", staff_views.staff_invite, name="staff-invite"),
    path(
        "staff/<str:username>/second-factor/",
        staff_views.staff_reset_second_factor,
        name="staff-second-factor",
    ),
    path("staff/<str:username>/unlock/", staff_views.staff_unlock, name="staff-unlock"),
    path("account/invitation/<str:token>/", staff_views.invitation, name="invitation"),
    path("admin/", admin_site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/", api_not_found),  # anything else under /api/: a JSON 404
    path("audit/", include(audit_pages)),
    path("", include(carers_pages)),
    path("", include(case_pages)),
]

handler400 = "haven.web.bad_request"
handler403 = "haven.web.permission_denied"
handler404 = "haven.web.page_not_found"
handler500 = "haven.web.server_error"
