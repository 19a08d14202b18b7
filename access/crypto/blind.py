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

Next to the exact indexes, ``name_token`` indexes each word of every recorded name
(given, family, aliases and names in other scripts) folded: case, accents and the marks
of Latin, Greek, Cyrillic and Arabic letters are ignored, so "Nguyen Thi" finds
"Nguyễn Thị". The same truncation applies; a survivor has one row per distinct digest.
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
NAME_TOKEN = "name_token"  # noqa: S105  (an index field name, not a secret)
NAME_SOURCES = ("given_name", "family_name", "aliases", "script_names")
"""The identity fields whose words the folded ``name_token`` index holds."""
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


# --- folded name words --------------------------------------------------------------

# Letters that carry their mark inside them (no Unicode decomposition).
_LETTERS = str.maketrans(
    {"đ": "d", "ð": "d", "ø": "o", "ł": "l", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)
_FOLDED_SCRIPTS = (
    (0x0000, 0x024F),  # Latin, with its extensions
    (0x0370, 0x04FF),  # Greek and Cyrillic
    (0x0600, 0x06FF),  # Arabic: short vowels and other marks are optional in writing
    (0x1E00, 0x1FFF),  # Latin Extended Additional (Vietnamese) and Greek Extended
)


def _folds_marks(base: str) -> bool:
    code = ord(base)
    return any(low <= code <= high for low, high in _FOLDED_SCRIPTS)


def fold(text: str) -> str:
    """Case, accents and the optional marks of Latin, Greek, Cyrillic and Arabic removed;
    the marks of scripts where they are letters (Thai vowels, Devanagari) are kept."""
    kept: list[str] = []
    base = ""
    for char in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text)):
        if unicodedata.combining(char) or unicodedata.category(char) == "Mn":
            # a mark on a space or a punctuation sign belongs to no word: dropped, as
            # a line separator and a space must split a name alike
            if base and (_folds_marks(base) or _separator(base)):
                continue
        else:
            base = char
        kept.append(char)
    folded = unicodedata.normalize("NFC", "".join(kept)).casefold()
    return folded.translate(_LETTERS)


def _separator(char: str) -> bool:
    return unicodedata.category(char)[0] in "ZPSC"


def words(text: str) -> list[str]:
    """The folded words of a name, split at spaces, punctuation and symbols."""
    out: list[str] = []
    current: list[str] = []
    for char in fold(text):
        if _separator(char):
            if current:
                out.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        out.append("".join(current))
    return out


def name_tokens(values: object) -> set[str]:
    """Every folded word of the names given (strings or lists of strings)."""
    tokens: set[str] = set()
    items = values if isinstance(values, list | tuple) else [values]
    for value in items:
        if isinstance(value, list | tuple):
            tokens |= name_tokens(value)
        elif value:
            tokens.update(words(str(value)))
    return tokens


def name_matches(wanted: str, stored: set[str]) -> bool:
    """The re-check of a name search: every word searched for is one of the person's."""
    asked = set(words(wanted))
    return bool(asked) and asked <= stored


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
