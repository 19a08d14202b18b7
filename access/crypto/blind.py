"""Blind indexes: exact search on encrypted identity fields without decrypting them.

``digest = HMAC-SHA256(index key for field, normalised value)``, truncated to
``HAVEN_BLIND_INDEX_BITS`` bits. The truncation is deliberate: with the default 14 bits,
a population of 100,000 survivors shares each digest among about six people, so a copied
database cannot confirm that a given name is present, and every candidate is re-checked
by decrypting (``matches`` below). The index key for each field is derived (HKDF) from
the keyring's index root key, which is separate from the KEKs.

Only fields with enough distinct values are indexed (names, date of birth, phone);
never a low-cardinality field such as sex or nationality on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from access.crypto.keyring import get_provider

INDEXED_FIELDS = ("given_name", "family_name", "date_of_birth", "phone")
_SPACES = re.compile(r"\s+")
_NOT_DIGIT = re.compile(r"\D")


def normalise(field: str, value: object) -> str | None:
    """The canonical form that equality is judged on; None if nothing is left."""
    if value is None:
        return None
    if field == "date_of_birth":
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            return None
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    if field == "phone":
        text = _NOT_DIGIT.sub("", text)
    else:
        text = _SPACES.sub(" ", text).strip()
    return text or None


@lru_cache(maxsize=64)
def _field_key(root: bytes, field: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"haven-blind-index-v1", info=field.encode()
    ).derive(root)


def bits() -> int:
    value = int(settings.HAVEN_BLIND_INDEX_BITS)
    if not 8 <= value <= 31:
        raise ValueError("HAVEN_BLIND_INDEX_BITS must be between 8 and 31")
    return value


def digest(field: str, normalised: str, *, key_id: str) -> int:
    root = get_provider().index_keys()[key_id]
    mac = hmac.new(_field_key(root, field), normalised.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(mac[:4], "big") >> (32 - bits())


def digests_for(field: str, value: object) -> dict[str, int]:
    """The digest of ``value`` under every index key in the keyring (the active one, and
    during a rebuild the next), so new records are findable before and after the switch."""
    normalised = normalise(field, value)
    if normalised is None:
        return {}
    return {
        key_id: digest(field, normalised, key_id=key_id) for key_id in get_provider().index_keys()
    }


def matches(field: str, wanted: object, stored: object) -> bool:
    """The re-check after a blind-index hit: compare the decrypted value exactly."""
    a, b = normalise(field, wanted), normalise(field, stored)
    return a is not None and hmac.compare_digest(a.encode(), b.encode() if b else b"")
