"""Errors never echo what was submitted (standing rule 2): not in API answers, not in
form errors, whatever the field and whatever the wrong value. AS9-STO-1."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from django import forms
from django.utils import timezone
from rest_framework import serializers

from access.services import grant_assign
from cases.api import serializers as case_inputs
from cases.services import consent_record
from haven.no_echo import echoing_templates
from tests.factories import add_encounter, open_case

pytestmark = pytest.mark.django_db

MARKER = "Fatima-Al-Zahra-ECHO"
# A marker in every shape a field might receive: text, list, object, number-like text.
WRONG_VALUES = [MARKER, [MARKER], {MARKER: MARKER}, f"{MARKER}-2024-13-45", f"1{MARKER}"]


def test_no_field_class_has_an_error_message_that_quotes_the_input():
    assert echoing_templates() == []


def _fields(serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
    return serializer_class().get_fields()


def _bodies(serializer_class: type[serializers.Serializer[Any]]) -> list[dict[str, Any]]:
    """For every field (nested ones included), bodies that put a marker in it."""
    bodies: list[dict[str, Any]] = []
    for name, field in _fields(serializer_class).items():
        for value in WRONG_VALUES:
            bodies.append({name: value})
        child = getattr(field, "child", None)
        nested = child if isinstance(child, serializers.Serializer) else field
        if isinstance(nested, serializers.Serializer):
            many = isinstance(field, serializers.ListSerializer)
            for inner in _bodies(type(nested)):
                bodies.append({name: [inner] if many else inner})
    bodies.append({MARKER: 1})  # an unknown key that is not a field name
    bodies.append({"a b " + MARKER: 1})
    return bodies


def _endpoints(case: Any, encounter: Any, consent: Any) -> list[tuple[str, str, Any]]:
    ref = case.reference
    return [
        ("post", "/api/v1/cases/", case_inputs.CaseCreateInput),
        ("post", "/api/v1/cases/search/", case_inputs.CaseSearchInput),
        ("patch", f"/api/v1/cases/{ref}/identity/", case_inputs.IdentityPatchInput),
        ("post", f"/api/v1/cases/{ref}/encounters/", case_inputs.EncounterInput),
        (
            "patch",
            f"/api/v1/cases/{ref}/encounters/{encounter.pk}/",
            case_inputs.EncounterPatchInput,
        ),
        ("post", f"/api/v1/cases/{ref}/consents/", case_inputs.ConsentInput),
        ("post", f"/api/v1/cases/{ref}/consents/{consent.pk}/withdraw/", case_inputs.WithdrawInput),
        ("post", f"/api/v1/cases/{ref}/grants/", case_inputs.GrantInput),
        ("post", f"/api/v1/cases/{ref}/break-glass/", case_inputs.BreakGlassInput),
        ("post", f"/api/v1/cases/{ref}/referrals/", case_inputs.ReferralInput),
        ("post", "/api/v1/organisations/", case_inputs.OrganisationInput),
    ]


def test_api_errors_never_contain_the_submitted_value(api, supervisor, clinician):
    case = open_case(supervisor)
    grant_assign(case=case, user=clinician, granted_by=supervisor)
    encounter = add_encounter(supervisor, case)
    consent = consent_record(
        actor=supervisor,
        case=case,
        scope="research",
        method="verbal",
        given_at=timezone.now() - dt.timedelta(hours=1),
    )
    checked = 0
    for user in (supervisor, clinician):
        client = api(user)
        for method, url, serializer_class in _endpoints(case, encounter, consent):
            for body in _bodies(serializer_class):
                response = getattr(client, method)(url, body, format="json")
                if response.status_code < 400:
                    continue  # accepted: the value is the caller's own data, shown back
                text = response.content.decode()
                assert MARKER not in text, (method, url, body, text[:500])
                checked += 1
    assert checked > 400


def test_audit_filter_errors_never_contain_the_submitted_value(api, dpo):
    client = api(dpo)
    for name in ("case", "actor", "action", "outcome", "since", "until", MARKER):
        response = client.get("/api/v1/audit/events/", {name: MARKER})
        assert MARKER not in response.content.decode(), name


def _project_form_classes() -> list[type[forms.Form]]:
    found: dict[str, type[forms.Form]] = {}
    for package in ("access", "audit", "cases"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".migrations" in info.name or ".management" in info.name:
                continue
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(cls, forms.BaseForm)
                    and cls.__module__.startswith(package)
                    and not getattr(cls, "_meta", None)
                ):
                    found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


def test_form_errors_never_contain_the_submitted_value(supervisor):
    """Every form of the web app, every field given a marker: the form may show the
    typed value back in its input (so nothing is lost), but no error message quotes it."""
    classes = _project_form_classes()
    assert len(classes) >= 10, [c.__name__ for c in classes]
    case = open_case(supervisor)
    needs = {"clinical": True, "case": case, "last_assignment": True, "services": []}
    for cls in classes:
        parameters = inspect.signature(cls).parameters
        kwargs = {name: value for name, value in needs.items() if name in parameters}
        names = list(cls(**kwargs).fields)
        for value in (MARKER, f"{MARKER}\n" * 30, "x" * 300 + MARKER):
            form = cls(data={name: value for name in names}, **kwargs)
            form.is_valid()
            errors = form.errors.as_json()
            assert MARKER not in errors, (cls.__name__, errors[:500])
