"""After care in a real browser, checked with axe-core on every page: a caseworker
records a survivor's request for a copy; the supervisor places a legal hold; the DPO
finds the request in the queue with its age, approves it, sees the statistics; the
caseworker collects the copy once with its passphrase shown once. AS9-END-1, AS9-END-2,
AS9-USE-4."""

from __future__ import annotations

import pytest

from access.roles import Role
from cases.models import Case, SubjectRequest
from tests.browser.conftest import login, shot
from tests.browser.test_case_life_journey import Axe, axe_page  # noqa: F401  (fixture)
from tests.factories import MARKERS, TeamFactory, UserFactory, open_case

pytestmark = pytest.mark.django_db(transaction=True)


def test_request_hold_decision_and_collection(axe_page):  # noqa: F811
    team = TeamFactory(slug="north")
    worker = UserFactory(username="amal", role=Role.CASEWORKER, team=team)
    supervisor = UserFactory(username="sup", role=Role.SUPERVISOR, team=team)
    dpo = UserFactory(username="dpo", role=Role.DPO, team=None)
    case = open_case(worker, identity={"given_name": "ماريا", "family_name": "Nguyễn"})

    page = axe_page("desktop")
    axe = Axe(page)
    login(page, worker)
    page.goto(f"/cases/{case.reference}/")
    page.get_by_role("link", name="A request from the person (copy or erasure)").click()
    page.get_by_role("heading", level=1).wait_for()
    axe.check("request form")
    page.get_by_label("A copy of their records (access)").check()
    page.get_by_label("JSON (machine-readable)").check()
    page.get_by_label("How the request was made").fill("Asked in person; طلبت نسخة")
    page.get_by_role("button", name="Send to the data protection officer").click()
    # Without the confirmation nothing is sent and nothing typed is lost.
    page.get_by_text("Confirm that the person asked.").first.wait_for()
    assert page.get_by_label("How the request was made").input_value() == (
        "Asked in person; طلبت نسخة"
    )
    page.get_by_label("The person asked for this themselves").check()
    page.get_by_role("button", name="Send to the data protection officer").click()
    page.get_by_text("Request sent to the data protection officer.").wait_for()
    axe.check("request page")
    page.get_by_role("button", name="Sign out").click()

    page.goto("/")
    login(page, supervisor)
    page.goto(f"/cases/{case.reference}/")
    page.get_by_role("link", name="Place a legal hold").click()
    page.get_by_role("heading", level=1).wait_for()
    axe.check("legal hold")
    page.get_by_label("Why").fill("Evidence in the trial of the recruiters")
    page.get_by_label("I confirm this change").check()
    page.get_by_role("button", name="Place the hold").click()
    page.get_by_text("Legal hold placed").wait_for()
    assert Case.objects.get(pk=case.pk).legal_hold
    page.get_by_role("link", name="Statistics").click()
    page.get_by_role("heading", name="Statistics").wait_for()
    axe.check("statistics")
    page.get_by_role("button", name="Sign out").click()

    page.goto("/")
    login(page, dpo)
    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("heading", name="Requests from survivors").wait_for()
    axe.check("queue")
    shot(page, "40-dpo-requests")
    assert case.reference in page.content()
    page.get_by_role("link", name=f"Open the request for {case.reference}").click()
    page.get_by_role("heading", level=1).wait_for()
    axe.check("decision")
    page.get_by_label("Approve").check()
    page.get_by_label("I checked the request").check()
    page.get_by_role("button", name="Record the decision").click()
    page.get_by_text("Decision recorded.").wait_for()
    for marker in (*MARKERS.values(), "ماريا", "Evidence in the trial"):
        assert marker not in page.content()
    page.get_by_role("link", name="Records of processing").click()
    page.get_by_role("heading", name="Records of processing", level=1).wait_for()
    page.locator("details summary").first.click()
    axe.check("records of processing")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as CSV").click()
    assert download_info.value.suggested_filename.startswith("haven-records-of-processing-")
    for marker in (*MARKERS.values(), "ماريا"):
        assert marker not in page.content()
    page.get_by_role("button", name="Sign out").click()

    page.goto("/")
    login(page, worker, steps_ahead=1)
    request = SubjectRequest.objects.get()
    page.goto(f"/requests/{request.pk}/")
    page.get_by_role("heading", name="The person's copy").wait_for()
    axe.check("collect")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the copy (once)").click()
    body = open(download_info.value.path(), encoding="utf-8").read()  # noqa: PTH123
    assert "ماريا" in body and case.reference in body
    assert SubjectRequest.objects.get().downloaded_at is not None
    assert axe.found == [], "\n".join(axe.found)
