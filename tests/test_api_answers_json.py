"""Every path under /api/ answers JSON with a stable code, whatever goes wrong: unknown
paths, bad path parameters, wrong methods, server errors, and inputs that used to
escape as 500s (invariant 8)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.factories import open_case

pytestmark = pytest.mark.django_db


def _assert_json(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/v1/",
        "/api/v2/cases/",
        "/api/v1/nothing-here/",
        "/api/v1/cases/HV-0000-0000/encounters/not-a-uuid/",
        "/api/v1/cases/HV-0000-0000/consents/1234/withdraw/",
        "/api/v1/cases/HV-0000-0000/grants/not-a-number/",
        "/api/v1/referrals/zzz/download/",
        "/api/v1/cases",  # no trailing slash: no HTML redirect either
    ],
)
def test_unknown_api_paths_answer_json_404(api, caseworker, path):
    _assert_json(api(caseworker).get(path), 404, "not_found")
    _assert_json(api(None).get(path), 404, "not_found")
    _assert_json(api(caseworker).post(path, {}, format="json"), 404, "not_found")


def test_an_id_too_large_for_the_database_is_a_json_404_not_a_500(api, supervisor, caseworker):
    case = open_case(caseworker)
    response = api(supervisor).delete(
        f"/api/v1/cases/{case.reference}/grants/99999999999999999999999/"
    )
    _assert_json(response, 404, "not_found")


def test_a_wrong_method_answers_json_405(api, caseworker):
    response = api(caseworker).put("/api/v1/cases/", {}, format="json")
    _assert_json(response, 405, "method_not_allowed")


def test_a_server_error_under_api_answers_json(api, caseworker, monkeypatch):
    from cases import selectors

    def boom(**kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(selectors, "case_list_for", boom)
    client = api(caseworker)
    client.raise_request_exception = False
    _assert_json(client.get("/api/v1/cases/"), 500, "server_error")


def test_pages_render_even_when_static_files_were_never_collected(settings, caseworker):
    """A missing manifest entry must not turn every error page into a bare 500."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "config.storage.StaticStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    client = Client()
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"css/haven.css" in response.content


def test_json_nested_thousands_deep_is_a_parse_error(api, caseworker):
    body = "[" * 5000 + "]" * 5000
    case = open_case(caseworker)
    for path in (
        "/api/v1/cases/",
        "/api/v1/cases/search/",
        f"/api/v1/cases/{case.reference}/encounters/",
    ):
        response = api(caseworker).post(path, data=body, content_type="application/json")
        _assert_json(response, 400, "parse_error")
    nested = '{"summary": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
    response = api(caseworker).post("/api/v1/cases/", data=nested, content_type="application/json")
    _assert_json(response, 400, "parse_error")


@pytest.mark.parametrize("bad", ["9999-12-31", "0001-01-01", "99999-01-01"])
def test_extreme_dates_in_audit_filters_are_refused(api, dpo, bad):
    for name in ("until", "since"):
        response = api(dpo).get(f"/api/v1/audit/events/?{name}={bad}")
        _assert_json(response, 400, "invalid")


def test_extreme_dates_on_the_dpo_desk_do_not_break_the_page(dpo):
    from tests.helpers import web_client

    response = web_client(dpo).get("/audit/?until=9999-12-31&since=0001-01-01")
    assert response.status_code == 400
    assert b"Access log" in response.content or b"access log" in response.content.lower()


def test_the_intake_form_keeps_what_was_typed_when_a_list_is_too_long(caseworker):
    """More than 20 aliases, or one alias over 200 characters: a field error, and
    everything typed is still in the form (it used to be a TypeError and a 500)."""
    from tests.helpers import web_client

    client = web_client(caseworker)
    base = {
        "given_name": "Typed-Given-Name",
        "storage_consent_method": "verbal",
        "risk_level": "low",
        "summary": "Typed summary that must survive",
    }
    for aliases in ("\n".join(f"alias {n}" for n in range(25)), "x" * 201):
        response = client.post("/cases/new/", {**base, "aliases": aliases})
        assert response.status_code == 400
        page = response.content.decode()
        assert "Typed-Given-Name" in page and "Typed summary that must survive" in page
        assert 'id="aliases-error"' in page or "aliases" in page


def test_malformed_json_in_a_patch_changes_nothing(api, caseworker):
    case = open_case(caseworker)
    response = api(caseworker).patch(
        f"/api/v1/cases/{case.reference}/identity/",
        data=json.dumps({"nationality": "x"})[:-3],
        content_type="application/json",
    )
    _assert_json(response, 400, "parse_error")
