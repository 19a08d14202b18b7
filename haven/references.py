"""Pseudonymous survivor references such as ``HV-7K4Q-M2XD``.

Seven random symbols from Crockford's base32 (no I, L, O, U: nothing to misread) and a
Luhn mod 32 check symbol, which catches every single mistyped symbol and most swaps of
two neighbours. Random and never derived from identity: a reference says nothing about
the person, nor about how many people are in the system.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_BASE = len(ALPHABET)
PATTERN = re.compile(r"^HV-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _luhn_sum(symbols: str, start_factor: int) -> int:
    total, factor = 0, start_factor
    for ch in reversed(symbols):
        addend = factor * _VALUE[ch]
        total += addend // _BASE + addend % _BASE
        factor = 3 - factor
    return total


def check_symbol(payload: str) -> str:
    return ALPHABET[(_BASE - _luhn_sum(payload, 2) % _BASE) % _BASE]


def new_reference() -> str:
    payload = "".join(secrets.choice(ALPHABET) for _ in range(7))
    body = payload + check_symbol(payload)
    return f"HV-{body[:4]}-{body[4:]}"


def normalise(text: str) -> str | None:
    """Canonical form of a typed reference, or None if it is not a valid one."""
    if len(text) > 32:
        return None
    compact = re.sub(r"[\s-]", "", text.upper()).translate(_CONFUSABLE)
    if compact.startswith("HV"):
        compact = compact[2:]
    if len(compact) != 8 or any(ch not in _VALUE for ch in compact):
        return None
    if _luhn_sum(compact, 1) % _BASE != 0:
        return None
    return f"HV-{compact[:4]}-{compact[4:]}"
