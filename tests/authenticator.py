"""A software passkey authenticator for tests, written from the WebAuthn Level 2
specification (W3C), not from Haven: it answers the server's options as a browser and a
platform authenticator would (an ES256 key pair, "none" attestation, the
``PublicKeyCredential`` JSON of the browser), so the server's checks (challenge, origin,
relying party id, signature, counter) are exercised exactly as in real use, and a test
can break any one of them on purpose: another origin, another site's id, another key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Passkey:
    """One credential: its id, private key, the site it was made for and its counter."""

    rp_id: str
    user_handle: bytes
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    counter: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


def create(
    options: dict[str, Any], *, origin: str, rp_id: str | None = None
) -> tuple[Passkey, dict[str, Any]]:
    """``navigator.credentials.create()``: a new passkey for the options' site (or, to
    test a refusal, for ``rp_id``), and the JSON the browser would post."""
    rp = rp_id or options["rp"]["id"]
    passkey = Passkey(rp_id=rp, user_handle=unb64url(options["user"]["id"]))
    client_data = _client_data("webauthn.create", options["challenge"], origin)
    attested = (
        bytes(16)  # AAGUID: none
        + struct.pack(">H", len(passkey.credential_id))
        + passkey.credential_id
        + passkey.cose_public_key()
    )
    auth_data = (
        hashlib.sha256(rp.encode()).digest()
        + bytes([FLAG_UP | FLAG_UV | FLAG_AT])
        + struct.pack(">I", passkey.counter)
        + attested
    )
    attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
    return passkey, {
        "id": b64url(passkey.credential_id),
        "rawId": b64url(passkey.credential_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64url(client_data),
            "attestationObject": b64url(attestation),
            "transports": ["internal"],
        },
        "clientExtensionResults": {},
        "authenticatorAttachment": "platform",
    }


def get(
    passkey: Passkey, options: dict[str, Any], *, origin: str, rp_id: str | None = None
) -> dict[str, Any]:
    """``navigator.credentials.get()`` with ``passkey``: the signed assertion."""
    passkey.counter += 1
    client_data = _client_data("webauthn.get", options["challenge"], origin)
    auth_data = (
        hashlib.sha256((rp_id or passkey.rp_id).encode()).digest()
        + bytes([FLAG_UP | FLAG_UV])
        + struct.pack(">I", passkey.counter)
    )
    signature = passkey.key.sign(
        auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
    )
    return {
        "id": b64url(passkey.credential_id),
        "rawId": b64url(passkey.credential_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
            "userHandle": b64url(passkey.user_handle),
        },
        "clientExtensionResults": {},
        "authenticatorAttachment": "platform",
    }
