"""System checks: ``runserver``, ``migrate`` and ``check`` refuse to go on without keys."""

from __future__ import annotations

from typing import Any

from django.core import checks

from access.crypto.errors import KeyringUnavailable
from access.crypto.keyring import get_provider


@checks.register(checks.Tags.security)
def keyring_available(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        get_provider().active_kek_id()
    except KeyringUnavailable as exc:
        return [checks.Critical(str(exc), id="haven.E001")]
    return []
