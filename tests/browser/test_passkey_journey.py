"""Passkeys in Chromium, with its virtual authenticator (Chrome DevTools Protocol,
``WebAuthn.addVirtualAuthenticator``): a new member of staff enrols a passkey as their
second factor and gets recovery codes; signs in again with password and passkey; with
the policy's consent, with the passkey alone; and a passkey answer for another origin is
refused. axe-core checks the passkey pages. AS9-STO-5."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django_otp_webauthn.models import WebAuthnCredential

from access import passkeys
from access.roles import Role
from audit.models import AccessEvent, Outcome
from tests.browser.test_case_life_journey import Axe, axe_page  # noqa: F401
from tests.factories import PASSWORD, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(settings: Any, live_server: Any) -> str:
    """Haven's relying party is the live server's host; its origin is accepted."""
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    return str(live_server.url)


def _authenticator(page: Any) -> tuple[Any, str]:
    """A platform authenticator with user verification, answering by itself."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    made = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, made["authenticatorId"]


def _password(page: Any, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()


def test_enrol_a_passkey_then_sign_in_with_it(axe_page, site):  # noqa: F811
    team = TeamFactory(slug="north")
    person = UserFactory(username="amira", role=Role.CASEWORKER, team=team)
    page = axe_page("phone")
    axe = Axe(page)
    cdp, authenticator = _authenticator(page)

    # First sign-in: the password, then a passkey instead of an authenticator app.
    _password(page, "amira")
    page.get_by_role("heading", name="Set up your second factor").wait_for()
    axe.check("second factor setup")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    assert page.locator(".codes li").count() == 10
    axe.check("passkeys with recovery codes")
    assert (
        len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"])
        == 1
    )
    assert WebAuthnCredential.objects.filter(user=person).count() == 1
    page.get_by_role("link", name=re.compile("I have saved them")).click()
    page.get_by_role("heading", name="My day").wait_for()

    # Name it.
    page.goto("/account/passkeys/")
    page.get_by_label(re.compile("Name of passkey")).fill("Phone of Amira أميرة")
    page.get_by_role("button", name="Rename").click()
    page.get_by_text("Passkey renamed.").wait_for()
    assert page.get_by_label(re.compile("Name of passkey")).input_value() == "Phone of Amira أميرة"
    axe.check("passkeys")
    _sign_out(page)

    # Next time: the password, then the passkey.
    _password(page, "amira")
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    axe.check("second factor with a passkey")
    page.get_by_role("button", name="Use my passkey").click()
    page.get_by_role("heading", name="My day").wait_for()
    used = AccessEvent.objects.filter(action="auth.second_factor", actor_id=person.pk).latest("id")
    assert used.outcome == Outcome.ALLOWED and used.detail["method"] == "passkey"
    _sign_out(page)

    # Where the organisation allows it: the passkey alone.
    admin = UserFactory(username="admin1", role=Role.ADMIN)
    passkeys.policy_set(
        actor=admin, passkey_sign_in=True, passkeys_required=False, reason="security_review"
    )
    # (The sign-in page also offers the passkey in the username field's autofill, which
    # this authenticator would answer at once: it waits until the page is checked.)
    presence = {"authenticatorId": authenticator, "enabled": False}
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", presence)
    page.goto("/login/")
    axe.check("sign in with a passkey offered")
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", {**presence, "enabled": True})
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_role("heading", name="My day").wait_for()
    used = AccessEvent.objects.filter(action="auth.second_factor", actor_id=person.pk).latest("id")
    assert used.detail["passwordless"] is True
    assert axe.found == [], "\n".join(axe.found)


def test_a_passkey_answer_for_another_origin_is_refused(new_page, site, settings):
    """The browser signs for the origin it is on; Haven accepts only its own. Here the
    page's origin is not one Haven accepts (as for a look-alike site relaying Haven's
    pages): enrolment is refused and nothing is stored."""
    team = TeamFactory(slug="north")
    UserFactory(username="bashir", role=Role.CLINICIAN, team=team)
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["https://haven.example.org"]
    page = new_page()
    cdp, authenticator = _authenticator(page)
    _password(page, "bashir")
    page.get_by_role("heading", name="Set up your second factor").wait_for()
    page.get_by_role("button", name="Add a passkey").click()
    page.locator("#passkey-register-status-message").filter(has_text=re.compile(".+")).wait_for()
    assert page.get_by_role("heading", name="Set up your second factor").is_visible()
    assert not WebAuthnCredential.objects.exists()
    refused = AccessEvent.objects.filter(action="auth.passkey_enrol", outcome=Outcome.DENIED)
    assert refused.exists()

    # And a passkey made here is refused once the origin is no longer Haven's.
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [site]
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    page.get_by_role("link", name=re.compile("I have saved them")).click()
    page.get_by_role("button", name="Sign out").click()
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["https://haven.example.org"]
    _password(page, "bashir")
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    denied = AccessEvent.objects.filter(
        action="auth.second_factor", outcome=Outcome.DENIED, detail__method="passkey"
    )
    page.get_by_role("button", name="Use my passkey").click()
    for _ in range(100):  # the refusal is recorded when the server has answered
        if denied.exists():
            break
        time.sleep(0.1)
    assert denied.exists()
    assert page.get_by_role("heading", name="Confirm it is you").is_visible()
    assert page.goto("/cases/").url.endswith("/account/2fa/?next=/cases/")
    assert (
        len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"])
        == 1
    )
