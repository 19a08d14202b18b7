from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cases.management.commands.seed_demo import DEMO_PASSWORD, DEMO_STAFF


class Command(BaseCommand):
    help = "Print how to log in to the demo."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="the port Haven serves on")

    def handle(self, *args: Any, **options: Any) -> None:
        lines = [
            "",
            f"Haven demo: http://127.0.0.1:{options['port']}/",
            f"Log in with any of these users, password {DEMO_PASSWORD!r}:",
            *(
                f"  {name:<12} {role.label:<24} {f'team {team}' if team else 'no team'}"
                for name, role, team in DEMO_STAFF
            ),
            "Caseworkers and the supervisor see their own team's cases; the DPO sees the",
            "access log, never case content; the administrator manages staff.",
            "All data is fictional. Stop with Ctrl-C.",
            "",
        ]
        self.stdout.write("\n".join(lines))
