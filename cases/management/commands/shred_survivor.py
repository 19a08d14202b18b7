from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cases.models import Case
from cases.services import LegalHold, survivor_erase
from haven.references import normalise


class Command(BaseCommand):
    help = (
        "Erase one survivor now: destroy their data key (their records become unreadable "
        "everywhere, backups included), delete their records and blind indexes, and leave a "
        "content-free tombstone. Irreversible; refused while the case is on legal hold. "
        "The usual way is an erasure request approved by a DPO."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference")
        parser.add_argument("--confirm", required=True, help="type the reference again to confirm")

    def handle(self, *args: Any, **options: Any) -> None:
        reference = normalise(options["reference"])
        if reference is None or normalise(options["confirm"]) != reference:
            raise CommandError(_("the reference is malformed or --confirm does not repeat it"))
        case = Case.objects.select_related("survivor").filter(survivor__reference=reference).first()
        if case is None:
            raise CommandError(_("no case with that reference"))
        try:
            survivor_erase(actor=None, case=case)
        except LegalHold as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(f"erased {reference}: its data key and records no longer exist")
