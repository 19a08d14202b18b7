from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from access import ledger


class Command(BaseCommand):
    help = (
        "Print the audit log's tree-head signing key, public half, raw Ed25519 in base64. "
        "Keep it off this server: with it anyone can check signed heads and proofs "
        "(python -m audit_verify)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(ledger.public_key_b64())
