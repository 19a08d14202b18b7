"""Benchmark-only: the cipher used by the popular Django encrypted-field packages
(django-fernet-fields, django-encrypted-model-fields), so ``python -m bench cipher``
can compare like with like. Never imported by the application."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet


class FernetTextCodec:
    """What those packages do per value: Fernet (AES-128-CBC + HMAC-SHA256, base64) with
    one key derived from a secret, cached on the field."""

    def __init__(self, secret: bytes) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(secret).digest())
        self._fernet = Fernet(key)

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        return self._fernet.decrypt(token).decode("utf-8")
