from __future__ import annotations

from django.urls import path

import haven.converters  # noqa: F401  (registers <id:...>)
from audit import views

app_name = "audit"
urlpatterns = [
    path("", views.desk, name="desk"),
    path("events.csv", views.events_csv, name="events-csv"),
    path("cases/<str:reference>/", views.case_report, name="case-report"),
    path("staff/<str:username>/", views.user_report, name="user-report"),
    path("anomalies/", views.anomaly_queue, name="anomalies"),
    path("anomalies/<id:anomaly_id>/review/", views.anomaly_review, name="anomaly-review"),
    path("verify/", views.verify, name="verify"),
    path("verify/request/", views.verify_request, name="verify-request"),
    path("tree-head.json", views.tree_head, name="tree-head"),
]
