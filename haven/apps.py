from __future__ import annotations

from django.apps import AppConfig


class HavenConfig(AppConfig):
    name = "haven"
    verbose_name = "Haven"

    def ready(self) -> None:
        from haven.no_echo import scrub_error_messages

        scrub_error_messages()
