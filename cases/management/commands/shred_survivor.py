from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.models import Case
from cases.services import survivor_shred
from haven.references import normalise


class Command(BaseCommand):
    help = (
        "Crypto-shred one survivor: destroy their data key and blind indexes. Irreversible; "
        "their records become unreadable everywhere, including backups."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference")
        parser.add_argument("--confirm", required=True, help="type the reference again to confirm")

    def handle(self, *args: Any, **options: Any) -> None:
        reference = normalise(options["reference"])
        if reference is None or normalise(options["confirm"]) != reference:
            raise CommandError("the reference is malformed or --confirm does not repeat it")
        case = Case.objects.select_related("survivor").filter(survivor__reference=reference).first()
        if case is None:
            raise CommandError("no case with that reference")
        survivor_shred(case=case)
        self.stdout.write(f"shredded {reference}: its data key no longer exists")
