"""Factories for staff and teams, and a helper that opens cases through the service
layer (the only way case data should ever be created)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from django.utils import timezone

from access.models import ConfidentialityAcceptance, ConfidentialityRules, Team, User
from access.roles import Role
from cases.models import Case, Encounter
from cases.services import case_open, encounter_record

PASSWORD = "correct-horse-battery-staple"

# Marker strings: if one of these ever shows up in a raw column, a log, an audit row or
# a page that should not have it, a test fails.
MARKERS = {
    "given_name": "Zelphira",
    "family_name": "Quarnstrom",
    "phone": "+44 7700 900555",
    "summary": "MARKER-SUMMARY-7731",
    "notes": "MARKER-NOTES-4410",
    "location": "MARKER-LOCATION-9921",
    "condition": "MARKER-CONDITION-5531",
}


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    role = Role.CASEWORKER
    team = factory.SubFactory(TeamFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        if create:
            obj.save()

    @factory.post_generation
    def accepted_rules(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        """Staff accept the current confidentiality rules unless told otherwise."""
        if create and extracted is not False:
            current = ConfidentialityRules.objects.order_by("-version").first()
            if current is not None:
                ConfidentialityAcceptance.objects.get_or_create(user=obj, rules=current)


def open_case(actor: User, **overrides: Any) -> Case:
    fields: dict[str, Any] = {
        "identity": {
            "given_name": MARKERS["given_name"],
            "family_name": MARKERS["family_name"],
            "phone": MARKERS["phone"],
            "date_of_birth": dt.date(1990, 5, 17),
        },
        "declined": [],
        "risk_level": "high",
        "trafficking_types": ["labour"],
        "summary": MARKERS["summary"],
    }
    fields.update(overrides)
    return case_open(actor=actor, **fields)


def add_encounter(actor: User, case: Case, **overrides: Any) -> Encounter:
    fields: dict[str, Any] = {
        "occurred_at": timezone.now() - dt.timedelta(hours=2),
        "kind": "follow_up",
        "notes": MARKERS["notes"],
        "location": MARKERS["location"],
    }
    fields.update(overrides)
    return encounter_record(actor=actor, case=case, **fields)
