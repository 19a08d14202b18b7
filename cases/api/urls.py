from __future__ import annotations

from django.urls import path

import haven.converters  # noqa: F401  (registers <id:...>)
from cases.api import aftercare, care, views

urlpatterns = [
    path("cases/", views.CaseListCreateApi.as_view(), name="cases"),
    path("cases/search/", views.CaseSearchApi.as_view(), name="case-search"),
    path("cases/<str:reference>/", views.CaseDetailApi.as_view(), name="case"),
    path("cases/<str:reference>/close/", views.CaseCloseApi.as_view(), name="case-close"),
    path("cases/<str:reference>/reopen/", views.CaseReopenApi.as_view(), name="case-reopen"),
    path("cases/<str:reference>/legal-hold/", aftercare.LegalHoldApi.as_view(), name="legal-hold"),
    path(
        "cases/<str:reference>/legal-hold/release/",
        aftercare.LegalHoldReleaseApi.as_view(),
        name="legal-hold-release",
    ),
    path(
        "cases/<str:reference>/requests/", aftercare.CaseRequestsApi.as_view(), name="case-requests"
    ),
    path("requests/", aftercare.RequestListApi.as_view(), name="requests"),
    path("statistics/", aftercare.StatisticsApi.as_view(), name="statistics"),
    path("processing/", aftercare.ProcessingApi.as_view(), name="processing"),
    path(
        "cases/<str:reference>/transfer-requests/",
        aftercare.CaseTransferApi.as_view(),
        name="case-transfer-requests",
    ),
    path("transfer-requests/", aftercare.TransferListApi.as_view(), name="transfer-requests"),
    path(
        "transfer-requests/<uuid:request_id>/decide/",
        aftercare.TransferDecideApi.as_view(),
        name="transfer-decide",
    ),
    path("requests/<uuid:request_id>/", aftercare.RequestDetailApi.as_view(), name="request"),
    path(
        "requests/<uuid:request_id>/decide/",
        aftercare.RequestDecideApi.as_view(),
        name="request-decide",
    ),
    path(
        "requests/<uuid:request_id>/download/",
        aftercare.RequestDownloadApi.as_view(),
        name="request-download",
    ),
    path("cases/<str:reference>/identity/", views.IdentityApi.as_view(), name="identity"),
    path(
        "cases/<str:reference>/identity/history/",
        views.IdentityHistoryApi.as_view(),
        name="identity-history",
    ),
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
        "cases/<str:reference>/encounters/<uuid:encounter_id>/history/",
        views.EncounterHistoryApi.as_view(),
        name="encounter-history",
    ),
    path("tasks/", care.DueApi.as_view(), name="tasks"),
    path("cases/<str:reference>/plan/", care.PlanApi.as_view(), name="plan"),
    path("cases/<str:reference>/plan/<uuid:goal_id>/", care.GoalApi.as_view(), name="goal"),
    path("cases/<str:reference>/services/", care.ServicesApi.as_view(), name="services"),
    path(
        "cases/<str:reference>/services/<uuid:service_id>/",
        care.ServiceApi.as_view(),
        name="service",
    ),
    path("cases/<str:reference>/tasks/", care.CaseTasksApi.as_view(), name="case-tasks"),
    path(
        "cases/<str:reference>/tasks/<uuid:task_id>/",
        care.CaseTaskApi.as_view(),
        name="case-task",
    ),
    path(
        "cases/<str:reference>/attachments/",
        care.AttachmentsApi.as_view(),
        name="attachments",
    ),
    path(
        "cases/<str:reference>/attachments/<uuid:attachment_id>/",
        care.AttachmentApi.as_view(),
        name="attachment",
    ),
    path(
        "cases/<str:reference>/referrals/<uuid:referral_id>/",
        care.ReferralStatusApi.as_view(),
        name="referral",
    ),
    path(
        "cases/<str:reference>/grants/",
        views.GrantListCreateApi.as_view(),
        name="grants",
    ),
    path(
        "cases/<str:reference>/grants/<id:grant_id>/",
        views.GrantDetailApi.as_view(),
        name="grant",
    ),
    path(
        "cases/<str:reference>/break-glass/",
        views.BreakGlassApi.as_view(),
        name="break-glass",
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
]
