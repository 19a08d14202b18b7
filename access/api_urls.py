from __future__ import annotations

from django.urls import path

from access import api

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="me"),
    path("me/session/", api.SessionApi.as_view(), name="session-keepalive"),
    path("me/drafts/", api.DraftApi.as_view(), name="draft-save"),
    path("confidentiality/", api.ConfidentialityApi.as_view(), name="confidentiality"),
    path(
        "confidentiality/accept/",
        api.ConfidentialityAcceptApi.as_view(),
        name="confidentiality-accept",
    ),
]
