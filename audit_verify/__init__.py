"""An independent check of Haven's audit log, for someone who does not trust the server.

Uses only the Python standard library and ``cryptography`` (for Ed25519); it imports
nothing from Haven and needs no database. Give it the public key a DPO kept
(``manage.py audit_public_key``), signed tree heads saved from
``GET /api/v1/audit/tree-head/`` and the proofs from ``.../proof/consistency/`` and
``.../proof/inclusion/``; it says whether the later log extends the earlier one
unchanged and whether an event is in the log. ``python -m audit_verify --help``.

The algorithms are the verification algorithms of RFC 9162, sections 2.1.3.2 and
2.1.4.2, written from the RFC (not from Haven's own proof code, so that a fault in one
is not repeated in the other).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEAD_PREFIX = "haven-tree-head:v1"


class VerificationError(Exception):
    """The head, the proof or the key does not check out. The message says which."""


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(leaf: bytes) -> bytes:
    return _sha256(b"\x00" + leaf)


def _children(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def _hex32(value: object, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise VerificationError(f"{what} is not 64 hex characters")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise VerificationError(f"{what} is not hex") from exc


def _size(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise VerificationError(f"{what} is not a whole number")
    return value


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 2.1.3.2: does ``leaf`` (a leaf hash) sit at ``leaf_index`` of the tree
    of ``tree_size`` leaves whose root is ``root``? Raises VerificationError if not."""
    if leaf_index >= tree_size or leaf_index < 0:
        raise VerificationError("the leaf index is outside the tree")
    if len(leaf) != 32 or len(root) != 32 or any(len(p) != 32 for p in proof):
        raise VerificationError("a hash is not 32 bytes")
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = _children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("the inclusion proof is too short")
    if r != root:
        raise VerificationError("the inclusion proof does not lead to the tree head's root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2: is the tree of ``second`` leaves (root ``second_root``) the
    tree of ``first`` leaves (root ``first_root``) with leaves added after it, nothing
    before them changed? Raises VerificationError if not."""
    if first > second:
        raise VerificationError("the earlier head is larger than the later one")
    if first == 0:  # every tree extends the empty one: there is nothing to prove
        raise VerificationError("a consistency proof needs a non-empty earlier tree")
    if first == second:
        if proof:
            raise VerificationError("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise VerificationError("two heads of the same size have different roots")
        return
    if not proof:
        raise VerificationError("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the earlier root is a node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = _children(c, fr)
            sr = _children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _children(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("the consistency proof is too short")
    if fr != first_root:
        raise VerificationError("the proof does not rebuild the earlier head's root")
    if sr != second_root:
        raise VerificationError("the proof does not rebuild the later head's root")


def head_message(head: Mapping[str, Any]) -> bytes:
    """The bytes a tree head's signature covers (ARCHITECTURE.md, Audit log proofs)."""
    size = _size(head.get("size"), "size")
    root = head.get("root_hash")
    _hex32(root, "root_hash")
    timestamp = head.get("timestamp")
    if not isinstance(timestamp, str) or "\n" in timestamp:
        raise VerificationError("timestamp is not a one-line text")
    return f"{HEAD_PREFIX}\n{size}\n{root}\n{timestamp}\n".encode()


def public_key_from(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError("the public key is not base64") from exc
    if len(raw) != 32:
        raise VerificationError("the public key is not 32 bytes (raw Ed25519)")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_tree_head(head: Mapping[str, Any], public_key: Ed25519PublicKey) -> tuple[int, bytes]:
    """Check a signed tree head; returns (size, root)."""
    message = head_message(head)
    try:
        signature = base64.b64decode(str(head.get("signature", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError("the signature is not base64") from exc
    try:
        public_key.verify(signature, message)
    except InvalidSignature as exc:
        raise VerificationError(
            f"the tree head of size {head['size']} is not signed by this key"
        ) from exc
    return int(head["size"]), _hex32(head["root_hash"], "root_hash")


def check_consistency(
    earlier: Mapping[str, Any],
    later: Mapping[str, Any],
    proof: Mapping[str, Any],
    public_key: Ed25519PublicKey,
) -> None:
    """Both heads signed, and the later log extends the earlier one (the API's proof
    body: ``{"first", "second", "proof"}``)."""
    first, first_root = verify_tree_head(earlier, public_key)
    second, second_root = verify_tree_head(later, public_key)
    if (proof.get("first"), proof.get("second")) != (first, second):
        raise VerificationError("the proof is for other tree sizes than these heads")
    hashes = proof.get("proof")
    if not isinstance(hashes, list):
        raise VerificationError("the proof has no list of hashes")
    verify_consistency(
        first,
        second,
        first_root,
        second_root,
        [_hex32(h, "a proof hash") for h in hashes],
    )


def check_inclusion(
    head: Mapping[str, Any],
    proof: Mapping[str, Any],
    public_key: Ed25519PublicKey,
    leaf: bytes | None = None,
) -> int:
    """The head is signed and the proof's leaf is in it; with ``leaf`` (the leaf bytes),
    also that the leaf hash is the hash of exactly those bytes. Returns the leaf index."""
    size, root = verify_tree_head(head, public_key)
    if proof.get("tree_size") != size:
        raise VerificationError("the inclusion proof is for another tree size than the head")
    index = _size(proof.get("leaf_index"), "leaf_index")
    claimed = _hex32(proof.get("leaf_hash"), "leaf_hash")
    if leaf is not None and leaf_hash(leaf) != claimed:
        raise VerificationError("the leaf's bytes do not hash to the proof's leaf_hash")
    hashes = proof.get("audit_path")
    if not isinstance(hashes, list):
        raise VerificationError("the proof has no audit_path")
    verify_inclusion(index, size, claimed, [_hex32(h, "a proof hash") for h in hashes], root)
    return index
