"""Staff sign-in: second factor, lockout, session limits, confidentiality rules, admin
screens. AS9-STO-5, AS9-STO-6."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.models import ConfidentialityAcceptance
from access.roles import Role
from access.services import confidentiality_publish
from audit.models import AccessEvent
from tests.factories import MARKERS, PASSWORD, UserFactory, open_case
from tests.helpers import current_code, totp_device, web_client

pytestmark = pytest.mark.django_db


def _password_login(username: str, password: str = PASSWORD) -> tuple[Client, object]:
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    return client, response


def test_first_login_enrols_a_second_factor_with_recovery_codes(caseworker):
    """AS9-STO-5: nothing is reachable with the password alone."""
    client, response = _password_login(caseworker.username)
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 302 and home["Location"].startswith("/account/2fa/")
    setup = client.get("/account/2fa/setup/")
    page = setup.content.decode()
    assert "<svg" in page and 'id="totp-secret"' in page
    device = TOTPDevice.objects.get(user=caseworker, confirmed=False)
    done = client.post("/account/2fa/setup/", {"token": current_code(device), "next": "/"})
    assert done.status_code == 200
    codes = StaticToken.objects.filter(device__user=caseworker)
    assert codes.count() == 10
    assert all(c.token in done.content.decode() for c in codes)
    assert client.get("/cases/").status_code == 200
    assert AccessEvent.objects.filter(
        action="auth.second_factor_enrol", actor_id=caseworker.pk
    ).exists()


def test_later_logins_ask_for_a_code_and_refuse_a_wrong_one(caseworker):
    device = totp_device(caseworker)
    client, _ = _password_login(caseworker.username)
    assert client.get("/")["Location"].startswith("/account/2fa/?next=/")
    wrong = client.post("/account/2fa/", {"token": "000000"})
    assert wrong.status_code == 400
    denied = AccessEvent.objects.get(action="auth.second_factor", outcome="denied")
    assert denied.actor_id == caseworker.pk
    assert client.get("/").status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # django-otp slows down guessing
    device.throttle_reset()  # as if the back-off delay had passed
    ok = client.post("/account/2fa/", {"token": current_code(device), "next": "/"})
    assert ok.status_code == 302
    assert client.get("/cases/").status_code == 200


def test_a_code_is_accepted_once_and_the_next_step_after_the_clock_was_learned(caseworker):
    """AS9-STO-5: a used code is refused (replay), and the test helper's next code is
    accepted even when the device has learned that the phone's clock runs a step
    behind (a code made just before a 30 s boundary and checked just after it)."""
    device = totp_device(caseworker)
    code = current_code(device)
    first, _ = _password_login(caseworker.username)
    assert first.post("/account/2fa/", {"token": code}).status_code == 302
    replay, _ = _password_login(caseworker.username)
    assert replay.post("/account/2fa/", {"token": code}).status_code == 400
    device.refresh_from_db()
    device.throttle_reset()
    device.drift, device.last_t = -1, device.last_t - 1
    device.save()
    second, _ = _password_login(caseworker.username)
    ok = second.post("/account/2fa/", {"token": current_code(device, steps_ahead=1)})
    assert ok.status_code == 302


def test_a_recovery_code_works_once(caseworker):
    from django_otp.plugins.otp_static.models import StaticDevice

    totp_device(caseworker)
    static = StaticDevice.objects.create(user=caseworker, name="recovery codes")
    static.token_set.create(token="recover1")
    first, _ = _password_login(caseworker.username)
    assert first.post("/account/2fa/", {"token": "recover1"}).status_code == 302
    second, _ = _password_login(caseworker.username)
    assert second.post("/account/2fa/", {"token": "recover1"}).status_code == 400


def test_a_session_without_second_factor_cannot_use_the_api(caseworker):
    case = open_case(caseworker)
    client = web_client(caseworker, verified=False)
    response = client.get(f"/api/v1/cases/{case.reference}/")
    assert response.status_code == 403
    assert response.json()["code"] == "second_factor_required"
    assert MARKERS["summary"] not in response.content.decode()


def test_lockout_after_repeated_failures_says_the_same_for_any_username(caseworker, settings):
    """AS9-STO-5: locked for a cool-off, without revealing whether the account exists."""
    bodies = {}
    for username in (caseworker.username, "no-such-person"):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            _, response = _password_login(username, "wrong password")
            assert response.status_code == 200
        _, locked = _password_login(username, "wrong password")  # the limit-th failure
        assert locked.status_code == 429
        # The page's forms carry a fresh CSRF token each time; nothing else may differ.
        bodies[username] = re.sub(
            r'name="csrfmiddlewaretoken" value="[^"]+"', "", locked.content.decode()
        )
    assert bodies[caseworker.username] == bodies["no-such-person"]
    _, still = _password_login(caseworker.username)  # even the right password
    assert still.status_code == 429
    assert AccessEvent.objects.filter(action="auth.lockout").exists()


def test_sessions_end_after_idle_time_and_after_twelve_hours(caseworker, settings):
    assert settings.SESSION_COOKIE_AGE == 15 * 60 and settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_COOKIE_HTTPONLY and settings.SESSION_COOKIE_SAMESITE == "Strict"
    idle = web_client(caseworker)
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert idle.get("/")["Location"].startswith("/login/")
    long = web_client(caseworker)
    session = long.session
    session["haven_auth_at"] = (timezone.now() - dt.timedelta(hours=12, seconds=1)).timestamp()
    session.save()
    response = long.get("/")
    assert response["Location"] == "/login/?expired=1"
    assert long.get("/")["Location"].startswith("/login/")


def test_changing_the_password_signs_out_every_other_session(caseworker):
    kept, other = web_client(caseworker), web_client(caseworker)
    response = kept.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-passphrase-9",
            "new_password2": "a-new-long-passphrase-9",
        },
    )
    assert response.status_code == 302
    assert kept.get("/cases/").status_code == 200
    assert other.get("/")["Location"].startswith("/login/")


def test_nothing_is_reachable_before_accepting_the_rules_and_a_new_version_asks_again(api, team):
    """AS9-STO-6."""
    newcomer = UserFactory(username="new", role=Role.CASEWORKER, team=team, accepted_rules=False)
    case = open_case(newcomer)
    client = web_client(newcomer)
    assert client.get(f"/cases/{case.reference}/")["Location"].startswith(
        "/account/confidentiality/"
    )
    api_response = api(newcomer).get(f"/api/v1/cases/{case.reference}/")
    assert api_response.status_code == 403
    assert api_response.json()["code"] == "confidentiality_not_accepted"
    page = client.get("/account/confidentiality/").content.decode()
    assert "version 1" in page
    accepted = client.post("/account/confidentiality/", {"version": 1, "accept": "on", "next": "/"})
    assert accepted.status_code == 302
    assert ConfidentialityAcceptance.objects.get(user=newcomer).rules.version == 1
    assert client.get(f"/cases/{case.reference}/").status_code == 200
    confidentiality_publish(text="Version two of the rules.", by=None)
    assert client.get("/")["Location"].startswith("/account/confidentiality/")
    stale = client.post("/account/confidentiality/", {"version": 1, "accept": "on"})
    assert stale.status_code == 302
    assert ConfidentialityAcceptance.objects.filter(user=newcomer).count() == 1
    client.post("/account/confidentiality/", {"version": 2, "accept": "on"})
    assert client.get("/cases/").status_code == 200


def test_admin_screens_are_for_the_admin_role_and_show_no_survivor_data(
    caseworker, admin_user, make_staff
):
    open_case(caseworker)
    client = web_client(admin_user)
    for url in (
        "/admin/",
        "/admin/access/user/",
        "/admin/access/team/",
        "/admin/access/apitoken/",
        "/admin/access/confidentialityrules/",
        f"/admin/access/user/{caseworker.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        for marker in MARKERS.values():
            assert marker not in response.content.decode(), (url, marker)
    assert client.get("/admin/cases/case/").status_code == 404
    root = make_staff(Role.CASEWORKER, username="root", is_superuser=True, is_staff=True)
    assert web_client(root).get("/admin/access/user/").status_code == 302
    assert web_client(admin_user, verified=False).get("/admin/").status_code == 302


def test_a_password_only_session_cannot_change_the_password(caseworker):
    """AS9-STO-5: before the second factor, nothing under /account/ but the second-factor
    pages answers; in particular the password cannot be changed (which would sign the
    real user out everywhere)."""
    totp_device(caseworker)
    client, _ = _password_login(caseworker.username)
    page = client.get("/account/password/")
    assert page.status_code == 302 and page["Location"].startswith("/account/2fa/")
    change = client.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "an-entirely-new-passphrase-42",
            "new_password2": "an-entirely-new-passphrase-42",
        },
    )
    assert change.status_code == 302 and change["Location"].startswith("/account/2fa/")
    caseworker.refresh_from_db()
    assert caseworker.check_password(PASSWORD)
    rules = client.get("/account/confidentiality/")
    assert rules.status_code == 302 and rules["Location"].startswith("/account/2fa/")
    assert client.get("/account/2fa/").status_code == 200


def test_with_no_rules_published_nobody_reaches_anything(caseworker, api):
    """AS9-STO-6, fail closed: if the published rules were removed, no acceptance can
    count and nothing opens until an admin publishes them again."""
    from access.models import ConfidentialityAcceptance, ConfidentialityRules

    ConfidentialityAcceptance.objects.all().delete()
    ConfidentialityRules.objects.all().delete()
    assert api(caseworker).get("/api/v1/cases/").json()["code"] == "confidentiality_not_accepted"
    page = web_client(caseworker).get("/", follow=True)
    assert page.status_code == 503 and b"No confidentiality rules" in page.content
