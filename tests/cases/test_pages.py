"""The caseworker's pages, through Django's test client."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from access.roles import Role
from audit.models import AccessEvent
from cases.models import Case, Encounter, Identity
from tests.factories import MARKERS, PASSWORD, add_encounter, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


def _login(user) -> Client:
    return web_client(user)


def test_pages_need_login():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_and_logout_are_logged(caseworker):
    client = Client()
    response = client.post("/login/", {"username": caseworker.username, "password": PASSWORD})
    assert response.status_code == 302
    assert AccessEvent.objects.filter(action="auth.login", actor_id=caseworker.pk).count() == 1
    client.post("/logout/")
    assert AccessEvent.objects.filter(action="auth.logout", actor_id=caseworker.pk).count() == 1


def test_a_failed_login_is_logged_without_the_typed_username(caseworker):
    Client().post("/login/", {"username": "typed-Secret-1", "password": "wrong"})
    event = AccessEvent.objects.get(action="auth.login", outcome="denied")
    assert event.actor_id is None
    assert "typed-Secret-1" not in str(event.__dict__)


def test_my_cases_lists_references_and_due_follow_ups_without_names(caseworker):
    case = open_case(caseworker)
    add_encounter(caseworker, case, follow_up_date=timezone.localdate() - dt.timedelta(days=1))
    response = _login(caseworker).get("/cases/")
    page = response.content.decode()
    assert response.status_code == 200
    assert case.reference in page
    assert "due" in page
    assert MARKERS["given_name"] not in page and MARKERS["summary"] not in page


def test_intake_form_opens_a_case_with_declined_fields(caseworker):
    """AS9-COL-1, AS9-COL-3: identity optional, declined recordable, care data apart."""
    client = _login(caseworker)
    form = client.get("/cases/new/").content.decode()
    assert "Do not ask the person to retell" in form
    response = client.post(
        "/cases/new/",
        {
            "risk_level": "low",
            "storage_consent_method": "verbal",
            "storage_consent_interpreter": "on",
            "trafficking_types": ["sexual"],
            "given_name": MARKERS["given_name"],
            "declined": ["date_of_birth", "phone"],
            "languages": "Tigrinya\nEnglish",
        },
    )
    assert response.status_code == 302
    case = Case.objects.select_related("survivor").get()
    assert response["Location"] == f"/cases/{case.reference}/"
    identity = Identity.objects.select_related("survivor").get(survivor=case.survivor)
    assert identity.declined == ["date_of_birth", "phone"]
    assert identity.languages == ["Tigrinya", "English"]
    assert identity.date_of_birth is None
    consent = case.consents.get()  # AS9-COL-2: the storage consent, how, with interpreter
    assert (consent.scope, consent.method, consent.interpreter_used) == ("storage", "verbal", True)


def test_intake_form_shows_errors_and_saves_nothing(caseworker):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = _login(caseworker).post(
        "/cases/new/", {"risk_level": "low", "date_of_birth": tomorrow, "phone": "1\x002"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page
    assert "cannot be in the future" in page
    assert Case.objects.count() == 0


def test_the_case_page_shows_the_reference_never_the_name(caseworker, last_event):
    """AS9-STO-1."""
    case = open_case(caseworker)
    add_encounter(caseworker, case)
    page = _login(caseworker).get(f"/cases/{case.reference}/").content.decode()
    assert case.reference in page and MARKERS["notes"] in page
    assert MARKERS["given_name"] not in page and MARKERS["family_name"] not in page
    assert "Reveal identity" in page
    event = last_event(action="case.view")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        caseworker.pk,
        case.reference,
        "allowed",
    )


def test_reveal_shows_identity_and_is_logged(caseworker, last_event):
    """AS9-STO-1, AS9-USE-1."""
    case = open_case(caseworker)
    client = _login(caseworker)
    assert client.get(f"/cases/{case.reference}/identity/").status_code == 405
    page = client.post(f"/cases/{case.reference}/identity/").content.decode()
    assert MARKERS["given_name"] in page and MARKERS["family_name"] in page
    event = last_event(action="identity.view")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        caseworker.pk,
        case.reference,
        "allowed",
    )


def test_an_outsider_gets_a_plain_404_page_and_a_denied_event(caseworker, make_staff, last_event):
    case = open_case(caseworker)
    outsider = make_staff(Role.CASEWORKER, username="out")
    response = _login(outsider).get(f"/cases/{case.reference}/")
    assert response.status_code == 404
    assert MARKERS["summary"] not in response.content.decode()
    assert case.reference not in response.content.decode()
    event = last_event(actor_id=outsider.pk)
    assert (event.action, event.outcome, event.reason) == ("case.view", "denied", "no_relation")


def test_dpo_cannot_open_intake(dpo, last_event):
    response = _login(dpo).get("/cases/new/")
    assert response.status_code == 403
    assert last_event(actor_id=dpo.pk).outcome == "denied"


def test_recording_and_editing_an_encounter(caseworker):
    case = open_case(caseworker)
    client = _login(caseworker)
    when = (timezone.localtime() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/cases/{case.reference}/encounters/new/",
        {"occurred_at": when, "kind": "shelter", "notes": "first", "services_provided": ["food"]},
    )
    assert response.status_code == 302
    encounter = Encounter.objects.select_related("case__survivor").get()
    assert encounter.notes == "first" and encounter.services_provided == ["food"]
    edit_url = f"/cases/{case.reference}/encounters/{encounter.pk}/edit/"
    assert "first" in client.get(edit_url).content.decode()
    response = client.post(
        edit_url, {"occurred_at": when, "kind": "shelter", "notes": "second", "version": 1}
    )
    assert response.status_code == 302
    assert Encounter.objects.select_related("case__survivor").get().notes == "second"


def test_a_stale_web_edit_is_refused_with_both_versions_shown(caseworker):
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case, notes="original")
    client = _login(caseworker)
    when = timezone.localtime(encounter.occurred_at).strftime("%Y-%m-%dT%H:%M")
    edit_url = f"/cases/{case.reference}/encounters/{encounter.pk}/edit/"
    ok = client.post(
        edit_url, {"occurred_at": when, "kind": "phone", "notes": "theirs", "version": 1}
    )
    assert ok.status_code == 302
    stale = client.post(
        edit_url, {"occurred_at": when, "kind": "phone", "notes": "mine", "version": 1}
    )
    assert stale.status_code == 409
    page = stale.content.decode()
    assert "Someone else saved this encounter" in page
    assert "theirs" in page and "mine" in page  # both kept on screen to merge
    assert Encounter.objects.select_related("case__survivor").get().notes == "theirs"


def test_pages_are_not_cached_and_carry_a_strict_csp(caseworker):
    response = _login(caseworker).get("/cases/")
    assert response["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
