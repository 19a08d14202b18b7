"""Passkeys as a second factor and, where the sign-in policy allows, as the whole
sign-in; the policy that requires them for roles reaching identity or clinical data;
naming and removing them. The ceremonies are driven over HTTP by a software
authenticator written from the WebAuthn specification (tests/authenticator.py), so the
server's checks of origin, site, challenge and signature are the ones tested. AS9-STO-5.
(tests/browser/test_passkey_journey.py does the same in Chromium with its virtual
authenticator.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django_otp_webauthn.models import WebAuthnCredential

from access import checks, passkeys
from access import second_factor as factor
from access.models import SignInPolicy
from access.roles import Role
from audit.models import AccessEvent, Outcome
from tests import authenticator
from tests.factories import PASSWORD
from tests.helpers import current_code, totp_device, web_client

pytestmark = pytest.mark.django_db

ORIGIN = "http://localhost:8000"
CEREMONY = "/account/2fa/passkey"


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [ORIGIN]


def _post(client: Client, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(
        f"{CEREMONY}/{path}",
        data=json.dumps(body or {}),
        content_type="application/json",
    )


def _password(user: Any) -> Client:
    """A client past the password only, as after the sign-in form."""
    client = Client()
    answer = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert answer.status_code == 302, answer.content
    return client


def _enrol(client: Client, **wrong: str) -> tuple[authenticator.Passkey, Any]:
    options = _post(client, "registration/begin/").json()
    passkey, body = authenticator.create(options, origin=wrong.get("origin", ORIGIN))
    return passkey, _post(client, "registration/complete/", body)


def _use(client: Client, passkey: authenticator.Passkey, **wrong: str) -> Any:
    options = _post(client, "authentication/begin/").json()
    body = authenticator.get(
        passkey, options, origin=wrong.get("origin", ORIGIN), rp_id=wrong.get("rp_id")
    )
    return _post(client, "authentication/complete/?next=/", body)


def _verified(client: Client) -> bool:
    return client.get("/account/password/").status_code == 200


def _with_passkey(user: Any) -> authenticator.Passkey:
    """A passkey enrolled the real way (after the password and an app's code)."""
    client = web_client(user)
    passkey, answer = _enrol(client)
    assert answer.status_code == 200, answer.content
    return passkey


def test_a_passkey_can_be_the_first_second_factor_and_brings_recovery_codes(caseworker):
    """AS9-STO-5: at first sign-in a passkey instead of an authenticator app; the
    recovery codes come with it and are shown once."""
    client = _password(caseworker)
    assert client.get("/").url.startswith("/account/2fa/")
    assert client.get("/account/2fa/setup/").status_code == 200
    passkey, answer = _enrol(client)
    assert answer.status_code == 200, answer.content
    assert _verified(client)
    page = client.get("/account/passkeys/").content.decode()
    codes = factor.StaticToken.objects.filter(device__user=caseworker)
    assert codes.count() == factor.RECOVERY_CODES and codes[0].token in page
    assert codes[0].token not in client.get("/account/passkeys/").content.decode()  # once
    assert AccessEvent.objects.filter(action="auth.passkey_enrol", actor_id=caseworker.pk).exists()

    # Next time: password, then the passkey.
    again = _password(caseworker)
    assert not _verified(again)
    answer = _use(again, passkey)
    assert answer.status_code == 200, answer.content
    assert answer.json()["redirect_url"] == "/"
    assert _verified(again)
    event = AccessEvent.objects.filter(action="auth.second_factor", actor_id=caseworker.pk).latest(
        "id"
    )
    assert event.outcome == Outcome.ALLOWED and event.detail["method"] == "passkey"


def test_a_passkey_answer_from_another_origin_is_refused(caseworker):
    """AS9-STO-5, phishing: a look-alike site that relays Haven's challenge gets an
    answer naming its own origin, which Haven refuses."""
    passkey = _with_passkey(caseworker)
    client = _password(caseworker)
    answer = _use(client, passkey, origin="https://haven-login.example")
    assert answer.status_code in (400, 403, 422) and not _verified(client)
    denied = AccessEvent.objects.filter(action="auth.second_factor", outcome=Outcome.DENIED)
    assert denied.filter(actor_id=caseworker.pk).exists()


def test_a_passkey_made_for_another_site_is_refused(caseworker):
    """AS9-STO-5: an assertion signed for another relying party id does not pass."""
    passkey = _with_passkey(caseworker)
    client = _password(caseworker)
    answer = _use(client, passkey, rp_id="haven-login.example")
    assert answer.status_code in (400, 403, 422) and not _verified(client)


@pytest.mark.parametrize("code", ["Invalid_origin", "désolé", "bad_code\n", "x" * 65, ""])
def test_a_refusal_records_only_a_code_of_its_own_shape(caseworker, code):
    """AS9-STO-5, AS9-USE-1: what the library calls its error goes into the log only
    when it is a plain code; anything else (text, a trailing newline) becomes
    "refused" instead of being written or failing the sign-in's record."""
    passkeys.refused(caseworker, code)
    event = AccessEvent.objects.filter(action="auth.second_factor").latest("id")
    assert event.outcome == Outcome.DENIED and event.reason == "refused"
    passkeys.refused(caseworker, "invalid_origin")
    assert AccessEvent.objects.latest("id").reason == "invalid_origin"


def test_enrolment_from_another_origin_is_refused(caseworker):
    client = _password(caseworker)
    _, answer = _enrol(client, origin="https://haven-login.example")
    assert answer.status_code in (400, 403, 422)
    assert not WebAuthnCredential.objects.filter(user=caseworker).exists()


def test_someone_elses_passkey_is_refused(caseworker, clinician):
    theirs = _with_passkey(clinician)
    _with_passkey(caseworker)
    client = _password(caseworker)
    answer = _use(client, theirs)
    assert answer.status_code == 403 and not _verified(client)


def test_an_assertion_is_accepted_once(caseworker):
    """A captured answer cannot be replayed: the challenge is spent on first use."""
    passkey = _with_passkey(caseworker)
    client = _password(caseworker)
    options = _post(client, "authentication/begin/").json()
    body = authenticator.get(passkey, options, origin=ORIGIN)
    assert _post(client, "authentication/complete/", body).status_code == 200
    other = _password(caseworker)
    _post(other, "authentication/begin/")
    assert _post(other, "authentication/complete/", body).status_code in (400, 403, 422)
    assert not _verified(other)


def test_a_password_alone_cannot_add_a_passkey_to_an_account_with_a_second_factor(
    caseworker,
):
    """Otherwise a stolen password would enrol the thief's passkey."""
    totp_device(caseworker)
    client = _password(caseworker)
    assert _post(client, "registration/begin/").status_code == 403
    assert not WebAuthnCredential.objects.exists()


def test_sign_in_with_a_passkey_alone_only_where_the_policy_allows(caseworker, admin_user):
    """AS9-STO-5: passwordless sign-in is the organisation's choice, off by default."""
    passkey = _with_passkey(caseworker)
    anonymous = Client()
    assert "Sign in with a passkey" not in anonymous.get("/login/").content.decode()
    assert _post(anonymous, "authentication/begin/").status_code == 403
    assert not _verified(anonymous)

    passkeys.policy_set(
        actor=admin_user, passkey_sign_in=True, passkeys_required=False, reason="security_review"
    )
    assert "Sign in with a passkey" in anonymous.get("/login/").content.decode()
    answer = _use(anonymous, passkey)
    assert answer.status_code == 200, answer.content
    assert _verified(anonymous)
    event = AccessEvent.objects.filter(action="auth.second_factor", actor_id=caseworker.pk).latest(
        "id"
    )
    assert event.detail == {
        "method": "passkey",
        "passkey": event.detail["passkey"],
        "passwordless": True,
    }


def test_the_policy_can_require_passkeys_of_roles_reaching_identity_or_clinical_data(
    caseworker, dpo, admin_user
):
    """AS9-STO-5: with the policy on, a caseworker who signs in with an app's code is
    asked to add a passkey before anything else; from then on the app's code is
    refused and the passkey or a recovery code is taken. A DPO, who reads no identity
    or clinical notes, is not asked."""
    passkeys.policy_set(
        actor=admin_user, passkey_sign_in=False, passkeys_required=True, reason="security_review"
    )
    assert passkeys.required_for(caseworker) and not passkeys.required_for(dpo)
    device = totp_device(caseworker)
    client = _password(caseworker)
    answer = client.post("/account/2fa/?next=/cases/", {"token": current_code(device)})
    assert answer.url.startswith("/account/passkeys/")
    assert client.get("/cases/").url.startswith("/account/passkeys/")
    assert "Add one now" in client.get("/account/passkeys/").content.decode()
    passkey, answer = _enrol(client)
    assert answer.status_code == 200
    assert not client.get("/cases/").get("Location", "").startswith("/account/passkeys/")

    again = _password(caseworker)
    page = again.get("/account/2fa/").content.decode()
    assert "Use my passkey" in page and "Recovery code" in page
    refused = again.post("/account/2fa/", {"token": current_code(device, steps_ahead=1)})
    assert refused.status_code == 400 and not _verified(again)
    assert AccessEvent.objects.filter(reason="passkey_required", actor_id=caseworker.pk).exists()
    code = factor.StaticToken.objects.filter(device__user=caseworker).first()
    assert again.post("/account/2fa/", {"token": code.token}).status_code == 302
    assert _verified(again)

    dpo_device = totp_device(dpo)
    dpo_client = _password(dpo)
    dpo_client.post("/account/2fa/", {"token": current_code(dpo_device)})
    assert _verified(dpo_client)
    assert not dpo_client.get("/audit/").get("Location", "").startswith("/account/passkeys/")


def test_passkeys_are_named_and_removed_with_a_reason(caseworker, clinician):
    _with_passkey(caseworker)
    _with_passkey(caseworker)
    client = web_client(caseworker)
    first, second = passkeys.passkeys_of(caseworker)
    answer = client.post(
        f"/account/passkeys/{first.pk}/rename/", {f"k{first.pk}-name": "Phone ไทย"}
    )
    assert answer.status_code == 302
    first.refresh_from_db()
    assert first.name == "Phone ไทย"
    assert "Phone ไทย" in client.get("/account/passkeys/").content.decode()

    remove = f"/account/passkeys/{second.pk}/remove/"
    assert client.get(remove).status_code == 200
    assert client.post(remove, {"reason": "lost"}).status_code == 400  # not confirmed
    assert client.post(remove, {"confirm": "on"}).status_code == 400  # no reason
    assert client.post(remove, {"confirm": "on", "reason": "free text"}).status_code == 400
    assert WebAuthnCredential.objects.filter(pk=second.pk).exists()
    assert client.post(remove, {"confirm": "on", "reason": "lost"}).status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=second.pk).exists()
    event = AccessEvent.objects.get(action="auth.passkey_remove")
    assert event.reason == "lost" and event.actor_id == caseworker.pk

    theirs = _with_passkey(clinician)
    assert theirs  # someone else's passkey is not found from this account
    other = passkeys.passkeys_of(clinician)[0]
    answer = client.post(
        f"/account/passkeys/{other.pk}/remove/", {"confirm": "on", "reason": "lost"}
    )
    assert answer.status_code == 302 and WebAuthnCredential.objects.filter(pk=other.pk).exists()


def test_the_last_passkey_cannot_be_removed_while_the_policy_requires_one(caseworker, admin_user):
    _with_passkey(caseworker)
    passkeys.policy_set(
        actor=admin_user, passkey_sign_in=False, passkeys_required=True, reason="security_review"
    )
    only = passkeys.passkeys_of(caseworker)[0]
    client = web_client(caseworker)
    answer = client.post(
        f"/account/passkeys/{only.pk}/remove/", {"confirm": "on", "reason": "lost"}
    )
    assert answer.status_code == 400 and "add another" in answer.content.decode()
    assert WebAuthnCredential.objects.filter(pk=only.pk).exists()


def test_only_an_administrator_sets_the_policy_and_gives_a_reason(admin_user, supervisor):
    page = "/staff/sign-in-policy/"
    assert (
        web_client(supervisor)
        .post(page, {"passkeys_required": "on", "reason": "incident"})
        .status_code
        == 403
    )
    client = web_client(admin_user)
    assert client.post(page, {"passkeys_required": "on"}).status_code == 400
    assert not SignInPolicy.objects.exists()
    assert (
        client.post(page, {"passkeys_required": "on", "reason": "security_review"}).status_code
        == 302
    )
    policy = SignInPolicy.current()
    assert policy.passkeys_required and not policy.passkey_sign_in
    event = AccessEvent.objects.get(action="staff.sign_in_policy", outcome=Outcome.ALLOWED)
    assert event.reason == "security_review" and event.detail["passkeys_required"] is True
    form = client.get(page).content.decode()  # the form opens with what is stored
    assert re.search(r'<input[^>]*name="passkeys_required"[^>]*checked', form)
    assert not re.search(r'<input[^>]*name="passkey_sign_in"[^>]*checked', form)


def test_an_administrator_reset_removes_passkeys_too(caseworker, admin_user):
    _with_passkey(caseworker)
    client = web_client(admin_user)
    answer = client.post(
        f"/staff/{caseworker.username}/second-factor/", {"reason": "lost_device", "confirm": "on"}
    )
    assert answer.status_code == 302, answer.content
    assert not WebAuthnCredential.objects.filter(user=caseworker).exists()


def test_a_role_without_identity_or_clinical_access_is_not_covered():
    assert passkeys.SENSITIVE
    covered = {role for role in Role if passkeys.SENSITIVE & passkeys.capabilities_of(role)}
    assert covered == {Role.CASEWORKER, Role.CLINICIAN, Role.SUPERVISOR}


def test_check_deploy_refuses_passkey_origins_of_another_site(settings):
    """A deploy whose passkey origins are not the site's own (or not https) is refused."""
    settings.OTP_WEBAUTHN_RP_ID = "haven.example.org"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["https://haven.example.org"]
    assert checks.passkeys_bound_to_this_site() == []
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["https://haven.example.org.evil.example"]
    assert [m.id for m in checks.passkeys_bound_to_this_site()] == ["haven.E011"]
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["http://haven.example.org"]
    assert [m.id for m in checks.passkeys_bound_to_this_site()] == ["haven.E011"]
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = []
    assert [m.id for m in checks.passkeys_bound_to_this_site()] == ["haven.W010"]


def test_ones_only_second_factor_cannot_be_removed(caseworker):
    """Otherwise the next sign-in would enrol a new second factor with the password
    alone, which a stolen password could then do."""
    client = _password(caseworker)
    _enrol(client)  # the first and only second factor: no authenticator app
    only = passkeys.passkeys_of(caseworker)[0]
    answer = client.post(
        f"/account/passkeys/{only.pk}/remove/", {"confirm": "on", "reason": "replaced"}
    )
    assert answer.status_code == 400 and "only second factor" in answer.content.decode()
    assert WebAuthnCredential.objects.filter(pk=only.pk).exists()


def test_the_staff_list_counts_a_passkey_alone_as_a_second_factor(admin_user, make_staff):
    """AS9-STO-5: the administrator's list shows who has no second factor yet, and a
    passkey without an authenticator app is one (its reset is offered, not a warning)."""
    person = make_staff(Role.CASEWORKER, username="pk_only")
    admin = web_client(admin_user)
    row = re.compile(r"<tr>(?:(?!</tr>).)*pk_only(?:(?!</tr>).)*</tr>", re.S)
    before = row.search(admin.get("/staff/").content.decode()).group(0)
    assert "no second factor yet" in before and "Reset second factor" not in before
    _with_passkey(person)
    person.totpdevice_set.all().delete()
    assert not person.has_authenticator_app() and factor.enrolled(person)
    after = row.search(admin.get("/staff/").content.decode()).group(0)
    assert "no second factor yet" not in after and "Reset second factor" in after
