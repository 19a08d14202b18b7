"""The OpenAPI schema is generated from the code and covers the contract's paths."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_schema_lists_the_contract_paths_with_bearer_auth():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert {
        "/api/v1/cases/",
        "/api/v1/cases/{reference}/",
        "/api/v1/cases/{reference}/identity/",
        "/api/v1/cases/{reference}/encounters/",
        "/api/v1/cases/{reference}/encounters/{encounter_id}/",
        "/api/v1/cases/search/",
        "/api/v1/organisations/",
        "/api/v1/cases/{reference}/consents/",
        "/api/v1/cases/{reference}/consents/{consent_id}/withdraw/",
        "/api/v1/cases/{reference}/grants/",
        "/api/v1/cases/{reference}/grants/{grant_id}/",
        "/api/v1/cases/{reference}/break-glass/",
        "/api/v1/cases/{reference}/referrals/",
        "/api/v1/referrals/{referral_id}/download/",
        "/api/v1/cases/{reference}/access-report/",
        "/api/v1/audit/events/",
        "/api/v1/audit/verify/",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    patch = schema["paths"]["/api/v1/cases/{reference}/encounters/{encounter_id}/"]["patch"]
    assert "409" in patch["responses"]


def test_the_schema_generates_without_warnings():
    """Keeps the published contract true to the code (and `check --deploy` clean)."""
    from io import StringIO

    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO())
