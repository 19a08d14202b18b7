from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from access.models import User
from access.services import token_issue


class Command(BaseCommand):
    help = "Issue an API bearer token for a staff member; prints only the token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=settings.HAVEN_TOKEN_DEFAULT_DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["username"], is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(_("no active staff member with that username")) from exc
        try:
            token = token_issue(user=user, days=options["days"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(token)
