"""The DPO reviews access without reading a single case. AS9-USE-1, AS9-USE-4."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from access import ledger
from access.roles import Role
from access.services import grant_add, grant_assign
from audit import anomalies
from audit.models import AccessEvent, Anomaly
from audit.services import event_record
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(api, caseworker, supervisor, clinician):
    """Reads, reveals, a search and denials, all with marker values in the data."""
    case = open_case(caseworker)
    add_encounter(caseworker, case)
    grant_assign(case=case, user=clinician, granted_by=supervisor)
    client = api(caseworker)
    client.get(f"/api/v1/cases/{case.reference}/")
    client.get(f"/api/v1/cases/{case.reference}/identity/")
    client.get("/api/v1/cases/search/", {"family_name": MARKERS["family_name"]})
    api(clinician).get(f"/api/v1/cases/{case.reference}/encounters/")
    api(supervisor).get(f"/api/v1/cases/{case.reference}/")
    return case


def test_events_api_filters_by_case_actor_action_outcome_and_dates(api, dpo, journey, caseworker):
    client = api(dpo)
    url = "/api/v1/audit/events/"
    by_case = client.get(url, {"case": journey.reference}).json()
    assert by_case["count"] >= 5 and {e["case"] for e in by_case["results"]} == {journey.reference}
    by_actor = client.get(url, {"actor": caseworker.username}).json()["results"]
    assert by_actor and {e["actor"] for e in by_actor} == {caseworker.username}
    reveals = client.get(url, {"action": "identity"}).json()["results"]
    assert [e["action"] for e in reveals] == ["identity.view"]
    assert client.get(url, {"outcome": "denied"}).json()["count"] == 0
    today = timezone.localdate().isoformat()
    assert client.get(url, {"since": today, "until": today}).json()["count"] >= 5
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert client.get(url, {"since": tomorrow}).json()["count"] == 0


@pytest.mark.parametrize(
    "params", [{"since": "2026-02-30"}, {"outcome": "maybe"}, {"case": "nonsense"}, {"who": "x"}]
)
def test_bad_event_filters_are_refused(api, dpo, params):
    response = api(dpo).get("/api/v1/audit/events/", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN])
def test_only_the_dpo_reads_the_trail(api, make_staff, role, last_event):
    user = make_staff(role)
    assert api(user).get("/api/v1/audit/events/").status_code == 403
    assert last_event(actor_id=user.pk).outcome == "denied"


def test_the_access_report_for_the_dpo_and_the_team_supervisor(
    api, dpo, supervisor, journey, caseworker
):
    for user in (dpo, supervisor):
        response = api(user).get(f"/api/v1/cases/{journey.reference}/access-report/")
        assert response.status_code == 200
        actors = {e["actor"] for e in response.json()["results"]}
        assert {caseworker.username, "clin", "sup"} <= actors
    assert (
        api(caseworker).get(f"/api/v1/cases/{journey.reference}/access-report/").status_code == 403
    )


def test_verify_reports_the_newest_scheduled_check(api, dpo, journey):
    """AS9-USE-2: before any check the API claims nothing (fail closed); after the
    scheduled check it reports it, with its age."""
    client = api(dpo)
    before = client.get("/api/v1/audit/verify/").json()
    assert (before["intact"], before["checked"], before["checked_at"]) == (False, 0, None)
    assert "not been checked" in before["problem"] and before["stale"] is True
    assert ledger.verify_if_due() is not None
    body = client.get("/api/v1/audit/verify/").json()
    assert body["intact"] is True and body["checked"] > 5
    assert body["kind"] == "full" and body["stale"] is False and 0 <= body["age_seconds"] < 60


def test_no_dpo_page_or_download_shows_survivor_content(dpo, journey, caseworker):
    """AS9-USE-4, for every page of the DPO's desk."""
    anomalies.scan()
    client = web_client(dpo)
    urls = [
        "/audit/",
        f"/audit/?case={journey.reference}",
        f"/audit/events.csv?case={journey.reference}",
        f"/audit/cases/{journey.reference}/",
        f"/audit/staff/{caseworker.username}/",
        "/audit/anomalies/",
        "/audit/verify/",
    ]
    home = client.get("/")
    assert (home.status_code, home["Location"]) == (302, "/audit/")  # the DPO's home
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        for marker in MARKERS.values():
            assert marker.encode() not in body, (url, marker)
    assert client.get(f"/cases/{journey.reference}/").status_code == 404


def test_the_csv_follows_the_filters_and_defuses_formulas(dpo, journey, caseworker):
    from audit import context

    token = context.bind(context.RequestContext(request_id="r1", user_agent="=HYPERLINK(1)"))
    try:
        event_record(actor=caseworker, action="case.view", case_reference=journey.reference)
    finally:
        context.unbind(token)
    response = web_client(dpo).get(f"/audit/events.csv?actor={caseworker.username}")
    assert response["Content-Type"] == "text/csv"
    text = b"".join(response.streaming_content).decode()
    lines = text.strip().splitlines()
    assert lines[0].startswith("at,actor_username,actor_role,action")
    assert all(caseworker.username in line for line in lines[1:])
    assert "=HYPERLINK" not in text  # the UA is not exported; nothing starts with "="
    assert not any(cell.startswith("=") for line in lines for cell in line.split(","))


def test_a_mistyped_csv_filter_exports_nothing(dpo, journey):
    """A filter the desk would refuse is refused for the CSV too (it once exported the
    whole trail instead)."""
    before = AccessEvent.objects.filter(action="audit.export_csv").count()
    response = web_client(dpo).get("/audit/events.csv?since=2026-13-45")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert AccessEvent.objects.filter(action="audit.export_csv").count() == before


def test_the_desk_draws_daily_activity_as_svg(dpo, journey):
    page = web_client(dpo).get("/audit/").content.decode()
    assert "<svg" in page and page.count('class="bar-allowed"') == 30


class TestAnomalyRules:
    def test_out_of_hours_reads_are_flagged(self, api, caseworker, settings):
        hour = timezone.localtime().hour
        settings.HAVEN_WORKING_HOURS = ((hour + 1) % 24, (hour + 2) % 24 or 24)
        case = open_case(caseworker)
        api(caseworker).get(f"/api/v1/cases/{case.reference}/")
        anomalies.scan()
        flagged = Anomaly.objects.get(kind="out_of_hours")
        assert (flagged.actor_id, flagged.case_reference) == (caseworker.pk, case.reference)

    def test_first_read_through_a_grant_is_flagged_once(
        self, api, caseworker, supervisor, make_staff
    ):
        case = open_case(caseworker)
        colleague = make_staff(Role.CLINICIAN, username="colleague")
        grant_add(case=case, username="colleague", reason="Cover", granted_by=supervisor)
        api(colleague).get(f"/api/v1/cases/{case.reference}/")
        api(colleague).get(f"/api/v1/cases/{case.reference}/")
        api(caseworker).get(f"/api/v1/cases/{case.reference}/")
        anomalies.scan()
        flagged = Anomaly.objects.filter(kind="outside_assignment")
        assert [(a.actor_id, a.case_reference) for a in flagged] == [(colleague.pk, case.reference)]

    def test_a_supervisor_reading_their_own_teams_case_is_not_flagged(
        self, api, caseworker, supervisor
    ):
        """Supervising the team is a normal relation to its cases, like an assignment
        (it once flagged every supervisor's first look at each case)."""
        case = open_case(caseworker)
        api(supervisor).get(f"/api/v1/cases/{case.reference}/")
        anomalies.scan()
        assert not Anomaly.objects.filter(kind="outside_assignment").exists()

    def test_the_desk_counts_anomalies_raised_since_the_queue_was_last_opened(
        self, api, dpo, caseworker, settings
    ):
        hour = timezone.localtime().hour
        settings.HAVEN_WORKING_HOURS = ((hour + 1) % 24, (hour + 2) % 24 or 24)
        case = open_case(caseworker)
        api(caseworker).get(f"/api/v1/cases/{case.reference}/")  # out of hours, not yet scanned
        page = web_client(dpo).get("/audit/").content.decode()
        assert Anomaly.objects.filter(kind="out_of_hours").count() == 1
        assert "Anomalies to review: <strong>1</strong>" in page

    def test_repeated_denials_are_flagged(self, api, make_staff):
        prober = make_staff(Role.CASEWORKER, username="prober")
        client = api(prober)
        for n in range(6):
            client.get(f"/api/v1/cases/HV-0000-000{n}/")
        anomalies.scan()
        assert Anomaly.objects.filter(kind="repeated_denials", actor_id=prober.pk).count() == 1

    def test_unusual_volume_is_flagged(self, api, caseworker):
        cases = [open_case(caseworker, identity={}) for _ in range(21)]
        client = api(caseworker)
        for case in cases:
            client.get(f"/api/v1/cases/{case.reference}/")
        anomalies.scan()
        assert Anomaly.objects.filter(kind="unusual_volume", actor_id=caseworker.pk).count() == 1

    def test_exports_are_flagged(self, caseworker):
        event_record(actor=caseworker, action="referral.export", case_reference="HV-0000-0000")
        anomalies.scan()
        assert Anomaly.objects.filter(kind="export").count() == 1

    def test_review_with_a_note_is_itself_audited(self, api, dpo, caseworker):
        case = open_case(caseworker)
        event = event_record(actor=caseworker, action="case.view", case_reference=case.reference)
        anomaly = Anomaly.objects.create(
            kind="break_glass", event=event, actor_id=caseworker.pk, case_reference=case.reference
        )
        client = web_client(dpo)
        page = client.get("/audit/anomalies/").content.decode()
        assert "Break-glass access" in page
        response = client.post(
            f"/audit/anomalies/{anomaly.pk}/review/", {"note": "Confirmed with the team."}
        )
        assert response.status_code == 302
        anomaly.refresh_from_db()
        assert anomaly.reviewed_at is not None and anomaly.reviewed_by_id == dpo.pk
        assert anomaly.review_note == "Confirmed with the team."
        reviewed = AccessEvent.objects.get(action="anomaly.review")
        assert (reviewed.actor_id, reviewed.case_reference) == (dpo.pk, case.reference)


def test_the_scan_command_catches_up_with_the_whole_trail(api, caseworker):
    from io import StringIO

    from django.core.management import call_command

    from audit.models import AnomalyScan

    event_record(actor=caseworker, action="referral.export", case_reference="HV-0000-0000")
    out = StringIO()
    call_command("audit_scan", stdout=out, stderr=StringIO())
    assert "raised 1 anomalies" in out.getvalue()
    assert AnomalyScan.objects.get(pk=1).last_event_id == AccessEvent.objects.latest("id").pk


def test_the_desk_pages_through_events_without_counting_them(dpo, caseworker):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(55):
        event_record(actor=caseworker, action="case.view", case_reference="HV-0000-0000")
    client = web_client(dpo)
    with CaptureQueriesContext(connection) as queries:
        first = client.get("/audit/?actor=" + caseworker.username)
    assert not any(
        "COUNT(" in q["sql"].upper() and "accessevent" in q["sql"]
        for q in queries.captured_queries
        if "GROUP BY" not in q["sql"].upper()
    )
    assert "Older" in first.content.decode() and "Newer" not in first.content.decode()
    second = client.get("/audit/?actor=" + caseworker.username + "&page=2").content.decode()
    assert "Newer" in second and "Older" not in second
    assert client.get("/audit/?page=banana").status_code == 200
