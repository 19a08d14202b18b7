"""Errors of the key and ciphertext layer. All fail closed: nothing is returned in
place of a value that cannot be decrypted. Messages never contain key material or
plaintext."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from haven.errors import HavenError


class CryptoError(HavenError):
    code = "decryption_failed"
    status = 500
    default_detail = _("The record could not be decrypted.")
    # Where it happened (``app.model.field``), for the security event; never a value.
    place: str = ""


class KeyringUnavailable(CryptoError):
    """The keyring is missing, unreadable or malformed: refuse to work."""

    code = "keyring_unavailable"
    status = 503
    default_detail = _("The keys are not available.")


class UnknownKey(CryptoError):
    """A ciphertext names a key id that is not available (retired, wrong survivor)."""


class DecryptionFailed(CryptoError):
    """Authentication failed: wrong key, wrong place (AAD) or altered bytes."""


# A swapped or corrupted ciphertext: a security event (logged, in the audit log, an
# anomaly for the DPO), not only a failed read.
TAMPERING = (DecryptionFailed, UnknownKey)


class DataKeyDestroyed(CryptoError):
    """The survivor's data key was destroyed (crypto-shredded): nothing can be read."""

    code = "gone"
    status = 410
    default_detail = _("This record was erased.")
