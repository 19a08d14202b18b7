"""Which models the change log (django-auditlog) follows, and how.

Every encrypted field is masked by a constant; wrapped keys are never logged; nothing is
serialised whole. ``object_repr`` is ``str(obj)``, which for case models is an id.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.db import models

from access.crypto.fields import EncryptedField


class AuditBypassRefused(Exception):
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


def register_case_models() -> None:
    from auditlog.registry import auditlog

    from cases.models import Case, Consent, Encounter, Identity

    for model in (Identity, Case, Encounter, Consent):
        encrypted = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        auditlog.register(model, mask_fields=encrypted, mask_callable="audit.masking.constant_mask")
