"""Access journeys in a real browser: enrolling the second factor on first login, the
confidentiality prompt, grant and revoke, break-glass, and the idle timeout.
AS9-STO-3, AS9-STO-5, AS9-STO-6."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.models import FormDraft
from access.roles import Role
from audit.models import Anomaly
from tests.browser.conftest import login, shot
from tests.factories import MARKERS, PASSWORD, TeamFactory, UserFactory, open_case

pytestmark = pytest.mark.django_db(transaction=True)


def _password(page, username: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_first_login_enrols_2fa_then_asks_for_the_rules(new_page):
    team = TeamFactory(slug="north")
    UserFactory(username="newbie", role=Role.CASEWORKER, team=team, accepted_rules=False)
    page = new_page()
    _password(page, "newbie")
    page.get_by_role("heading", name="Set up your second factor").wait_for()
    assert page.locator(".qr svg").count() == 1
    shot(page, "10-2fa-setup")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    import base64

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    device = TOTPDevice.objects.get(user__username="newbie")
    assert key == device.bin_key
    page.get_by_label("Code").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    assert page.locator(".codes li").count() == 10
    page.get_by_role("link", name=re.compile("I have saved them")).click()
    page.get_by_role("heading", name=re.compile("Confidentiality rules")).wait_for()
    shot(page, "11-confidentiality")
    page.get_by_label("I have read these rules and I will follow them.").check()
    page.get_by_role("button", name="Accept and continue").click()
    page.get_by_role("heading", name="My day").wait_for()


def test_supervisor_grants_and_revokes_and_the_colleague_sees_it_at_once(new_page):
    team = TeamFactory(slug="north")
    owner = UserFactory(username="owner", role=Role.CASEWORKER, team=team)
    boss = UserFactory(username="boss", role=Role.SUPERVISOR, team=team)
    cover = UserFactory(username="cover", role=Role.CASEWORKER, team=team)
    case = open_case(owner)
    colleague = new_page()
    login(colleague, cover)
    colleague.goto(f"/cases/{case.reference}/")
    assert colleague.get_by_role("heading", name="Not found").count() == 1

    page = new_page()
    login(page, boss)
    page.goto(f"/cases/{case.reference}/")
    page.get_by_role("link", name="Give someone access").click()
    page.get_by_label("Username").fill("cover")
    page.get_by_label("Reason").fill("Covering annual leave")
    page.get_by_role("button", name="Give access").click()
    page.get_by_text("Access granted.").wait_for()
    shot(page, "12-grant")

    colleague.goto(f"/cases/{case.reference}/")
    colleague.get_by_role("heading", name=re.compile("Case")).wait_for()
    assert MARKERS["summary"] in colleague.content()

    # Ending access asks for confirmation and a reason (AS9-STO-5).
    page.get_by_role("link", name="End access of cover").click()
    page.get_by_role("button", name="End access").click()
    page.get_by_text("Say why this access ends.", exact=True).wait_for()
    page.get_by_label("Why this access ends").fill("Leave is over")
    page.get_by_role("button", name="End access").click()
    page.get_by_text("Access ended. It stopped at once.").wait_for()
    colleague.goto(f"/cases/{case.reference}/")
    assert colleague.get_by_role("heading", name="Not found").count() == 1


def test_break_glass_opens_with_a_banner_and_flags_the_dpo(new_page):
    team = TeamFactory(slug="north")
    owner = UserFactory(username="owner", role=Role.CASEWORKER, team=team)
    doctor = UserFactory(username="doc", role=Role.CLINICIAN, team=TeamFactory(slug="south"))
    case = open_case(owner)
    page = new_page()
    login(page, doctor)
    page.get_by_role("link", name="Emergency access").click()
    page.get_by_label("Case reference").fill(case.reference.lower())
    page.get_by_label("Reason").fill("Unconscious on arrival, need allergies")
    page.get_by_role("button", name="Open in an emergency").click()
    page.get_by_text("Emergency access until").wait_for()
    shot(page, "13-break-glass")
    assert Anomaly.objects.filter(kind="break_glass", actor_id=doctor.pk).count() == 1


def test_an_idle_session_ends_and_asks_to_sign_in_again(new_page):
    team = TeamFactory(slug="north")
    worker = UserFactory(username="idle", role=Role.CASEWORKER, team=team)
    page = new_page()
    login(page, worker)
    page.get_by_role("heading", name="My day").wait_for()
    # 15 minutes pass without a request: the session's expiry is behind us.
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    page.reload()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.url.split("?")[0].endswith("/login/")


def test_the_idle_timeout_warns_keeps_the_typing_and_gives_it_back(new_page, settings):
    """AS9-STO-5 ends idle sessions; nothing typed is lost to it: a warning with "Stay
    signed in", then the form's fields sealed on the server (never in the browser) and
    offered back, once, after signing in again."""
    settings.SESSION_COOKIE_AGE = 24  # warns at 16 s idle, leaves at 22 s
    team = TeamFactory(slug="north")
    worker = UserFactory(username="typist", role=Role.CASEWORKER, team=team)
    case = open_case(worker)
    page = new_page()
    login(page, worker)
    page.goto(f"/cases/{case.reference}/encounters/new/")
    page.get_by_label("Notes").fill("Words that must not be lost")
    warning = page.get_by_role("alertdialog", name="You will be signed out soon")
    warning.wait_for(timeout=25_000)
    page.get_by_role("button", name="Stay signed in").click()
    warning.wait_for(state="hidden")
    page.get_by_role("heading", name="Sign in").wait_for(timeout=40_000)
    assert page.evaluate("() => window.localStorage.length + window.sessionStorage.length") == 0
    assert FormDraft.objects.filter(user=worker).count() == 1
    login(page, worker, steps_ahead=1)
    page.get_by_role("link", name="Take it back").click()
    assert page.get_by_label("Notes").input_value() == "Words that must not be lost"
    assert not FormDraft.objects.exists()
