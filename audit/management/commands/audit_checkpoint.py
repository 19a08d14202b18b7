from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audit import chain
from audit.services import event_record


class Command(BaseCommand):
    help = "Print a signed checkpoint of the audit chain head; store it off this server."

    def handle(self, *args: Any, **options: Any) -> None:
        token = chain.checkpoint()
        event_record(actor=None, action="audit.checkpoint")
        self.stdout.write(token)
