"""Demo data: teams, one user per role, a few dozen clearly fictional cases.

Every name is from a fixed list of obviously invented names with family name
"Example-…", so nobody can mistake demo data for a real person. Safe to run twice.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from tqdm import tqdm

from access.models import User
from access.roles import Role
from access.services import grant_assign, staff_add
from carers.models import TrainingCompletion, training_standing
from carers.training import training_complete
from cases.models import (
    Case,
    EncounterKind,
    Organisation,
    RiskLevel,
    Service,
    ServiceStatus,
    ServiceType,
    TraffickingType,
)
from cases.services import (
    case_open,
    consent_record,
    encounter_record,
    goal_add,
    organisation_add,
    service_add,
    task_add,
)

DEMO_PASSWORD = "haven-demo-2026"  # noqa: S105  (demo mode only; printed on start)
DEMO_STAFF = [
    ("caseworker", Role.CASEWORKER, "north"),
    ("clinician", Role.CLINICIAN, "north"),
    ("supervisor", Role.SUPERVISOR, "north"),
    ("caseworker2", Role.CASEWORKER, "south"),
    ("dpo", Role.DPO, None),
    ("admin", Role.ADMIN, None),
]
GIVEN = ["Ana", "Bea", "Chidi", "Dara", "Eli", "Fen", "Gia", "Hana", "Ivo", "Jun", "Kai", "Lena"]
NOTES = [
    "Settled into the shelter. Sleeping better. Asked about language classes.",
    "Accompanied to GP registration. Next step: dental appointment.",
    "Discussed options for legal advice; wants time to think.",
    "Phone check-in. Feels safe. Follow up next week as agreed.",
    "Counselling session held with interpreter. Agreed a plan for the week.",
]
GOALS = [
    "Feel safe where I sleep.",
    "Get my documents back.",
    "Learn enough of the language to shop alone.",
    "See a doctor about my back pain.",
]
TASKS = [
    "Book the interpreter for next week's session.",
    "Call the legal aid office about the hearing date.",
    "Check the shelter place is confirmed.",
]
CASES = 36
DEMO_ORGANISATIONS = [
    ("Riverside Clinic (demo)", "riverside-demo"),
    ("Harbour Legal Aid (demo)", "harbour-legal-demo"),
]


class Command(BaseCommand):
    help = "Load demo teams, users (one per role) and synthetic cases. Safe to run twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-outside-demo",
            action="store_true",
            help="seed even though HAVEN_DEMO is off (tests, staging); never in production",
        )
        parser.add_argument("--cases", type=int, default=CASES)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.HAVEN_DEMO and not options["allow_outside_demo"]:
            raise CommandError(_("seed_demo only runs with HAVEN_DEMO=1 (it creates demo logins)"))
        staff = {
            name: staff_add(username=name, role=role, team_slug=team, password=DEMO_PASSWORD)[0]
            for name, role, team in DEMO_STAFF
        }
        self.stdout.write(f"staff: {', '.join(staff)}")
        for name, slug in DEMO_ORGANISATIONS:
            if not Organisation.objects.filter(slug=slug).exists():
                organisation_add(
                    actor=staff["supervisor"],
                    name=name,
                    slug=slug,
                    languages=["English"],
                    services=["demo"],
                )
        self._training(staff)
        demo_authors = [staff["caseworker"], staff["supervisor"], staff["caseworker2"]]
        if Case.objects.filter(created_by__in=demo_authors).exists():
            self.stdout.write("demo cases already present; nothing to add")
            return
        rng = random.Random(2026)  # noqa: S311  (fictional data, not security)
        for i in tqdm(range(options["cases"]), desc="demo cases", unit="case"):
            self._case(rng, i, staff)
        self.stdout.write(self.style.SUCCESS(f"added {options['cases']} demo cases"))

    def _training(self, staff: dict[str, User]) -> None:
        """Completions for the demo staff, 100 days ago, except one left due, so that the
        training page shows both (AS8-7)."""
        if TrainingCompletion.objects.filter(user__in=staff.values()).exists():
            return
        done_on = timezone.localdate() - dt.timedelta(days=100)
        for person in staff.values():
            for standing in training_standing(person):
                if (person.username, standing.training.slug) == (
                    "caseworker2",
                    "trauma-informed-care",
                ):
                    continue
                training_complete(
                    actor=staff["admin"],
                    username=person.username,
                    slug=standing.training.slug,
                    completed_on=done_on,
                )

    @transaction.atomic
    def _case(self, rng: random.Random, i: int, staff: dict[str, User]) -> None:
        owner = staff["caseworker2"] if i % 6 == 5 else staff["caseworker"]
        declined = ["date_of_birth"] if i % 7 == 3 else []
        identity: dict[str, Any] = {}
        if i % 9 != 4:  # some survivors give no name at all (AS9-COL-4)
            identity = {
                "given_name": GIVEN[i % len(GIVEN)],
                "family_name": f"Example-{i:03d}",
                "phone": f"+44 7700 900{i:03d}",
                "languages": rng.sample(["English", "Romanian", "Tigrinya", "Vietnamese"], 2),
            }
            if i % 8 == 1:  # a name with diacritics and the same name in other scripts
                identity["given_name"] = "Thị Hoa"
                identity["family_name"] = f"Nguyễn Example-{i:03d}"
                identity["script_names"] = ["阮氏花", "Нгуен Тхи Хоа"]
            if not declined:
                identity["date_of_birth"] = dt.date(1980 + i % 20, 1 + i % 12, 1 + i % 28)
        case = case_open(
            actor=owner,
            identity=identity,
            declined=declined,
            risk_level=rng.choice(RiskLevel.values),
            trafficking_types=rng.sample(TraffickingType.values, rng.randint(1, 2)),
            summary="Demo case: fictional person, for trying Haven out.",
            referral_source=rng.choice(["Outreach team", "Helpline", "Police referral"]),
            storage_consent={
                "method": rng.choice(["written", "verbal"]),
                "interpreter_used": rng.random() < 0.4,
            },
        )
        if i % 3 == 0:  # some survivors agreed to a referral to the demo clinic
            consent_record(
                actor=owner,
                case=case,
                scope="referral",
                recipient_slug="riverside-demo",
                purpose="Continuing medical care",
                method="written",
                given_at=timezone.now() - dt.timedelta(days=2),
            )
        if owner.team_id == staff["clinician"].team_id:
            grant_assign(case=case, user=staff["clinician"], granted_by=staff["supervisor"])
        now = timezone.now()
        for n in range(rng.randint(1, 5)):
            medical = n == 1 and owner.team_id == staff["clinician"].team_id
            encounter_record(
                actor=staff["clinician"] if medical else owner,
                case=case,
                occurred_at=now - dt.timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 8)),
                kind=EncounterKind.MEDICAL if medical else rng.choice(EncounterKind.values),
                notes=rng.choice(NOTES),
                location=rng.choice(["Shelter", "Clinic", "Office", "Phone"]),
                interpreter_used=rng.random() < 0.4,
                services_provided=rng.sample(Service.values, 2),
                follow_up_date=(now + dt.timedelta(days=rng.randint(-10, 30))).date(),
                clinical={"conditions": [{"display": "Demo: insomnia"}]} if medical else None,
            )
        self._care_work(rng, i, case, owner)

    def _care_work(self, rng: random.Random, i: int, case: Case, owner: User) -> None:
        """A plan agreed with the person, services and tasks, some of them due soon, so
        that My day has something to show."""
        today = timezone.localdate()
        for goal in rng.sample(GOALS, rng.randint(1, 2)):
            goal_add(
                actor=owner,
                case=case,
                goal=goal,
                agreed_on=today - dt.timedelta(days=rng.randint(5, 60)),
                review_on=today + dt.timedelta(days=rng.randint(-3, 20)),
            )
        for kind in rng.sample([ServiceType.SHELTER, ServiceType.MEDICAL, ServiceType.LEGAL], 2):
            service_add(
                actor=owner,
                case=case,
                type=kind,
                status=rng.choice([ServiceStatus.NEEDED, ServiceStatus.IN_PROGRESS]),
                provider="riverside-demo" if kind == ServiceType.MEDICAL else None,
                due_on=today + dt.timedelta(days=rng.randint(-2, 25)),
            )
        if i % 2 == 0:
            task_add(
                actor=owner,
                case=case,
                title=rng.choice(TASKS),
                due_on=today + dt.timedelta(days=rng.randint(-2, 10)),
                assigned_to=owner.username,
            )
