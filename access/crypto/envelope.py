"""The one ciphertext format Haven writes, for wrapped keys and field values alike.

``version(1) ‖ len(key id)(1) ‖ key id ‖ nonce(12) ‖ ciphertext ‖ tag(16)``

The key id selects the key: a reader never tries keys in turn. The associated data
(AAD) binds the value to its place, so bytes copied elsewhere fail to decrypt.
"""

from __future__ import annotations

import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from access.crypto.errors import DecryptionFailed

FORMAT_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def seal(aead: AESGCM, key_id: str, plaintext: bytes, aad: bytes) -> bytes:
    encoded_id = key_id.encode("ascii")
    nonce = os.urandom(NONCE_BYTES)
    header = bytes((FORMAT_VERSION, len(encoded_id))) + encoded_id
    return header + nonce + aead.encrypt(nonce, plaintext, header + aad)


def key_id_of(blob: bytes) -> str:
    """Read the key id from a ciphertext without decrypting it."""
    if len(blob) < 2 or blob[0] != FORMAT_VERSION:
        raise DecryptionFailed("unsupported ciphertext format")
    id_len = blob[1]
    if len(blob) < 2 + id_len + NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed("truncated ciphertext")
    try:
        return blob[2 : 2 + id_len].decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecryptionFailed("malformed key id") from exc


def open_sealed(aead: AESGCM, blob: bytes, aad: bytes) -> bytes:
    key_id_of(blob)  # validates version and length
    header_len = 2 + blob[1]
    header = blob[:header_len]
    nonce = blob[header_len : header_len + NONCE_BYTES]
    try:
        return aead.decrypt(nonce, blob[header_len + NONCE_BYTES :], header + aad)
    except InvalidTag as exc:
        raise DecryptionFailed("ciphertext does not authenticate in this place") from exc


# ISO/IEC 7816-4 padding to 16-byte blocks, so the ciphertext length does not give
# away the exact length of a short value such as a name.
_PAD_BLOCK = 16


def pad(data: bytes) -> bytes:
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % _PAD_BLOCK)


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise DecryptionFailed("bad padding")
    return stripped[:-1]
