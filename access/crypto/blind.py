"""Blind indexes: exact search on encrypted identity fields without decrypting them.

``digest = HMAC-SHA256(index key for field, normalised value)``, truncated to the index
key's number of bits. The truncation is deliberate: equal digests are expected among a
few survivors, so a copied database cannot confirm that a given name is present, and
every candidate is re-checked by decrypting (``matches`` below). How many bits suit an
organisation depends on how many survivors it holds (``keys plan-index``). The index
key for each field is derived (HKDF) from an index root key, which is separate from the
KEKs; where the roots live is ``access.keystore``'s business, not this module's.

Only fields with enough distinct values are indexed (names, date of birth, phone);
never a low-cardinality field such as sex or nationality on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INDEXED_FIELDS = ("given_name", "family_name", "date_of_birth", "phone")
MIN_BITS, MAX_BITS = 1, 31
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


@lru_cache(maxsize=256)
def _field_key(root: bytes, field: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"haven-blind-index-v1", info=field.encode()
    ).derive(root)


def check_bits(bits: int) -> int:
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"a blind index keeps {MIN_BITS} to {MAX_BITS} bits")
    return bits


def digest(root: bytes, field: str, normalised: str, *, bits: int) -> int:
    mac = hmac.new(_field_key(root, field), normalised.encode("utf-8"), hashlib.sha256).digest()
    value: int = int.from_bytes(mac[:4], "big") >> (32 - check_bits(bits))
    return value


def matches(field: str, wanted: object, stored: object) -> bool:
    """The re-check after a blind-index hit: compare the decrypted value exactly."""
    a, b = normalise(field, wanted), normalise(field, stored)
    return a is not None and hmac.compare_digest(a.encode(), b.encode() if b else b"")


# --- choosing the truncation -------------------------------------------------------

TARGET_SHARING = 4.0
"""How many other survivors should share a digest: enough that a digest does not point
at one person, few enough that a search decrypts only a handful of candidates."""


@dataclass(frozen=True)
class IndexPlan:
    bits: int
    population: int

    @property
    def digests(self) -> int:
        return int(2**self.bits)

    @property
    def others_per_digest(self) -> float:
        """Expected number of *other* survivors with the same digest as a given one."""
        return max(self.population - 1, 0) / self.digests

    @property
    def alone(self) -> float:
        """Share of survivors whose digest nobody else has (Poisson approximation)."""
        return math.exp(-self.others_per_digest)

    @property
    def candidates_per_search(self) -> float:
        """Identities decrypted to re-check a one-field search for a present person."""
        return 1 + self.others_per_digest


def recommended_bits(population: int, target: float = TARGET_SHARING) -> int:
    """The most bits that still leave about ``target`` others on each digest."""
    if population < 1:
        raise ValueError("the population is at least one survivor")
    ideal = math.floor(math.log2(max(population / target, 1)))
    return min(max(ideal, MIN_BITS), MAX_BITS)
