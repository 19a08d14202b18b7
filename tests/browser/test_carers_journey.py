"""Care for the carers in a real browser, checked with axe-core: a caseworker answers
the self-check twice, sees the trend, deletes one with confirmation and tells the
supervisor they would like to talk; the supervisor sees only that. AS8-4."""

from __future__ import annotations

import pytest
from django.utils import timezone

from access.roles import Role
from carers import scale
from tests.browser.conftest import login, shot
from tests.browser.test_case_life_journey import Axe, axe_page  # noqa: F401  (fixture)
from tests.factories import TeamFactory, UserFactory, open_case

pytestmark = pytest.mark.django_db(transaction=True)


def _answer(page, values: dict[str, int]) -> None:
    for item in scale.ITEMS:
        group = page.get_by_role("group", name=f"{item}. {scale.DEFAULT_WORDING[item]}")
        group.get_by_label(str(values[item]), exact=True).check()
    page.get_by_role("button", name="Save my self-check").click()
    page.get_by_text("Saved. Secondary trauma").wait_for()


def test_self_check_trend_delete_and_talk(axe_page):  # noqa: F811
    team = TeamFactory(slug="north")
    worker = UserFactory(username="amal", role=Role.CASEWORKER, team=team)
    supervisor = UserFactory(username="sup", role=Role.SUPERVISOR, team=team)

    page = axe_page("desktop")
    axe = Axe(page)
    login(page, worker)
    page.get_by_role("link", name="My well-being").click()
    page.get_by_role("heading", name="My well-being", level=1).wait_for()
    axe.check("self-check, empty")
    _answer(page, dict.fromkeys(scale.ITEMS, 6))
    _answer(page, {item: (9 if item in scale.SECONDARY_TRAUMA else 4) for item in scale.ITEMS})
    page.get_by_role("img", name="Secondary trauma over time, from 30 to 45").wait_for()
    axe.check("self-check with trend")
    shot(page, "50-self-check")
    page.get_by_role("link", name="Delete the self-check").first.click()
    page.get_by_label("Delete this self-check for good").check()
    page.get_by_role("button", name="Delete it").click()
    page.get_by_text("The self-check was deleted.").wait_for()
    page.get_by_role("button", name="Tell my supervisor I would like to talk").click()
    page.get_by_text("Your supervisor will see that you would like to talk.").wait_for()
    page.get_by_role("button", name="Sign out").click()

    page.goto("/")
    login(page, supervisor)
    page.get_by_role("link", name="1 of your team would like to talk").click()
    page.get_by_role("heading", name="Who would like to talk").wait_for()
    axe.check("who would like to talk")
    content = page.content()
    assert "amal" in content
    for score in ("Secondary trauma", "Burnout", "45", "30"):
        assert score not in page.locator("main").inner_text()
    page.get_by_role("button", name="We have talked").click()
    page.get_by_text("Nobody has asked at the moment.").wait_for()
    assert axe.found == [], "\n".join(axe.found)


def test_hand_over_a_hard_case_and_record_supervision(axe_page):  # noqa: F811
    """AS8-2, AS8-3, AS8-5 for a caseworker and a supervisor in the browser."""
    team = TeamFactory(slug="north")
    worker = UserFactory(username="amal", role=Role.CASEWORKER, team=team)
    UserFactory(username="bo", role=Role.CASEWORKER, team=team)
    supervisor = UserFactory(username="sup", role=Role.SUPERVISOR, team=team)
    case = open_case(worker)

    page = axe_page("desktop")
    axe = Axe(page)
    login(page, worker)
    page.goto(f"/cases/{case.reference}/")
    page.get_by_role("link", name="Ask to hand this case over").click()
    axe.check("hand-over request")
    page.get_by_label("Why you would like to hand this case over").fill("Too close to home")
    page.get_by_role("button", name="Ask my supervisor").click()
    page.get_by_text("Your supervisor will see your request").wait_for()
    page.get_by_role("button", name="Sign out").click()

    page.goto("/")
    login(page, supervisor)
    page.get_by_role("link", name="Team caseload").click()
    page.get_by_role("heading", name="Requests to hand over a case").wait_for()
    axe.check("caseload with a request")
    assert "Too close to home" in page.content()
    page.get_by_label("Approve: hand the case over").check()
    page.get_by_label("Who takes the case over (approve)").select_option("bo")
    page.get_by_label("Note (approve: the handover note; decline: why)").fill("Prefers mornings")
    page.get_by_role("button", name="Record the decision").click()
    page.get_by_text(f"{case.reference}: handed over.").wait_for()
    page.get_by_label("Open cases").fill("12")
    page.get_by_label("High-risk cases").fill("3")
    page.get_by_role("button", name="Save the limits").click()
    page.get_by_text("The team's caseload limits were saved.").wait_for()

    page.get_by_role("link", name="Supervision", exact=True).click()
    page.get_by_role("heading", name="Clinical supervision").wait_for()
    axe.check("supervision")
    page.get_by_label("amal").check()
    page.get_by_label("Individual").check()
    page.get_by_label("Held on").fill(timezone.localdate().isoformat())
    page.get_by_label("Notes").fill("Talked about the hand-over")
    page.get_by_role("button", name="Record the session").click()
    page.get_by_text("Supervision session recorded.").wait_for()
    assert "Talked about the hand-over" in page.content()
    assert axe.found == [], "\n".join(axe.found)
