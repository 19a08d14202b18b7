"""The DPO's journey in a real browser: filter the log, open a case's access report,
review an anomaly, download the CSV, and never see survivor content. AS9-USE-1,
AS9-USE-4."""

from __future__ import annotations

import re

import pytest

from access.roles import Role
from access.services import break_glass_open
from audit.models import Anomaly
from tests.browser.conftest import login, shot
from tests.factories import MARKERS, TeamFactory, UserFactory, open_case

pytestmark = pytest.mark.django_db(transaction=True)


def test_dpo_filters_reports_reviews_and_downloads(new_page):
    team = TeamFactory(slug="north")
    owner = UserFactory(username="owner", role=Role.CASEWORKER, team=team)
    night = UserFactory(username="night", role=Role.CLINICIAN, team=TeamFactory(slug="south"))
    dpo = UserFactory(username="dpo", role=Role.DPO, team=None)
    case = open_case(owner)
    break_glass_open(case=case, user=night, reason="Emergency admission at night")

    page = new_page()
    login(page, dpo)
    page.get_by_role("link", name="Access log").click()
    page.get_by_role("heading", name="Access log").wait_for()
    assert page.locator(".chart svg").count() == 1
    page.locator("summary", has_text="Filter").click()
    page.get_by_label("Case reference").fill(case.reference)
    page.get_by_role("button", name="Filter").click()
    page.locator("table.events").wait_for()
    assert "break_glass.open" in page.content()
    shot(page, "20-dpo-log")

    page.get_by_role("link", name=case.reference).first.click()
    page.get_by_role("heading", name=re.compile("Who accessed")).wait_for()
    assert "night" in page.content() and "owner" in page.content()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    csv_text = open(download_info.value.path()).read()  # noqa: PTH123
    assert csv_text.startswith("at,actor_username") and case.reference in csv_text

    page.get_by_role("link", name="Anomalies", exact=True).click()
    page.get_by_role("heading", name="Break-glass access").wait_for()
    page.get_by_label("Review note").first.fill("Confirmed with the duty clinician.")
    page.get_by_role("button", name="Mark reviewed").first.click()
    page.get_by_text("Marked as reviewed.").wait_for()
    shot(page, "21-dpo-anomalies")
    assert Anomaly.objects.get(kind="break_glass").reviewed_at is not None

    for marker in MARKERS.values():
        assert marker not in page.content()
    page.goto(f"/cases/{case.reference}/")
    assert page.get_by_role("heading", name="Not found").count() == 1
