"""Care for the carers in a real browser, checked with axe-core: a caseworker answers
the self-check twice, sees the trend, deletes one with confirmation and tells the
supervisor they would like to talk; the supervisor sees only that. AS8-4."""

from __future__ import annotations

import pytest

from access.roles import Role
from carers import scale
from tests.browser.conftest import login, shot
from tests.browser.test_case_life_journey import Axe, axe_page  # noqa: F401  (fixture)
from tests.factories import TeamFactory, UserFactory

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
