"""add_staff, issue_token and bearer tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import ApiToken, User
from cases.models import Case, CaseService, CaseTask, PlanGoal

pytestmark = pytest.mark.django_db


def _call(*args: str, stdin: str | None = None) -> str:
    out = StringIO()
    if stdin is not None:
        import sys

        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            call_command(*args, stdout=out)
        finally:
            sys.stdin = old
    else:
        call_command(*args, stdout=out)
    return out.getvalue()


def test_add_staff_is_idempotent_and_reads_the_password_from_stdin():
    _call(
        "add_staff",
        "maria",
        "--role",
        "caseworker",
        "--team",
        "east",
        "--password-stdin",
        stdin="a-long-passphrase-1\n",
    )
    _call("add_staff", "maria", "--role", "supervisor", "--team", "east")
    assert User.objects.filter(username="maria").count() == 1
    maria = User.objects.get(username="maria")
    assert maria.role == "supervisor" and maria.team.slug == "east"
    assert maria.check_password("a-long-passphrase-1")
    assert not maria.is_superuser


def test_add_staff_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        _call("add_staff", "x", "--role", "janitor")


def test_issue_token_prints_only_the_token_and_stores_only_its_hash(caseworker):
    """AS9-STO-5: a copied database holds no usable token."""
    out = _call("issue_token", caseworker.username, "--days", "3")
    token = out.strip()
    assert out.count("\n") == 1 and token.startswith("hvn_") and len(token) > 40
    stored = ApiToken.objects.get(user=caseworker)
    assert stored.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(stored.__dict__)
    assert (
        dt.timedelta(days=2, hours=23) < stored.expires_at - timezone.now() <= dt.timedelta(days=3)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/cases/").status_code == 200


def test_expired_revoked_and_forged_tokens_are_refused(caseworker, last_event):
    """AS9-STO-5: bearer tokens, the only way round the second factor, end when they
    expire or are revoked."""
    token = _call("issue_token", caseworker.username).strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/api/v1/cases/").status_code == 401
    ApiToken.objects.update(
        expires_at=timezone.now() + dt.timedelta(days=1), revoked_at=timezone.now()
    )
    assert client.get("/api/v1/cases/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Bearer hvn_forged")
    response = client.get("/api/v1/cases/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    event = last_event(action="auth.token")
    assert (event.outcome, event.reason) == ("denied", "invalid")


def test_issue_token_refuses_unknown_users_and_silly_lifetimes(caseworker):
    with pytest.raises(CommandError):
        _call("issue_token", "nobody")
    with pytest.raises(CommandError):
        _call("issue_token", caseworker.username, "--days", "0")


def test_seed_demo_is_safe_to_run_twice():
    _call("seed_demo", "--allow-outside-demo", "--cases", "6")
    first = Case.objects.count()
    _call("seed_demo", "--allow-outside-demo", "--cases", "6")
    assert first == 6 and Case.objects.count() == 6
    assert set(User.objects.values_list("role", flat=True)) == {
        "caseworker",
        "clinician",
        "supervisor",
        "dpo",
        "admin",
    }


def test_seed_demo_gives_my_day_something_to_show():
    _call("seed_demo", "--allow-outside-demo", "--cases", "6")
    assert PlanGoal.objects.exists() and CaseService.objects.exists()
    assert CaseTask.objects.exists()


def test_demo_banner_names_the_port_and_each_users_team():
    out = _call("demo_banner", "--port", "8123")
    assert "http://127.0.0.1:8123/" in out and "8000" not in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["caseworker"].endswith("team north")
    assert lines["caseworker2"].endswith("team south")
    assert lines["dpo"].endswith("no team")


def test_seed_demo_refuses_outside_demo_mode():
    with pytest.raises(CommandError, match="HAVEN_DEMO"):
        _call("seed_demo")
