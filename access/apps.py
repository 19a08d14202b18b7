from __future__ import annotations

from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from access import (
            checks,  # noqa: F401  (registers system checks)
            ledger,
        )

        ledger.start_background()
