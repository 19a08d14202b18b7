"""The defects a browser walk found in the working day, each as a page test that
failed before its fix: forms that lost a field or saved what nobody chose, one-click
harm, stale pages without context, lost typing at a timeout, admin and DPO homes,
duplicate ids, raw JSON in the browser, printing. AS9-COL-2, AS9-END-1, AS9-STO-3,
AS9-STO-5, AS9-USE-1, AS9-USE-2."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.models import CaseGrant, FormDraft
from access.roles import Role
from access.services import grant_assign
from audit.models import AccessEvent
from cases.models import Case, Consent, Encounter
from cases.services import (
    consent_record,
    encounter_update,
    organisation_add,
    referral_export,
    service_add,
    task_add,
)
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import page_form, web_client

pytestmark = pytest.mark.django_db


def _encounter(case: Case) -> Encounter:
    return Encounter.objects.select_related("case__survivor").get(case=case)


# --- forms keep every field -------------------------------------------------------------


def test_an_encounter_saved_unchanged_keeps_every_field(caseworker):
    """The edit form erased the follow-up date: open, save unchanged, nothing lost."""
    case = open_case(caseworker)
    follow_up = timezone.localdate() + dt.timedelta(days=9)
    add_encounter(
        caseworker,
        case,
        follow_up_date=follow_up,
        interpreter_used=True,
        services_provided=["food", "legal"],
        care_critical=True,
    )
    before = _encounter(case)
    client = web_client(caseworker)
    edit = f"/cases/{case.reference}/encounters/{before.pk}/edit/"
    form = page_form(client, edit, containing="version")
    assert client.post(edit, form.data()).status_code == 302
    after = _encounter(case)
    for name in (
        "occurred_at",
        "kind",
        "notes",
        "location",
        "interpreter_used",
        "services_provided",
        "follow_up_date",
        "care_critical",
    ):
        assert getattr(after, name) == getattr(before, name), name
    assert after.version == before.version + 1


@pytest.mark.parametrize("page", ["edit", "plan", "services", "tasks"])
def test_care_forms_round_trip_unchanged(caseworker, page):
    case = open_case(caseworker, referral_source="Helpline")
    today = timezone.localdate()
    client = web_client(caseworker)
    if page == "edit":
        url = f"/cases/{case.reference}/edit/"
        form = page_form(client, url, containing="version")
        assert client.post(url, form.data()).status_code == 302
        again = Case.objects.get(pk=case.pk)
        assert (again.summary, again.referral_source, again.risk_level) == (
            MARKERS["summary"],
            "Helpline",
            "high",
        )
        assert again.trafficking_types == ["labour"]
        return
    if page == "plan":
        client.post(
            f"/cases/{case.reference}/plan/",
            {
                "goal": "Feel safe",
                "agreed_on": today.isoformat(),
                "review_on": today.isoformat(),
                "status": "agreed",
            },
        )
        record = case.goals.get()
        url = f"/cases/{case.reference}/plan/{record.pk}/"
        fields = ("goal", "agreed_on", "review_on", "status")
    elif page == "services":
        service_add(actor=caseworker, case=case, type="legal", due_on=today, notes="n")
        record = case.services.get()
        url = f"/cases/{case.reference}/services/{record.pk}/"
        fields = ("type", "status", "due_on", "notes", "provider_id")
    else:
        task_add(actor=caseworker, case=case, title="Call", due_on=today)
        record = case.tasks.get()
        url = f"/cases/{case.reference}/tasks/{record.pk}/"
        fields = ("title", "due_on", "assigned_to_id", "done_at")
    form = page_form(client, url, containing="version")
    assert client.post(url, form.data()).status_code == 302
    record_after = type(record).objects.select_related("case__survivor").get(pk=record.pk)
    for name in fields:
        assert getattr(record_after, name) == getattr(record, name), name


def test_the_untouched_encounter_form_saves_nothing(caseworker):
    case = open_case(caseworker)
    client = web_client(caseworker)
    url = f"/cases/{case.reference}/encounters/new/"
    form = page_form(client, url)
    response = client.post(url, form.data())
    assert response.status_code == 400
    assert "Choose the kind of encounter" in response.content.decode()
    assert not Encounter.objects.exists()


def test_the_untouched_consent_form_records_nothing_and_errors_sit_at_their_fields(caseworker):
    """AS9-COL-2: nothing is chosen for the survivor."""
    case = open_case(caseworker)
    client = web_client(caseworker)
    url = f"/cases/{case.reference}/consents/"
    form = page_form(client, url, containing="purpose")
    assert "scope" in form.values() and form.values()["scope"] == [""]
    assert "method" not in form.values()  # no radio button checked in advance
    response = client.post(url, form.data(purpose="Typed words kept"))
    assert response.status_code == 400
    page = response.content.decode()
    assert not Consent.objects.exists()
    assert "Typed words kept" in page  # what was typed stays
    scope = re.search(r'<select name="scope"[^>]*aria-describedby="([^"]+)"', page)
    method = re.search(r'<fieldset aria-describedby="([^"]+)">\s*<legend>How consent', page)
    for found in (scope, method):
        assert found is not None
        for target in found.group(1).split():
            assert f'id="{target}"' in page, target
    assert "Choose what the person agreed to." in page
    assert "Choose how consent was given." in page  # every error, each at its field
    assert 'class="error-summary"' in page


def test_a_stale_edit_page_shows_the_other_version_whole_and_who_saved_it(caseworker, make_staff):
    colleague = make_staff(username="colleague")
    case = open_case(caseworker)
    grant_assign(case=case, user=colleague, granted_by=caseworker)
    encounter = add_encounter(caseworker, case, notes="original")
    client = web_client(caseworker)
    edit = f"/cases/{case.reference}/encounters/{encounter.pk}/edit/"
    mine = page_form(client, edit, containing="version")
    later = timezone.localdate() + dt.timedelta(days=12)
    encounter_update(
        actor=colleague,
        case=case,
        encounter_id=encounter.pk,
        changes={
            "notes": "their words",
            "services_provided": ["medical"],
            "follow_up_date": later,
        },
        expected_version=1,
    )
    response = client.post(edit, mine.data(notes="my words"))
    assert response.status_code == 409
    page = response.content.decode()
    assert "their words" in page and "my words" in page
    assert "colleague" in page
    assert later.strftime("%-d %b %Y") in page or later.isoformat() in page
    assert "Medical" in page or "medical" in page


def test_a_stale_case_edit_is_a_conflict_page_that_keeps_the_typing(caseworker, api):
    case = open_case(caseworker)
    client = web_client(caseworker)
    url = f"/cases/{case.reference}/edit/"
    mine = page_form(client, url, containing="version")
    api(caseworker).patch(
        f"/api/v1/cases/{case.reference}/",
        {"summary": "their summary", "version": 1},
        format="json",
    )
    response = client.post(url, mine.data(summary="my summary"))
    assert response.status_code == 409
    page = response.content.decode()
    assert "their summary" in page and "my summary" in page
    assert Case.objects.get(pk=case.pk).summary == "their summary"


def test_the_history_page_shows_earlier_values_by_role(caseworker, api):
    """AS9-END-4."""
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case, notes="the first words")
    api(caseworker).patch(
        f"/api/v1/cases/{case.reference}/encounters/{encounter.pk}/",
        {"notes": "corrected", "version": 1},
        format="json",
    )
    page = web_client(caseworker).get(f"/cases/{case.reference}/history/").content.decode()
    assert "the first words" in page and "Caseworker" in page


# --- harmful actions ask first -------------------------------------------------------------


def test_withdrawing_consent_asks_for_confirmation_and_a_reason(caseworker, supervisor):
    organisation_add(actor=supervisor, name="Clinic", slug="clinic")
    case = open_case(caseworker)
    consent = consent_record(
        actor=caseworker,
        case=case,
        scope="referral",
        recipient_slug="clinic",
        purpose="care",
        method="verbal",
        given_at=timezone.now() - dt.timedelta(hours=1),
    )
    client = web_client(caseworker)
    url = f"/cases/{case.reference}/consents/{consent.pk}/withdraw/"
    assert client.get(url).status_code == 200  # a page, not a one-click action
    assert client.post(url, {}).status_code == 400
    assert Consent.objects.get(pk=consent.pk).withdrawn_at is None
    assert client.post(url, {"reason": "asked today"}).status_code == 302
    assert Consent.objects.get(pk=consent.pk).withdrawal_reason == "asked today"


def test_ending_the_last_assignment_needs_a_choice_and_unassigned_cases_stay_visible(
    caseworker, supervisor
):
    case = open_case(caseworker)
    assignment = CaseGrant.objects.get(user=caseworker, kind="assignment")
    client = web_client(supervisor)
    url = f"/cases/{case.reference}/grants/{assignment.pk}/revoke/"
    assert "only assigned worker" in client.get(url).content.decode()
    refused = client.post(url, {"reason": "left the team"})
    assert refused.status_code == 400
    assert CaseGrant.objects.active().filter(pk=assignment.pk).exists()
    done = client.post(url, {"reason": "left the team", "leave_unassigned": "on"})
    assert done.status_code == 302
    assert not CaseGrant.objects.active().filter(pk=assignment.pk).exists()
    caseload = client.get("/team/caseload/").content.decode()
    assert "Unassigned" in caseload and case.reference in caseload


def test_ending_the_last_assignment_can_hand_the_case_over(caseworker, supervisor, make_staff):
    successor = make_staff(username="successor")
    case = open_case(caseworker)
    assignment = CaseGrant.objects.get(user=caseworker, kind="assignment")
    client = web_client(supervisor)
    url = f"/cases/{case.reference}/grants/{assignment.pk}/revoke/"
    response = client.post(url, {"reason": "leave", "reassign_to": successor.username})
    assert response.status_code == 302
    assert CaseGrant.objects.active().filter(user=successor, kind="assignment").exists()


# --- forms kept at a timeout -------------------------------------------------------------------


def test_a_form_kept_at_timeout_is_sealed_and_handed_back_once_to_its_author(
    api, caseworker, make_staff
):
    """AS9-STO-5 ends idle sessions; what was typed is kept, encrypted, for its author."""
    case = open_case(caseworker)
    path = f"/cases/{case.reference}/encounters/new/"
    client = web_client(caseworker)
    saved = client.post(
        "/api/v1/me/drafts/",
        {"path": path, "form": [["notes", "DRAFT-WORDS-42"], ["csrfmiddlewaretoken", "x"]]},
        content_type="application/json",
    )
    assert saved.status_code == 201, saved.content
    draft_id = saved.json()["id"]
    assert client.get("/api/v1/me/").status_code in (401, 403)  # signed out
    with connection.cursor() as cursor:
        cursor.execute("SELECT fields FROM access_formdraft")
        assert b"DRAFT-WORDS-42" not in bytes(cursor.fetchone()[0])
    other = web_client(make_staff(username="nosy"))
    assert "DRAFT-WORDS-42" not in other.get(f"{path}?restore={draft_id}").content.decode()
    again = web_client(caseworker)
    home = again.get("/today/").content.decode()
    assert f"?restore={draft_id}" in home
    restored = again.get(f"{path}?restore={draft_id}").content.decode()
    assert "DRAFT-WORDS-42" in restored and 'id="restored-draft"' in restored
    assert "csrfmiddlewaretoken" not in restored.split('id="restored-draft"')[1][:200]
    assert "DRAFT-WORDS-42" not in again.get(f"{path}?restore={draft_id}").content.decode()
    assert not FormDraft.objects.exists()
    actions = list(AccessEvent.objects.values_list("action", flat=True))
    assert "draft.save" in actions and "draft.restore" in actions


@pytest.mark.parametrize(
    "body",
    [
        {"path": "https://evil.example/x", "form": []},
        {"path": "/nowhere-at-all/", "form": []},
        {"path": "/today/", "form": [["a"]]},
        {"path": "/today/", "form": [["a", "b\x00"]]},
    ],
)
def test_bad_drafts_are_refused(caseworker, body):
    response = web_client(caseworker).post(
        "/api/v1/me/drafts/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert not FormDraft.objects.exists()


def test_staying_signed_in_restarts_the_idle_timeout(caseworker, settings):
    client = web_client(caseworker)
    response = client.post("/api/v1/me/session/")
    assert response.status_code == 200
    assert response.json()["seconds"] == settings.SESSION_COOKIE_AGE


# --- homes, staff actions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "home"), [(Role.CASEWORKER, "/today/"), (Role.DPO, "/audit/"), (Role.ADMIN, "/staff/")]
)
def test_each_role_lands_on_its_own_home(make_staff, role, home):
    user = (
        make_staff(role, username=f"u-{role}", team=None)
        if role != Role.CASEWORKER
        else (make_staff(role, username="cw"))
    )
    response = web_client(user).get("/")
    assert response.status_code == 302 and response["Location"] == home


def test_an_admin_sets_passwords_invites_resets_and_unlocks_with_events(admin_user, caseworker):
    client = web_client(admin_user)
    name = caseworker.username
    assert (
        client.post(
            f"/staff/{name}/password/",
            {"password": "a-long-new-pass-9182", "again": "a-long-new-pass-9182"},
        ).status_code
        == 302
    )
    invite = client.post(f"/staff/{name}/invite/", {"confirm": "on"})
    assert invite.status_code == 200 and "/account/invitation/" in invite.content.decode()
    assert client.post(f"/staff/{name}/second-factor/", {"confirm": "on"}).status_code == 400
    assert (
        client.post(
            f"/staff/{name}/second-factor/", {"confirm": "on", "reason": "lost_device"}
        ).status_code
        == 302
    )
    assert client.post(f"/staff/{name}/unlock/", {"confirm": "on"}).status_code == 302
    actions = set(
        AccessEvent.objects.filter(actor_id=admin_user.pk).values_list("action", flat=True)
    )
    assert {
        "staff.password_set",
        "staff.invite",
        "staff.second_factor_reset",
        "staff.unlock",
    } <= actions


def test_the_staff_list_costs_the_same_queries_for_3_people_as_for_13(
    admin_user, make_staff, settings
):
    """AS9-STO-5: the administrator sees, for each person, whether their account is
    locked and whether they have a second factor yet; the page asks both for the whole
    list at once, not once a person."""
    locked = make_staff(Role.CASEWORKER, username="st-locked")
    enrolled = make_staff(Role.CASEWORKER, username="st-enrolled")
    AccessAttempt.objects.create(
        username=locked.username,
        ip_address="127.0.0.1",
        user_agent="test",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
    )
    TOTPDevice.objects.create(user=enrolled, name="authenticator", confirmed=True)
    client = web_client(admin_user)
    client.get("/staff/")  # the session and the first request's own queries

    def page() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/staff/")
        assert response.status_code == 200
        return response.content.decode(), len(queries)

    html, few = page()
    for n in range(10):
        make_staff(Role.CASEWORKER, username=f"st-more-{n}")
    html_more, many = page()
    assert many == few and "st-more-9" in html_more

    def row(name: str) -> str:
        return re.search(rf"<tr>(?:(?!</tr>).)*{name}(?:(?!</tr>).)*</tr>", html, re.S).group(0)

    assert "Locked" in row("st-locked") and "no second factor yet" in row("st-locked")
    assert "Locked" not in row("st-enrolled") and "no second factor yet" not in row("st-enrolled")


def test_an_admin_cannot_act_on_themselves(admin_user):
    client = web_client(admin_user)
    response = client.post(
        f"/staff/{admin_user.username}/second-factor/", {"confirm": "on", "reason": "other"}
    )
    assert response.status_code in (400, 403)
    assert not AccessEvent.objects.filter(
        action="staff.second_factor_reset", outcome="allowed"
    ).exists()


# --- pages -------------------------------------------------------------------------------


def test_the_second_package_download_in_a_browser_is_a_page(api, caseworker, clinician, supervisor):
    organisation_add(actor=supervisor, name="Clinic", slug="clinic")
    case = open_case(caseworker)
    grant_assign(case=case, user=clinician, granted_by=supervisor)
    consent_record(
        actor=caseworker,
        case=case,
        scope="referral",
        recipient_slug="clinic",
        purpose="care",
        method="verbal",
        given_at=timezone.now() - dt.timedelta(hours=1),
    )
    referral, _ = referral_export(
        actor=clinician,
        case=case,
        recipient_slug="clinic",
        purpose="care",
        sections=["summary"],
        include_identity=False,
        fmt="fhir",
    )
    client = web_client(clinician)
    url = f"/referrals/{referral.pk}/download/"
    assert client.get(url).status_code == 200
    again = client.get(url)
    assert again.status_code == 410
    assert again["Content-Type"].startswith("text/html")
    assert "<h1" in again.content.decode() and '"code"' not in again.content.decode()


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()
        self.described: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if values.get("id"):
            self.ids[values["id"]] += 1
        self.described.extend((values.get("aria-describedby") or "").split())


@pytest.mark.parametrize(
    "path",
    [
        "/today/",
        "/cases/",
        "/cases/new/",
        "/cases/{ref}/",
        "/cases/{ref}/edit/",
        "/cases/{ref}/encounters/new/",
        "/cases/{ref}/consents/",
        "/cases/{ref}/plan/",
        "/cases/{ref}/services/",
        "/cases/{ref}/tasks/",
        "/cases/{ref}/close/",
        "/cases/{ref}/grants/",
        "/cases/{ref}/print/",
    ],
)
def test_ids_are_unique_and_every_description_exists(supervisor, caseworker, path):
    case = open_case(caseworker)
    response = web_client(supervisor).get(path.format(ref=case.reference))
    assert response.status_code == 200, path
    parser = _Ids()
    parser.feed(response.content.decode())
    assert [i for i, n in parser.ids.items() if n > 1] == []
    assert [d for d in parser.described if d not in parser.ids] == []


def test_overdue_follow_ups_are_labelled_and_come_first(caseworker):
    late = open_case(caseworker)
    soon = open_case(caseworker)
    add_encounter(caseworker, soon, follow_up_date=timezone.localdate() + dt.timedelta(days=2))
    add_encounter(caseworker, late, follow_up_date=timezone.localdate() - dt.timedelta(days=3))
    page = web_client(caseworker).get("/today/").content.decode()
    assert "overdue" in page
    assert page.index(late.reference) < page.index(soon.reference)
    cases_page = web_client(caseworker).get("/cases/").content.decode()
    assert cases_page.index(late.reference) < cases_page.index(soon.reference)


def test_the_printable_summary_is_a_read_with_its_event(caseworker, make_staff, last_event):
    case = open_case(caseworker)
    response = web_client(caseworker).get(f"/cases/{case.reference}/print/")
    assert response.status_code == 200
    page = response.content.decode()
    assert MARKERS["summary"] in page and MARKERS["given_name"] not in page
    assert "print.css" in page
    event = last_event(actor_id=caseworker.pk)
    assert (event.case_reference, event.outcome) == (case.reference, "allowed")
    outsider = make_staff(username="outsider")
    assert web_client(outsider).get(f"/cases/{case.reference}/print/").status_code == 404
