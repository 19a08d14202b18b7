"""Invariant 8: bad input gets a clear 4xx with a stable code and changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.utils import timezone

from access.services import grant_assign
from audit.models import AccessEvent
from cases.models import Case, Encounter, Identity, Revision, Survivor
from tests.factories import add_encounter, open_case

pytestmark = pytest.mark.django_db

TWO_MB = "x" * (2 * 1024 * 1024)
TOMORROW = "<tomorrow>"  # worked out when the test runs: a suite can cross midnight
NOW = timezone.now().isoformat()


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Survivor, Identity, Case, Encounter, Revision))


@pytest.fixture
def unchanged() -> Iterator[None]:
    before = _counts()
    yield
    assert _counts() == before, "bad input changed the database"


INTAKE_CASES = [
    ("not an object", ["a", "list"], "invalid"),
    ("wrong type for text", {"summary": 42}, "invalid"),
    ("wrong type for a list", {"trafficking_types": "labour"}, "invalid"),
    ("unknown trafficking type", {"trafficking_types": ["smuggling"]}, "invalid"),
    ("unknown risk", {"risk_level": "extreme"}, "invalid"),
    ("unknown field", {"identity": {"given_nam": "typo"}}, "invalid"),
    ("impossible date", {"identity": {"date_of_birth": "1990-02-30"}}, "invalid"),
    ("future birth date", {"identity": {"date_of_birth": TOMORROW}}, "invalid"),
    ("very old birth date", {"identity": {"date_of_birth": "1812-01-01"}}, "invalid"),
    ("2 MB summary", {"summary": TWO_MB}, "invalid"),
    ("2 MB name", {"identity": {"given_name": TWO_MB}}, "invalid"),
    ("NUL byte", {"summary": "abc\x00def"}, "invalid"),
    ("NUL in a list", {"identity": {"aliases": ["a\x00b"]}}, "invalid"),
    ("given and declined", {"identity": {"phone": "1", "declined": ["phone"]}}, "invalid"),
    ("unknown declined field", {"identity": {"declined": ["shoe_size"]}}, "invalid"),
    ("bad email", {"identity": {"email": "not-an-email"}}, "invalid"),
]


@pytest.mark.parametrize(
    ("label", "payload", "code"), INTAKE_CASES, ids=[c[0] for c in INTAKE_CASES]
)
def test_intake_refuses_bad_input(api, caseworker, unchanged, label, payload, code):
    if payload == {"identity": {"date_of_birth": TOMORROW}}:
        tomorrow = timezone.localdate() + dt.timedelta(days=1)
        payload = {"identity": {"date_of_birth": tomorrow.isoformat()}}
    response = api(caseworker).post("/api/v1/cases/", payload, format="json")
    assert response.status_code == 400, (label, response.content)
    assert response.json()["code"] == code
    assert "detail" in response.json()


def test_malformed_json_is_refused(api, caseworker, unchanged):
    response = api(caseworker).post(
        "/api/v1/cases/", data='{"summary": "unterminated', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_non_json_body_is_refused(api, caseworker, unchanged):
    response = api(caseworker).post("/api/v1/cases/", data="summary=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_an_oversized_body_is_refused_before_parsing(api, caseworker, unchanged):
    body = '{"summary": "' + "x" * (5 * 1024 * 1024) + '"}'
    response = api(caseworker).post("/api/v1/cases/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_errors_do_not_echo_the_submitted_value(api, caseworker):
    """Standing rule 2: error answers carry codes and messages, never the input."""
    response = api(caseworker).post(
        "/api/v1/cases/",
        {"identity": {"date_of_birth": "2999-01-01", "given_name": 7}},
        format="json",
    )
    assert response.status_code == 400
    assert "2999" not in response.content.decode()


ENCOUNTER_CASES = [
    ("missing kind", {"occurred_at": NOW}, "invalid"),
    ("unknown kind", {"occurred_at": NOW, "kind": "party"}, "invalid"),
    ("impossible time", {"occurred_at": "2026-13-40T25:00", "kind": "phone"}, "invalid"),
    ("future encounter", {"occurred_at": "2999-01-01T10:00:00Z", "kind": "phone"}, "invalid"),
    (
        "boolean as string",
        {"occurred_at": NOW, "kind": "phone", "interpreter_used": "yes"},
        "invalid",
    ),
    (
        "unknown service",
        {"occurred_at": NOW, "kind": "phone", "services_provided": ["spa"]},
        "invalid",
    ),
    ("2 MB notes", {"occurred_at": NOW, "kind": "phone", "notes": TWO_MB}, "invalid"),
    ("NUL in notes", {"occurred_at": NOW, "kind": "phone", "notes": "a\x00"}, "invalid"),
    (
        "follow-up far away",
        {"occurred_at": NOW, "kind": "phone", "follow_up_date": "2099-01-01"},
        "invalid",
    ),
]


@pytest.mark.parametrize(
    ("label", "payload", "code"), ENCOUNTER_CASES, ids=[c[0] for c in ENCOUNTER_CASES]
)
def test_encounter_refuses_bad_input(api, caseworker, label, payload, code):
    case = open_case(caseworker)
    before = _counts()
    response = api(caseworker).post(
        f"/api/v1/cases/{case.reference}/encounters/", payload, format="json"
    )
    assert response.status_code == 400, (label, response.content)
    assert response.json()["code"] == code
    assert _counts() == before


def test_a_bad_clinical_block_is_refused_for_a_clinician(api, caseworker, clinician):
    case = open_case(caseworker)
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    before = _counts()
    response = api(clinician).post(
        f"/api/v1/cases/{case.reference}/encounters/",
        {"occurred_at": NOW, "kind": "medical", "clinical": {"conditions": [{"code": "x"}]}},
        format="json",
    )
    assert response.status_code == 400
    assert _counts() == before


def test_a_bad_version_is_refused(api, caseworker):
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case)
    url = f"/api/v1/cases/{case.reference}/encounters/{encounter.pk}/"
    for version in ("1", 1.5, None, -1, True):
        response = api(caseworker).patch(url, {"notes": "x", "version": version}, format="json")
        assert response.status_code == 400, version
    assert Encounter.objects.select_related("case__survivor").get(pk=encounter.pk).version == 1


def test_unknown_references_get_404_and_a_denied_event(api, caseworker):
    for reference in ("HV-0000-0000", "not-a-reference", "HV-7K4Q-M2XE"):
        response = api(caseworker).get(f"/api/v1/cases/{reference}/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    denied = AccessEvent.objects.filter(action="case.view", outcome="denied")
    assert denied.count() == 3
    assert "not-a-reference" not in {e.case_reference for e in denied}
