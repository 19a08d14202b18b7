from __future__ import annotations

from django.urls import path

from audit import api as audit_api
from cases.api import views

api_v1 = (
    [
        path("cases/", views.CaseListCreateApi.as_view(), name="cases"),
        path("cases/search/", views.CaseSearchApi.as_view(), name="case-search"),
        path("cases/<str:reference>/", views.CaseDetailApi.as_view(), name="case"),
        path("cases/<str:reference>/identity/", views.IdentityApi.as_view(), name="identity"),
        path(
            "cases/<str:reference>/encounters/",
            views.EncounterListCreateApi.as_view(),
            name="encounters",
        ),
        path(
            "cases/<str:reference>/encounters/<uuid:encounter_id>/",
            views.EncounterDetailApi.as_view(),
            name="encounter",
        ),
        path(
            "cases/<str:reference>/grants/",
            views.GrantListCreateApi.as_view(),
            name="grants",
        ),
        path(
            "cases/<str:reference>/grants/<int:grant_id>/",
            views.GrantDetailApi.as_view(),
            name="grant",
        ),
        path(
            "cases/<str:reference>/break-glass/",
            views.BreakGlassApi.as_view(),
            name="break-glass",
        ),
        path(
            "cases/<str:reference>/access-report/",
            audit_api.CaseAccessReportApi.as_view(),
            name="access-report",
        ),
        path("organisations/", views.OrganisationListCreateApi.as_view(), name="organisations"),
        path(
            "cases/<str:reference>/consents/",
            views.ConsentListCreateApi.as_view(),
            name="consents",
        ),
        path(
            "cases/<str:reference>/consents/<uuid:consent_id>/withdraw/",
            views.ConsentWithdrawApi.as_view(),
            name="consent-withdraw",
        ),
        path(
            "cases/<str:reference>/referrals/",
            views.ReferralCreateApi.as_view(),
            name="referrals",
        ),
        path(
            "referrals/<uuid:referral_id>/download/",
            views.ReferralDownloadApi.as_view(),
            name="referral-download",
        ),
        path("audit/events/", audit_api.AuditEventsApi.as_view(), name="audit-events"),
        path("audit/verify/", audit_api.AuditVerifyApi.as_view(), name="audit-verify"),
    ],
    "api",
)
