"""The audit log's tree-head signing key: Ed25519 (RFC 8032), from a 32-byte seed that
is key material (the keyring file, or wrapped by a KEK: ``access.keystore``)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SEED_BYTES = 32


def public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short id anyone can recompute from the public key: the first 16 hex digits of
    its SHA-256."""
    return hashlib.sha256(public_bytes(public_key)).hexdigest()[:16]


@dataclass(frozen=True)
class TreeHeadSigner:
    key_id: str
    _private: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def from_seed(cls, seed: bytes) -> TreeHeadSigner:
        if len(seed) != SEED_BYTES:
            raise ValueError("an Ed25519 seed is 32 bytes")
        private = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(key_id=key_id_of(private.public_key()), _private=private)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def public_key(self) -> Ed25519PublicKey:
        return self._private.public_key()

    def public_key_b64(self) -> str:
        return base64.b64encode(public_bytes(self.public_key())).decode()
