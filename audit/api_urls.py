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
    path("audit/tree-head/", api.TreeHeadApi.as_view(), name="audit-tree-head"),
    path("audit/proof/inclusion/", api.InclusionProofApi.as_view(), name="audit-proof-inclusion"),
    path(
        "audit/proof/consistency/",
        api.ConsistencyProofApi.as_view(),
        name="audit-proof-consistency",
    ),
]
