"""Signing staff in for page tests (a real session that has passed the second factor),
and reading a page's forms as a browser would submit them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.models import User
from bench import softhsm

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def totp_device(user: User) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test", confirmed=True)


def current_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The authenticator's code, as a phone whose clock the device has learned would
    show it. A code is accepted once (replay protection), so a second sign-in within the
    same 30 s passes ``steps_ahead=1``. The step follows the device's learned drift and
    is never one already used: a first sign-in whose code was made just before a 30 s
    boundary and checked just after it leaves the device at drift -1, and a code made
    without that drift would then fall outside the window."""
    device.refresh_from_db(fields=["drift", "last_t"])
    now = int((time.time() - device.t0) // device.step)
    step = max(now + device.drift + steps_ahead, device.last_t + 1)
    code = hotp(device.bin_key, step, digits=device.digits)
    return f"{code:06d}"


def web_client(user: User, *, verified: bool = True) -> Client:
    """A browser-like client signed in as ``user``; ``verified`` means the session
    passed the second factor, as after a real sign-in."""
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    if verified:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
        session.save()
    return client


# --- forms as a browser submits them -----------------------------------------------


@dataclass
class HtmlForm:
    """A form read from a page: where it posts, and the values a browser would send if
    the user changed nothing (checked boxes, selected options, typed text)."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    def values(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in self.fields:
            out.setdefault(name, []).append(value)
        return out

    def data(self, **changes: Any) -> dict[str, Any]:
        """The submission, with ``changes`` (a list replaces a multi-value field)."""
        data: dict[str, Any] = {k: v if len(v) > 1 else v[0] for k, v in self.values().items()}
        data.update(changes)
        return data


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self._form: HtmlForm | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._option: tuple[str, bool] | None = None
        self._option_text = ""
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = HtmlForm(action=a.get("action", ""), method=a.get("method", "get"))
            self.forms.append(self._form)
        if self._form is None:
            return
        if a.get("id") and a.get("name"):
            self._form.ids[a["name"]] = a["id"]
        if tag == "input" and a.get("name") and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "file", "reset", "image"):
                self._form.fields.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select, self._select_first, self._select_chosen = a["name"], None, False
        elif tag == "option" and self._select is not None:
            self._option = (a.get("value"), "selected" in a)  # type: ignore[assignment]
            self._option_text = ""
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data
        if self._option is not None:
            self._option_text += data

    def handle_endtag(self, tag: str) -> None:
        if self._form is None:
            return
        if tag == "option" and self._option is not None and self._select is not None:
            value, selected = self._option
            value = self._option_text.strip() if value is None else value
            if self._select_first is None:
                self._select_first = value
            if selected and not self._select_chosen:
                self._form.fields.append((self._select, value))
                self._select_chosen = True
            self._option = None
        elif tag == "select" and self._select is not None:
            if not self._select_chosen and self._select_first is not None:
                self._form.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # A browser drops the one newline that follows <textarea>.
            text = self._text[1:] if self._text.startswith("\n") else self._text
            self._form.fields.append((self._textarea, text.replace("\r\n", "\n")))
            self._textarea = None
        elif tag == "form":
            self._form = None


def html_forms(html: str | bytes) -> list[HtmlForm]:
    parser = _FormParser()
    parser.feed(html.decode() if isinstance(html, bytes) else html)
    return parser.forms


def page_form(client: Client, url: str, *, containing: str = "csrfmiddlewaretoken") -> HtmlForm:
    """The first POST form on the page at ``url`` with a field named ``containing``,
    its action resolved against ``url``."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    for form in html_forms(response.content):
        if form.method.lower() == "post" and containing in form.values():
            form.action = form.action or url
            return form
    raise AssertionError(f"no POST form with {containing!r} on {url}")


def db_pk(obj: Any) -> Any:
    """``obj``'s primary key as raw SQL must pass it (SQLite keeps UUIDs as hex text)."""
    return obj._meta.pk.get_db_prep_value(obj.pk, connection)


def pg_dump_text() -> str:
    """The whole test database as `pg_dump` prints it (PostgreSQL only)."""
    settings = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    done = subprocess.run(
        [
            shutil.which("pg_dump") or "pg_dump",
            "--host",
            settings.get("HOST") or "127.0.0.1",
            "--port",
            str(settings.get("PORT") or 5432),
            "--username",
            settings.get("USER") or "postgres",
            "--no-owner",
            settings["NAME"],
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


JS_TOOLS = Path(__file__).resolve().parent / "js"


def fhir_validation(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What two validators from outside the project (the official FHIR R4 JSON schema
    and @medplum/core) find wrong with each resource (tests/js/validate_fhir.mjs)."""
    node = shutil.which("node")
    if node is None or not (JS_TOOLS / "node_modules").exists():
        if os.environ.get("HAVEN_REQUIRE_NODE_TOOLS"):
            pytest.fail("node and tests/js/node_modules are needed (npm ci --prefix tests/js)")
        pytest.skip("FHIR validators not installed (npm ci --prefix tests/js)")
    result = subprocess.run(  # noqa: S603 (node and a script of this repository)
        [node, str(JS_TOOLS / "validate_fhir.mjs")],
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report: list[dict[str, Any]] = json.loads(result.stdout)
    return report


@dataclass(frozen=True)
class SoftToken:
    """A SoftHSM2 token initialised for this test run, in a temporary directory."""

    module: str
    label: str
    pin_file: Path


def softhsm_token(root: Path, label: str = "haven-test") -> SoftToken:
    """Initialise a SoftHSM2 token under ``root`` (``bench.softhsm``), its PIN in a file
    as ``HAVEN_PKCS11_PIN_FILE`` wants it. Skips when SoftHSM2 is not installed, unless
    HAVEN_REQUIRE_SOFTHSM is set (CI)."""
    if softhsm.installed() is None:
        if os.environ.get("HAVEN_REQUIRE_SOFTHSM"):
            pytest.fail("SoftHSM2 is needed (apt-get install softhsm2)")
        pytest.skip("SoftHSM2 not installed (apt-get install softhsm2)")
    made = softhsm.make_token(root, label, "4821-test-pin")
    pin_file = root / "pin"
    pin_file.write_text(made.pin + "\n")
    pin_file.chmod(0o600)
    return SoftToken(module=made.module, label=made.label, pin_file=pin_file)
