"""The ciphertext format itself: fresh nonces, the format version and the header bound
into the authenticated data. Each test here fails against a mutant that an earlier
mutation run showed the suite did not catch. AS9-STO-2."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from access.crypto import envelope
from access.crypto.errors import DecryptionFailed, UnknownKey

KEY = AESGCM(bytes(range(32)))
AAD = b"haven-field-v1|cases.encounter.notes|0123"


def test_every_seal_draws_a_fresh_nonce():
    """A fixed or repeated nonce under one key breaks AES-GCM entirely (the keystream
    repeats and the authentication key leaks)."""
    blobs = [envelope.seal(KEY, "k1", b"same plaintext", AAD) for _ in range(2000)]
    start = len(envelope.header_for("k1"))
    nonces = {blob[start : start + envelope.NONCE_BYTES] for blob in blobs}
    assert len(nonces) == len(blobs)
    assert len({blob[start + envelope.NONCE_BYTES :] for blob in blobs}) == len(blobs)


def test_a_blob_starts_with_the_format_version_and_its_key_id():
    blob = envelope.seal(KEY, "dek-42", b"x", AAD)
    assert blob[0] == envelope.FORMAT_VERSION == 1
    assert blob[1] == len(b"dek-42") and blob[2:8] == b"dek-42"
    assert envelope.key_id_of(blob) == "dek-42"


def test_a_blob_relabelled_as_the_other_format_does_not_open():
    """Format 1 and format 2 name different keys for the same key id; the version byte
    is authenticated, so a value cannot be passed off as the other format. AS9-STO-2."""
    blob = bytearray(envelope.seal(KEY, "k1", b"secret", AAD))
    blob[0] = envelope.FIELD_VERSION
    assert envelope.key_id_of(bytes(blob)) == "k1"
    with pytest.raises((DecryptionFailed, UnknownKey)):
        envelope.open_sealed(KEY, bytes(blob), AAD)
    with pytest.raises(DecryptionFailed):
        envelope.open_with_header(
            KEY, bytes(blob), AAD, envelope.header_for("k1", envelope.FIELD_VERSION)
        )


@pytest.mark.parametrize("version", [0, 3, 255])
def test_a_blob_of_another_format_version_is_refused(version):
    blob = bytearray(envelope.seal(KEY, "k1", b"secret", AAD))
    blob[0] = version
    with pytest.raises(DecryptionFailed):
        envelope.key_id_of(bytes(blob))
    with pytest.raises((DecryptionFailed, UnknownKey)):
        envelope.open_sealed(KEY, bytes(blob), AAD)
    with pytest.raises((DecryptionFailed, UnknownKey)):
        envelope.open_with_header(KEY, bytes(blob), AAD, envelope.header_for("k1"))


def test_the_header_is_part_of_the_authenticated_data():
    """A value sealed with only the place as associated data (the header left out of
    it) must not open: otherwise the version and key id could be rewritten undetected."""
    header = envelope.header_for("k1")
    nonce = os.urandom(envelope.NONCE_BYTES)
    without_header = header + nonce + KEY.encrypt(nonce, b"secret", AAD)
    with pytest.raises(DecryptionFailed):
        envelope.open_sealed(KEY, without_header, AAD)
    with pytest.raises(DecryptionFailed):
        envelope.open_with_header(KEY, without_header, AAD, header)
    proper = envelope.seal(KEY, "k1", b"secret", AAD)
    assert envelope.open_sealed(KEY, proper, AAD) == b"secret"


def test_a_blob_cannot_be_relabelled_to_another_key_id_of_the_same_length():
    blob = bytearray(envelope.seal(KEY, "k1", b"secret", AAD))
    blob[2:4] = b"k2"
    with pytest.raises(DecryptionFailed):
        envelope.open_sealed(KEY, bytes(blob), AAD)


def test_padding_hides_the_exact_length_and_round_trips():
    for n in range(0, 50):
        data = b"a" * n
        padded = envelope.pad(data)
        assert len(padded) % 16 == 0 and len(padded) > n
        assert envelope.unpad(padded) == data
    with pytest.raises(DecryptionFailed):
        envelope.unpad(b"no marker here\x00\x00")
