"""The one ciphertext format Haven writes, for wrapped keys and field values alike.

``version(1) ‖ len(key id)(1) ‖ key id ‖ nonce(12) ‖ ciphertext ‖ tag(16)``

Version 1 is a value sealed directly under the named key (wrapped keys), or a field
value under its per-field subkey (written before format 2). Version 2 is a field value
under its data key's one field key (``access.crypto.datakeys``). The version byte is
part of the associated data, so a value cannot be passed off as the other format.

The key id selects the key: a reader never tries keys in turn. The associated data
(AAD) binds the value to its place, so bytes copied elsewhere fail to decrypt.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from access.crypto.errors import DecryptionFailed, UnknownKey

FORMAT_VERSION = 1
FIELD_VERSION = 2
_VERSIONS = frozenset((FORMAT_VERSION, FIELD_VERSION))
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@lru_cache(maxsize=256)
def header_for(key_id: str, version: int = FORMAT_VERSION) -> bytes:
    encoded_id = key_id.encode("ascii")
    return bytes((version, len(encoded_id))) + encoded_id


def seal(aead: AESGCM, key_id: str, plaintext: bytes, aad: bytes) -> bytes:
    return seal_with_header(aead, header_for(key_id), plaintext, aad)


def seal_with_header(aead: AESGCM, header: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + aead.encrypt(nonce, plaintext, header + aad)


def key_id_of(blob: bytes) -> str:
    """Read the key id from a ciphertext without decrypting it."""
    if len(blob) < 2 or blob[0] not in _VERSIONS:
        raise DecryptionFailed("unsupported ciphertext format")
    id_len = blob[1]
    if len(blob) < 2 + id_len + NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed("truncated ciphertext")
    try:
        return blob[2 : 2 + id_len].decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecryptionFailed("malformed key id") from exc


def open_sealed(aead: AESGCM, blob: bytes, aad: bytes, *, key_id: str | None = None) -> bytes:
    """Decrypt; with ``key_id``, first refuse a blob written under another key."""
    if key_id is None:
        return open_with_header(aead, blob, aad, header_for(key_id_of(blob)))
    return open_with_header(aead, blob, aad, header_for(key_id))


def open_with_header(aead: AESGCM, blob: bytes, aad: bytes, header: bytes) -> bytes:
    """Decrypt a blob that must carry exactly ``header`` (format version and key id).
    The hot path of every read: one comparison, one decryption."""
    start = len(header)
    if blob[:start] != header or len(blob) < start + NONCE_BYTES + TAG_BYTES:
        key_id_of(blob)  # raises DecryptionFailed if the blob is malformed
        raise UnknownKey("value was written under another key")
    try:
        return aead.decrypt(
            blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :], header + aad
        )
    except InvalidTag as exc:
        raise DecryptionFailed("ciphertext does not authenticate in this place") from exc


# ISO/IEC 7816-4 padding to 16-byte blocks, so the ciphertext length does not give
# away the exact length of a short value such as a name.
_PAD_BLOCK = 16


_PADS = [b"\x80" + b"\x00" * (n - 1) for n in range(_PAD_BLOCK + 1)]


def pad(data: bytes) -> bytes:
    return data + _PADS[_PAD_BLOCK - len(data) % _PAD_BLOCK]


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise DecryptionFailed("bad padding")
    return stripped[:-1]
