from __future__ import annotations

from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit.registry import follow

        follow(*(self.get_model(name) for name in ("Identity", "Case", "Encounter", "Consent")))
