from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cases.management.commands.seed_demo import DEMO_PASSWORD, DEMO_STAFF


class Command(BaseCommand):
    help = "Print how to log in to the demo."

    def handle(self, *args: Any, **options: Any) -> None:
        lines = [
            "",
            "Haven demo: http://127.0.0.1:8000/",
            f"Log in with any of these users, password {DEMO_PASSWORD!r}:",
            *(f"  {name:<12} {role.label}" for name, role, _ in DEMO_STAFF),
            "All data is fictional. Stop with Ctrl-C.",
            "",
        ]
        self.stdout.write("\n".join(lines))
