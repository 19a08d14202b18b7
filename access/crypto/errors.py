from __future__ import annotations


class CryptoError(Exception):
    """Base class. Messages never contain key material or plaintext."""


class KeyringUnavailable(CryptoError):
    """The keyring is missing, unreadable or malformed: refuse to work."""


class UnknownKey(CryptoError):
    """A ciphertext names a key id that is not available (retired, wrong survivor)."""


class DecryptionFailed(CryptoError):
    """Authentication failed: wrong key, wrong place (AAD) or altered bytes."""


class DataKeyDestroyed(CryptoError):
    """The survivor's data key was destroyed (crypto-shredded): nothing can be read."""
