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
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    patch = schema["paths"]["/api/v1/cases/{reference}/encounters/{encounter_id}/"]["patch"]
    assert "409" in patch["responses"]
