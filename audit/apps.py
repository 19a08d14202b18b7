from __future__ import annotations

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from audit import partitions


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import signals

        signals.connect_change_log()
        post_migrate.connect(_partitions_ahead, sender=self, dispatch_uid="haven-partitions")


def _partitions_ahead(using: str = "default", **kwargs: object) -> None:
    """Every ``migrate`` makes the access events' partitions twelve months ahead."""
    partitions.ensure(connection=connections[using])
