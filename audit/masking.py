"""django-auditlog's mask for encrypted fields: a constant, never a partial value (the
library's default shows half of the plaintext)."""

from __future__ import annotations

ENCRYPTED = "[encrypted]"


def constant_mask(value: str) -> str:
    return ENCRYPTED
