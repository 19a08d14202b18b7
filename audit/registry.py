"""Which models the change log (django-auditlog) follows, and how.

Every encrypted field is masked by a constant; wrapped keys are never logged; nothing is
serialised whole. ``object_repr`` is ``str(obj)``, which for case models is an id.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from auditlog.registry import auditlog
from django.db import models

from access.crypto.fields import EncryptedField
from haven.errors import ServerRefusal


class AuditBypassRefused(ServerRefusal):
    """A bulk write would skip the change log: refused."""


_M = TypeVar("_M", bound=models.Model)


class AuditedQuerySet(models.QuerySet[_M]):
    """Bulk writes bypass model signals and so the change log: refused on audited
    models. Write through services (``save()``), which the change log sees."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditBypassRefused("bulk update() skips the change log; save() each record")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditBypassRefused("bulk_update() skips the change log; save() each record")

    def bulk_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditBypassRefused("bulk_create() skips the change log; save() each record")

    def bulk_create_unlogged(self, objs: list[_M], **kwargs: Any) -> list[_M]:
        """For benchmarks and data migrations only, deliberately named."""
        return super().bulk_create(objs, **kwargs)


def follow(*models: type[models.Model]) -> None:
    """Have the change log follow these models, every encrypted field masked by a
    constant. Each app names its own models (from ``AppConfig.ready``)."""
    for model in models:
        encrypted = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        auditlog.register(model, mask_fields=encrypted, mask_callable="audit.masking.constant_mask")
