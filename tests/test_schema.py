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
        "/api/v1/cases/{reference}/close/",
        "/api/v1/cases/{reference}/reopen/",
        "/api/v1/cases/{reference}/identity/history/",
        "/api/v1/tasks/",
        "/api/v1/cases/{reference}/plan/",
        "/api/v1/cases/{reference}/services/",
        "/api/v1/cases/{reference}/services/{service_id}/",
        "/api/v1/cases/{reference}/attachments/",
        "/api/v1/cases/{reference}/attachments/{attachment_id}/",
    } <= set(schema["paths"])
    assert "patch" in schema["paths"]["/api/v1/cases/{reference}/"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    patch = schema["paths"]["/api/v1/cases/{reference}/encounters/{encounter_id}/"]["patch"]
    assert "409" in patch["responses"]


def test_the_schema_generates_without_warnings():
    """Keeps the published contract true to the code (and `check --deploy` clean)."""
    from io import StringIO

    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO())


# What generated clients already name: each release may add, never rename or remove.
PUBLISHED_COMPONENTS = {
    "AcceptInputRequest", "BreakGlassInputRequest", "BundleTypeEnum", "CaseCreateInputRequest",
    "CaseCreatedOutput", "CaseListOutput", "CaseOutput", "CaseSearchInputRequest",
    "ClinicalEncounterOutput", "ClinicalEntryRequest", "ClinicalInputRequest",
    "ClinicalItemOutput", "ClinicalOutput", "ConfidentialityState", "Conflict",
    "ConsentInputRequest", "ConsentInputScopeEnum", "ConsentOutput", "DeclinedEnum",
    "DuplicatesOutput", "EncounterInputRequest", "Error", "EventOutput", "FormatEnum",
    "GrantInputRequest", "GrantOutput", "IdentityInputRequest", "IdentityOutput", "KindEnum",
    "LanguageEnum", "MeOutput", "MedicationEntryRequest", "MethodEnum", "NullEnum",
    "OrganisationInputRequest", "OrganisationOutput", "PaginatedCaseList",
    "PaginatedClinicalEncounterList", "PaginatedConsentList", "PaginatedEventList",
    "PaginatedGrantList", "PaginatedOrganisationList", "PatchedEncounterPatchInputRequest",
    "PatchedIdentityPatchInputRequest", "PatchedMeInputRequest", "ReferralCreatedOutput",
    "ReferralInputRequest", "ReferralInputScopeEnum", "RiskLevelEnum", "RulesOutput",
    "SectionsEnum", "ServicesProvidedEnum", "SexEnum", "StatusEnum", "StorageConsentInputRequest",
    "TraffickingTypesEnum", "VerifyOutput", "WithdrawInputRequest",
}  # fmt: skip
PUBLISHED_OPERATIONS = {
    "audit_events", "audit_verify", "break_glass", "case_access_report", "cases_create",
    "cases_list", "cases_retrieve", "cases_search", "cases_search_post",
    "confidentiality_accept", "confidentiality_retrieve", "consents_create", "consents_list",
    "consents_withdraw", "encounters_create", "encounters_list", "encounters_retrieve",
    "encounters_update", "grants_create", "grants_list", "grants_revoke", "identity_rectify",
    "identity_reveal", "me_retrieve", "me_update", "organisations_create",
    "organisations_list", "referrals_create", "referrals_download",
}  # fmt: skip


def test_names_a_generated_client_uses_stay():
    """A client generated from an earlier schema keeps compiling: no component or
    operation it names is renamed or removed, and no property of them disappears."""
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    assert PUBLISHED_COMPONENTS <= set(components)
    operations = {
        operation["operationId"]
        for path in schema["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert PUBLISHED_OPERATIONS <= operations
    assert "follow_up" in components["KindEnum"]["enum"]  # still the encounter's kind
    assert "active" in components["StatusEnum"]["enum"]  # still a medication's status
