from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from access.roles import Role
from access.services import staff_add


class Command(BaseCommand):
    help = "Create or update a staff account (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--team", help="team slug; created if new")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (never from the command line)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError(_("no password on standard input"))
        try:
            user, created = staff_add(
                username=options["username"],
                role=options["role"],
                team_slug=options["team"],
                password=password,
            )
        except (ValueError, ValidationError) as exc:
            raise CommandError(str(exc)) from exc
        verb = "created" if created else "updated"
        self.stdout.write(f"{verb} {user.username} ({user.role})")
