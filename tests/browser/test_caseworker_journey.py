"""The caseworker's core journey in a real browser: log in, take in a survivor, see the
reference not the name, reveal identity (logged), record an encounter, and meet a stale
edit. AS9-STO-1, AS9-COL-1, AS9-USE-1."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from access.roles import Role
from audit.models import AccessEvent
from tests.browser.conftest import login, shot
from tests.factories import MARKERS, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_caseworker_intake_reveal_encounter_and_stale_edit(new_page):
    team = TeamFactory(slug="north")
    worker = UserFactory(username="amira", role=Role.CASEWORKER, team=team)
    page = new_page()
    login(page, worker)

    page.get_by_role("link", name="New intake").click()
    page.get_by_label("Written").check()
    page.get_by_label("Risk level").select_option("high")
    page.get_by_label("Labour exploitation").check()
    page.get_by_role("textbox", name="Given name").fill(MARKERS["given_name"])
    page.get_by_role("textbox", name="Family name").fill(MARKERS["family_name"])
    page.get_by_role("group", name="The person declined to give").get_by_label(
        "Date of birth"
    ).check()
    page.get_by_label("Care summary").fill(MARKERS["summary"])
    shot(page, "01-intake")
    page.get_by_role("button", name="Open case").click()

    heading = page.get_by_role("heading", level=1)
    heading.wait_for()
    reference = re.search(r"HV-[0-9A-Z]{4}-[0-9A-Z]{4}", heading.inner_text()).group(0)
    body = page.content()
    assert MARKERS["given_name"] not in body and MARKERS["family_name"] not in body
    assert MARKERS["summary"] in body
    shot(page, "02-case")

    page.get_by_role("button", name="Reveal identity").click()
    page.get_by_text("This reveal has been recorded").wait_for()
    assert MARKERS["given_name"] in page.content()
    assert page.get_by_text("Declined to give").count() == 1
    shot(page, "03-identity")
    event = AccessEvent.objects.filter(action="identity.view").latest("id")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        worker.pk,
        reference,
        "allowed",
    )

    page.get_by_role("link", name="Back to the case").click()
    assert MARKERS["given_name"] not in page.content()
    page.get_by_role("link", name="Record encounter").click()
    when = (timezone.localtime() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("When").fill(when)
    page.get_by_label("Kind").select_option("shelter")
    page.get_by_label("Notes").fill("Settled in; first note")
    page.get_by_label("An interpreter was used").check()
    page.get_by_role("button", name="Record encounter").click()
    page.get_by_text("Encounter recorded.").wait_for()
    assert "Settled in; first note" in page.content()

    # Two screens open the same encounter; the second save must not overwrite the first.
    edit_link = page.get_by_role("link", name=re.compile("^Edit encounter"))
    edit_url = edit_link.get_attribute("href")
    other = new_page()
    login(other, worker, steps_ahead=1)
    other.goto(edit_url)
    page.goto(edit_url)
    other.get_by_label("Notes").fill("Saved from the other screen")
    other.get_by_role("button", name="Save changes").click()
    other.get_by_text("Encounter updated.").wait_for()

    page.get_by_label("Notes").fill("My late edit")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Someone else saved this encounter").wait_for()
    assert "Saved from the other screen" in page.content()
    assert page.get_by_label("Notes").input_value() == "My late edit"
    shot(page, "04-stale-edit")

    page.get_by_role("button", name="Save changes").click()  # after comparing: save again
    page.get_by_text("Encounter updated.").wait_for()
    assert "My late edit" in page.content()
