from __future__ import annotations

from django.urls import path

from audit import api

urlpatterns = [
    path(
        "cases/<str:reference>/access-report/",
        api.CaseAccessReportApi.as_view(),
        name="access-report",
    ),
    path("audit/events/", api.AuditEventsApi.as_view(), name="audit-events"),
    path("audit/verify/", api.AuditVerifyApi.as_view(), name="audit-verify"),
]
